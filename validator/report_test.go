package validator

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenurehq/tenure/shared/engine"
)

// openReport opens a usage report printed by `tenure report` with the
// device key of the LRF the appliance made.
func openReport(t *testing.T, lrf, text string) *engine.Usage {
	t.Helper()
	req, _, err := engine.OpenRequest([]byte(lrf))
	if err != nil {
		t.Fatal(err)
	}
	u, _, err := engine.OpenUsage([]byte(text), func(string) (string, error) { return req.DeviceKey, nil })
	if err != nil {
		t.Fatalf("the report does not open: %v\n%s", err, text)
	}
	return u
}

func TestUsageReport(t *testing.T) {
	is, cfg, e, lrf := newAppliance(t)
	// Checks in the trial are not counted, nor is a report possible yet.
	cli(t, cfg, e, "", 0, "check", "--limit", "vpn_users", "7")
	r := cli(t, cfg, e, "", 1, "report")
	mustContain(t, "report before a license", r.Stderr, "no license", "tenure install")

	_, sealed := is.license(t, lrf, "IC-1", "2026-01-05", "2027-01-05", "2026-01-05T10:00:00Z", nil)
	cli(t, cfg, e, sealed, 0, "install", "-")
	installedAt := day(t, day1)

	// Day 1: 30 and 70 against a limit of 250 are allowed; 300 is denied;
	// a name outside the catalog and a denied feature check are handled.
	e.now = "2026-02-01T09:00:00Z"
	cli(t, cfg, e, "", 0, "check", "--limit", "vpn_users", "30")
	cli(t, cfg, e, "", 0, "check", "--limit", "vpn_users", "70")
	cli(t, cfg, e, "", 0, "check", "--limit", "vpn_users", "40")
	cli(t, cfg, e, "", 1, "check", "--limit", "vpn_users", "300")
	cli(t, cfg, e, "", 1, "check", "--limit", "no_such_limit", "5")
	cli(t, cfg, e, "", 0, "check", "vpn")
	cli(t, cfg, e, "", 0, "check", "vpn")
	cli(t, cfg, e, "", 1, "check", "peering")
	// Day 2: vpn again, a second day; a huge value is clamped.
	e.now = "2026-02-02T09:00:00Z"
	cli(t, cfg, e, "", 0, "check", "vpn")
	cli(t, cfg, e, "", 1, "check", "--limit", "vpn_users", "9223372036854775807")

	// An LRF carries the running summary without ending the period.
	req, _, err := engine.OpenRequest([]byte(cli(t, cfg, e, "", 0, "request").Stdout))
	if err != nil {
		t.Fatal(err)
	}
	if req.Usage == nil || len(req.Usage.Contracts) != 1 || req.Usage.Contracts[0].Limits["vpn_users"].Allowed != 70 {
		t.Fatalf("the LRF's usage summary is %+v", req.Usage)
	}

	text := cli(t, cfg, e, "", 0, "report").Stdout
	u := openReport(t, lrf, text)
	if !u.Period.From.Equal(installedAt) || !u.Period.Until.Equal(day(t, "2026-02-02T09:00:00Z")) {
		t.Errorf("period %v to %v, want %v to the report's time", u.Period.From, u.Period.Until, installedAt)
	}
	sec := u.Section("IC-1")
	if sec == nil {
		t.Fatalf("no section for IC-1: %+v", u.Contracts)
	}
	if got := sec.Limits["vpn_users"]; got != (engine.Peaks{Allowed: 70, Denied: engine.MaxCount}) {
		t.Errorf("vpn_users peaks %+v, want allowed 70, denied 2^53-1", got)
	}
	if _, ok := sec.Limits["no_such_limit"]; ok {
		t.Error("a limit outside the catalog was counted")
	}
	if sec.Features["vpn"] != 2 || sec.Features["peering"] != 1 {
		t.Errorf("feature days %v, want vpn 2, peering 1", sec.Features)
	}
	if u.History == nil || u.History.Head.N == 0 {
		t.Fatal("the report carries no history")
	}

	// The next period covers only the time since: the counters started
	// again, and it begins where the first ended.
	e.now = "2026-03-01T09:00:00Z"
	cli(t, cfg, e, "", 0, "check", "--limit", "vpn_users", "12")
	u2 := openReport(t, lrf, cli(t, cfg, e, "", 0, "report").Stdout)
	if !u2.Period.From.Equal(u.Period.Until) {
		t.Errorf("the second period starts %v, want %v", u2.Period.From, u.Period.Until)
	}
	if got := u2.Section("IC-1").Limits["vpn_users"]; got != (engine.Peaks{Allowed: 12}) {
		t.Errorf("second period vpn_users %+v, want allowed 12 only", got)
	}
	if _, ok := u2.Section("IC-1").Features["vpn"]; ok {
		t.Error("the second period kept the first one's feature days")
	}
	if u2.Sequence <= u.Sequence || u2.History.Head.N <= u.History.Head.N {
		t.Errorf("the second report does not follow the first: sequence %d after %d, head %d after %d", u2.Sequence, u.Sequence, u2.History.Head.N, u.History.Head.N)
	}
	// Nothing is counted after the license ends (grace).
	e.now = "2027-02-01T09:00:00Z"
	cli(t, cfg, e, "", 0, "check", "--limit", "vpn_users", "99")
	u3 := openReport(t, lrf, cli(t, cfg, e, "", 0, "report").Stdout)
	if len(u3.Contracts) != 0 {
		t.Errorf("grace counted usage: %+v", u3.Contracts)
	}
}

