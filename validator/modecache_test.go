package validator

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tenurehq/tenure/shared/engine"
)

// TestModeCache holds the check path's cached mode to engine.ModeAt at every
// instant where a mode may change, a second either side of it, and in
// between, walking time forwards (as a host clock does) and in a random
// order (as status --at and a restored high-water mark may).
func TestModeCache(t *testing.T) {
	base := day(t, "2026-01-05")
	d := func(n int) time.Time { return base.Add(time.Duration(n) * engine.Day) }
	lic := func(id, kind string, from, until time.Time, grace int, features ...string) *engine.License {
		return &engine.License{ID: id, Kind: kind, From: from, Until: until, GraceDays: grace,
			Features: features, Limits: map[string]int64{"vpn_users": int64(10 * len(id))}, Issued: base}
	}
	deny := *edge(t)
	deny.RestrictedFeatures = "deny"
	deny.GraceDays = 45
	tests := []struct {
		name    string
		product *engine.Product
		entries []engine.Entry
	}{
		{"trial only", edge(t), nil},
		{"one license", edge(t), []engine.Entry{
			{ID: "L-1", License: lic("L-1", engine.KindCommercial, d(3), d(368), 90, "scion", "vpn")}}},
		{"renewal back to back and an addon", edge(t), []engine.Entry{
			{ID: "L-1", License: lic("L-1", engine.KindCommercial, d(0), d(100), 90, "vpn")},
			{ID: "L-2", License: lic("L-2", engine.KindCommercial, d(100), d(200), 30, "scion", "vpn")},
			{ID: "L-3", License: lic("L-3", engine.KindAddon, d(50), d(150), 0, "peering")}}},
		{"released, superseded and inactive", edge(t), []engine.Entry{
			{ID: "L-1", License: lic("L-1", engine.KindCommercial, d(10), d(100), 90, "vpn"), Released: true},
			{ID: "L-2", License: &engine.License{ID: "L-2", Kind: engine.KindCommercial, From: d(20), Until: d(80), Supersedes: []string{"L-4"}, Features: []string{"monitoring"}}},
			{ID: "L-4", License: lic("L-4", engine.KindCommercial, d(5), d(300), 10, "vpn")},
			{ID: "L-5", License: lic("L-5", engine.KindCommercial, d(0), d(999), 90, "scion"), Inactive: "bound to another platform"}}},
		{"a pending license released during the trial", edge(t), []engine.Entry{
			{ID: "L-1", License: lic("L-1", engine.KindCommercial, d(10), d(100), 90, "vpn"), Released: true, ReleasedAt: d(1)}}},
		{"pending only, product grace, fail closed", &deny, []engine.Entry{
			{ID: "L-1", License: lic("L-1", engine.KindCommercial, d(40), d(60), 0, "vpn")},
			{ID: "L-2", License: lic("L-2", engine.KindCommercial, d(55), d(70), 0, "scion")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &engine.Input{Product: tt.product, TrialStart: d(-2), Licenses: tt.entries}
			var instants []time.Time
			for _, b := range candidates(in) {
				instants = append(instants, b.Add(-time.Second), b, b.Add(time.Second), b.Add(7*time.Hour))
			}
			slices.SortFunc(instants, time.Time.Compare)
			a := &Appliance{}
			s := &snapshot{}
			walk := func(order string, ts []time.Time) {
				for _, at := range ts {
					got, want := a.modeAt(s, in, at), engine.ModeAt(in, at)
					if got.State != want.State || got.Config != want.Config || !reflect.DeepEqual(got.Features, want.Features) || !reflect.DeepEqual(got.Limits, want.Limits) {
						t.Fatalf("%s, at %s: cached %s %v %v, engine %s %v %v", order, at.Format(engine.TimeFormat),
							got.State, got.Features, got.Limits, want.State, want.Features, want.Limits)
					}
				}
			}
			walk("forwards", instants)
			r := rand.New(rand.NewPCG(1, 2))
			r.Shuffle(len(instants), func(i, j int) { instants[i], instants[j] = instants[j], instants[i] })
			walk("shuffled", instants)
		})
	}
}

// candidates lists every instant the inputs name, for the test to probe
// around: more than engine.ModeSpan needs.
func candidates(in *engine.Input) []time.Time {
	out := []time.Time{in.TrialStart, in.TrialStart.Add(30 * engine.Day)}
	for _, e := range in.Licenses {
		if l := e.License; l != nil {
			out = append(out, l.From, l.Until)
			for _, g := range []int{l.GraceDays, in.Product.GraceDays, 90} {
				out = append(out, l.Until.Add(time.Duration(g)*engine.Day))
			}
		}
	}
	return out
}
