package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

func testFreeConditions(t *testing.T, s store.Store) {
	create(t, s, "IC-1", 2)
	must(t, "Issue", s.Issue(ctx, issue("IC-1", "A-aaaaaa", "L-aaaaaa1", 1, 0, true)))
	must(t, "Issue", s.Issue(ctx, issue("IC-1", "A-bbbbbb", "L-bbbbbb1", 1, 0, true)))
	create(t, s, "IC-2", 1)
	must(t, "Issue", s.Issue(ctx, issue("IC-2", "A-aaaaaa", "L-2aaaaa1", 1, 0, true)))
	at := t0.Add(24 * time.Hour)
	free := func(licenses ...string) *store.Free {
		return &store.Free{Contract: "IC-1", Appliance: "A-aaaaaa", At: at, Sequence: 2, Licenses: licenses, Until: t0.AddDate(1, 0, 0), Revision: 1,
			Entry: store.Entry{At: at, Contract: "IC-1", Actor: "admin", Action: "reallocation", Outcome: store.Accepted, Status: 200}}
	}
	for what, op := range map[string]*store.Free{
		"Free releasing another appliance's license": free("L-aaaaaa1", "L-bbbbbb1"),
		"Free releasing another contract's license":  free("L-aaaaaa1", "L-2aaaaa1"),
		"Free releasing an unknown license":          free("L-aaaaaa1", "L-nothere"),
	} {
		wantErr(t, what, s.Free(ctx, op), store.ErrConflict)
	}
	if b, _ := s.Binding(ctx, "IC-1", "A-aaaaaa"); b.Released != nil {
		t.Fatalf("a refused Free released the binding: %+v", b)
	}
	if l, _ := s.License(ctx, "L-aaaaaa1"); l.Released != nil {
		t.Fatalf("a refused Free released %s", l.ID)
	}
	if c, _ := s.Contract(ctx, "IC-1"); c.Used != 2 {
		t.Fatalf("refused Frees changed Used to %d", c.Used)
	}
	if f, _ := s.FreedSeats(ctx, "IC-1"); len(f) != 0 {
		t.Fatalf("refused Frees freed seats: %+v", f)
	}
	if l := ledger(t, s, "IC-1"); len(l) != 3 {
		t.Fatalf("refused Frees wrote ledger rows: %+v", l)
	}

	// A license released once keeps its first release time.
	must(t, "Free", s.Free(ctx, free("L-aaaaaa1")))
	must(t, "Issue re-binding", s.Issue(ctx, issue("IC-1", "A-aaaaaa", "L-aaaaaa2", 3, 1, true)))
	again := free("L-aaaaaa1", "L-aaaaaa2")
	again.At, again.Sequence = at.Add(time.Hour), 4
	must(t, "second Free", s.Free(ctx, again))
	l1, _ := s.License(ctx, "L-aaaaaa1")
	l2, _ := s.License(ctx, "L-aaaaaa2")
	if l1.Released == nil || !l1.Released.Equal(at) || l2.Released == nil || !l2.Released.Equal(again.At) {
		t.Fatalf("release times: %s %v, %s %v", l1.ID, l1.Released, l2.ID, l2.Released)
	}
	b, _ := s.Binding(ctx, "IC-1", "A-aaaaaa")
	if !b.Released.Equal(again.At) || b.ReleasedSequence != 4 || !slices.Equal(b.ReleasedLicenses, again.Licenses) || b.Receipt != "" {
		t.Fatalf("binding after the second Free: %+v", b)
	}
	freed, _ := s.FreedSeats(ctx, "IC-1")
	if len(freed) != 2 || freed[0].ID == freed[1].ID || !freed[1].Freed.Equal(again.At) {
		t.Fatalf("FreedSeats = %+v", freed)
	}
	if c, _ := s.Contract(ctx, "IC-1"); c.Used != 1 {
		t.Fatalf("Used = %d", c.Used)
	}
	if _, err := s.Binding(ctx, "IC-2", "A-aaaaaa"); err != nil {
		t.Fatalf("a Free on IC-1 touched IC-2: %v", err)
	}
	if l, _ := s.License(ctx, "L-2aaaaa1"); l.Released != nil {
		t.Fatalf("a Free on IC-1 released IC-2's license")
	}
	ascending(t, ledger(t, s, "IC-1"))
}