// TestUsageWarm holds the counters of a warm instance to what the command
// module counts, and to the facts record on disk after every change.
func TestUsageWarm(t *testing.T) {
	is, cfg, e, lrf := newAppliance(t)
	_, sealed := is.license(t, lrf, "IC-1", "2026-01-05", "2027-01-05", "2026-01-05T10:00:00Z", nil)
	cli(t, cfg, e, sealed, 0, "install", "-")
	a := New(cfg)
	defer a.Close()
	call := func(want int, args ...string) {
		t.Helper()
		expect(t, a.Run(Request{Args: args, Env: e.vars()}), want, args)
	}
	facts := func() []byte {
		b, err := os.ReadFile(filepath.Join(cfg.Dir, fileFacts))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	call(0, "check", "vpn")
	after := facts()
	for range 50 {
		call(0, "check", "vpn")
		call(0, "check", "--limit", "vpn_users", "5")
	}
	// The first limit check wrote; the rest changed nothing.
	once := facts()
	if string(once) == string(after) {
		t.Fatal("a first limit check did not reach the facts record")
	}
	for range 50 {
		call(0, "check", "vpn")
		call(0, "check", "--limit", "vpn_users", "5")
	}
	if string(facts()) != string(once) {
		t.Fatal("checks that change no counter rewrote the facts record")
	}
	// A raised peak is on disk before the call returns: another process
	// sees it.
	call(0, "check", "--limit", "vpn_users", "80")
	u := openReport(t, lrf, cli(t, cfg, e, "", 0, "report").Stdout)
	if got := u.Section("IC-1").Limits["vpn_users"].Allowed; got != 80 {
		t.Errorf("another process reported %d, want the warm instance's 80", got)
	}
	// The warm instance follows the report: its next count starts afresh.
	call(0, "check", "--limit", "vpn_users", "3")
	u = openReport(t, lrf, cli(t, cfg, e, "", 0, "report").Stdout)
	if got := u.Section("IC-1").Limits["vpn_users"].Allowed; got != 3 {
		t.Errorf("after a report the warm instance counted %d, want 3", got)
	}
}

// TestUsageBounds fills the counters past their bound: the facts record
// stays within its read bound, and nothing fails.
func TestUsageBounds(t *testing.T) {
	is, cfg, e, lrf := newAppliance(t)
	p := *cfg.Product
	p.Tiers = map[string]engine.Tier{}
	p.Features = nil
	limits := map[string]int64{}
	for i := range 64 {
		name := strings.Repeat("x", 60) + string(rune('a'+i/26)) + string(rune('a'+i%26))
		p.Features = append(p.Features, name)
		limits[name] = 10
	}
	p.Tiers["pro"] = engine.Tier{Features: p.Features, Limits: limits}
	cfg.Product = &p
	_, sealed := is.license(t, lrf, "IC-1", "2026-01-05", "2027-01-05", "2026-01-05T10:00:00Z", func(l *engine.License) {
		l.Features, l.Limits = p.Features, limits
	})
	cli(t, cfg, e, sealed, 0, "install", "-")
	for _, f := range p.Features {
		cli(t, cfg, e, "", 0, "check", f)
		cli(t, cfg, e, "", 1, "check", "--limit", f, "9007199254740991")
	}
	fi, err := os.Stat(filepath.Join(cfg.Dir, fileFacts))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > maxFacts {
		t.Fatalf("the facts record is %d bytes, over its bound %d", fi.Size(), maxFacts)
	}
	// The LRF with a full summary and the report stay documents.
	lrf2 := cli(t, cfg, e, "", 0, "request").Stdout
	if req, _, err := engine.OpenRequest([]byte(lrf2)); err != nil || req.Usage == nil {
		t.Fatalf("the LRF with full counters: %v", err)
	}
	u := openReport(t, lrf, cli(t, cfg, e, "", 0, "report").Stdout)
	sec := u.Section("IC-1")
	if n := len(sec.Limits) + len(sec.Features); n != maxUsageEntries {
		t.Errorf("%d names counted, want the bound %d", n, maxUsageEntries)
	}
}

// TestUsageClockReset: a clock reset caps the open period's start at its
// mark; a period that started before the mark keeps its start and its
// counters, and one that started after it (a report made while the clock
// was ahead) starts at the mark.
func TestUsageClockReset(t *testing.T) {
	is, cfg, real, lrf := jumped(t)
	cli(t, cfg, real, is.reset(t, lrf, "2026-03-01T00:05:00Z", nil), 0, "install", "-")
	cli(t, cfg, real, "", 0, "check", "--limit", "vpn_users", "30")
	u := openReport(t, lrf, cli(t, cfg, real, "", 0, "report").Stdout)
	if want := day(t, day1); !u.Period.From.Equal(want) || u.Period.Until.Year() != 2026 {
		t.Errorf("period %v to %v, want from the license %v", u.Period.From, u.Period.Until, want)
	}
	if got := u.Section("IC-1").Limits["vpn_users"].Allowed; got != 30 {
		t.Errorf("vpn_users allowed %d, want 30", got)
	}

	// A report made at 2099 ends the period there; after a reset the next
	// period starts at the mark, not in 2099.
	ahead := env{now: "2099-06-01T00:00:00Z", platform: platformA}
	cli(t, cfg, ahead, "", 0, "report")
	lrf2 := cli(t, cfg, real, "", 0, "request").Stdout
	cli(t, cfg, real, is.reset(t, lrf2, "2026-03-02T00:00:00Z", nil), 0, "install", "-")
	real.now = "2026-03-03T00:00:00Z"
	u = openReport(t, lrf, cli(t, cfg, real, "", 0, "report").Stdout)
	if want := day(t, "2026-03-02T00:00:00Z"); !u.Period.From.Equal(want) {
		t.Errorf("after a report at 2099 and a reset, the period starts %v, want the mark %v", u.Period.From, want)
	}
}
