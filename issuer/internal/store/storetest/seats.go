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