func testFreedSeats(t *testing.T, s store.Store) {
	create(t, s, "IC-1", 2)
	must(t, "Issue", s.Issue(ctx, issue("IC-1", "A-aaaaaa", "L-aaaaaa1", 1, 0, true)))
	must(t, "Issue", s.Issue(ctx, issue("IC-1", "A-bbbbbb", "L-bbbbbb1", 1, 0, true)))
	until := t0.AddDate(1, 0, 0)
	for i, a := range []string{"A-aaaaaa", "A-bbbbbb"} {
		at := t0.Add(time.Duration(i+1) * time.Hour)
		must(t, "Free "+a, s.Free(ctx, &store.Free{Contract: "IC-1", Appliance: a, At: at, Sequence: 1, Until: until.Add(time.Duration(i) * 24 * time.Hour), Revision: 1,
			Licenses: []string{"L-" + a[2:] + "1"}, Entry: store.Entry{At: at, Contract: "IC-1", Actor: "admin", Action: "reallocation", Outcome: store.Accepted, Status: 200}}))
	}
	freed, _ := s.FreedSeats(ctx, "IC-1")
	if len(freed) != 2 || freed[0].Appliance != "A-aaaaaa" || freed[1].Appliance != "A-bbbbbb" {
		t.Fatalf("FreedSeats not oldest first: %+v", freed)
	}
	take := issue("IC-1", "A-cccccc", "L-cccccc1", 1, 0, true)
	take.Freed = freed[0].ID
	must(t, "Issue retaking a freed seat", s.Issue(ctx, take))
	again := issue("IC-1", "A-dddddd", "L-dddddd1", 1, 0, true)
	again.Freed = freed[0].ID
	wantErr(t, "Issue retaking a retaken seat", s.Issue(ctx, again), store.ErrConflict)
	left, _ := s.FreedSeats(ctx, "IC-1")
	if len(left) != 1 || left[0].ID != freed[1].ID {
		t.Fatalf("FreedSeats after a retake: %+v", left)
	}
	// A released appliance comes back on a seat of its own.
	back := issue("IC-1", "A-aaaaaa", "L-aaaaaa2", 2, 1, true)
	must(t, "Issue re-binding a released appliance", s.Issue(ctx, back))
	b, _ := s.Binding(ctx, "IC-1", "A-aaaaaa")
	if b.Released != nil || b.Sequence != 2 {
		t.Fatalf("re-bound Binding = %+v", b)
	}
	if c, _ := s.Contract(ctx, "IC-1"); c.Used != 2 {
		t.Fatalf("Used = %d, want 2", c.Used)
	}
	bs, err := s.Bindings(ctx, "IC-1")
	must(t, "Bindings", err)
	if len(bs) != 3 || bs[0].Appliance != "A-aaaaaa" || bs[1].Released == nil || bs[2].Appliance != "A-cccccc" {
		t.Fatalf("Bindings = %+v", bs)
	}
}

// testApplianceBindings: an appliance's bindings are listed across
// contracts, held and released, by contract, and only its own.
func testApplianceBindings(t *testing.T, s store.Store) {
	if bs, err := s.ApplianceBindings(ctx, "A-aaaaaa"); err != nil || len(bs) != 0 {
		t.Fatalf("ApplianceBindings of an unknown appliance = %+v, %v", bs, err)
	}
	for _, c := range []string{"IC-2", "IC-1", "IC-10"} {
		create(t, s, c, 1)
	}
	must(t, "Issue", s.Issue(ctx, issue("IC-2", "A-aaaaaa", "L-2aaaaa1", 1, 0, true)))
	must(t, "Issue", s.Issue(ctx, issue("IC-1", "A-aaaaaa", "L-1aaaaa1", 2, 0, true)))
	must(t, "Issue", s.Issue(ctx, issue("IC-10", "A-aaaaaab", "L-aaaaab1", 1, 0, true)))
	// A refused activation binds nothing, and so indexes nothing.
	wantErr(t, "Issue with no free seat", s.Issue(ctx, issue("IC-1", "A-bbbbbb", "L-bbbbbb1", 1, 0, true)), store.ErrNoSeat)
	// A reissue keeps one binding.
	must(t, "Issue of a bound appliance", s.Issue(ctx, issue("IC-1", "A-aaaaaa", "L-1aaaaa2", 3, 2, false)))
	at := t0.Add(time.Hour)
	must(t, "Free", s.Free(ctx, &store.Free{Contract: "IC-2", Appliance: "A-aaaaaa", At: at, Sequence: 4, Licenses: []string{"L-2aaaaa1"},
		Until: t0.AddDate(1, 0, 0), Revision: 1, Entry: store.Entry{At: at, Contract: "IC-2", Actor: "contract", Action: "release", Outcome: store.Accepted, Status: 200}}))

	bs, err := s.ApplianceBindings(ctx, "A-aaaaaa")
	must(t, "ApplianceBindings", err)
	var got []string
	for _, b := range bs {
		got = append(got, b.Contract)
		if b.Appliance != "A-aaaaaa" || b.DeviceKey != "A-aaaaaa+00000000+key" || b.Platform["machine_id"] != "h-A-aaaaaa" {
			t.Fatalf("ApplianceBindings lists %+v", b)
		}
	}
	if want := []string{"IC-1", "IC-2"}; !slices.Equal(got, want) {
		t.Fatalf("ApplianceBindings(A-aaaaaa) on %v, want %v", got, want)
	}
	if bs[0].Released != nil || bs[0].Sequence != 3 || bs[1].Released == nil || !bs[1].Released.Equal(at) || bs[1].ReleasedSequence != 4 {
		t.Fatalf("ApplianceBindings(A-aaaaaa) = %+v, want IC-1 held at sequence 3, IC-2 released", bs)
	}
	for appliance, want := range map[string][]string{"A-aaaaaab": {"IC-10"}, "A-aaaaa": nil, "A-bbbbbb": nil} {
		bs, err := s.ApplianceBindings(ctx, appliance)
		must(t, "ApplianceBindings", err)
		got = nil
		for _, b := range bs {
			got = append(got, b.Contract)
		}
		if !slices.Equal(got, want) {
			t.Errorf("ApplianceBindings(%s) on %v, want %v", appliance, got, want)
		}
	}
}
