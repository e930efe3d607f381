package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tenurehq/tenure/issuer/internal/store"
	"github.com/tenurehq/tenure/shared/engine"
)

func testIssueAndFree(t *testing.T, s store.Store) {
	create(t, s, "IC-1", 1)
	op := issue("IC-1", "A-aaaaaa", "L-aaaaaa1", 1, 0, true)
	must(t, "Issue", s.Issue(ctx, op))

	c, _ := s.Contract(ctx, "IC-1")
	if c.Used != 1 {
		t.Fatalf("Used = %d after one activation", c.Used)
	}
	b, err := s.Binding(ctx, "IC-1", "A-aaaaaa")
	must(t, "Binding", err)
	if b.DeviceKey != op.Binding.DeviceKey || b.Sequence != 1 || b.Released != nil || b.Platform["machine_id"] != "h-A-aaaaaa" {
		t.Fatalf("Binding = %+v", b)
	}
	_, err = s.Binding(ctx, "IC-1", "A-bbbbbb")
	wantErr(t, "Binding of an unknown appliance", err, store.ErrNotFound)
	l, err := s.License(ctx, "L-aaaaaa1")
	must(t, "License", err)
	if string(l.Sealed) != "sealed L-aaaaaa1" || string(l.Signed) != "signed L-aaaaaa1" || !l.Until.Equal(op.License.Until) {
		t.Fatalf("License = %+v", l)
	}
	_, err = s.License(ctx, "L-none")
	wantErr(t, "License of an unknown id", err, store.ErrNotFound)
	idem, err := s.Idempotent(ctx, "IC-1", "A-aaaaaa-1")
	must(t, "Idempotent", err)
	if idem.License != "L-aaaaaa1" {
		t.Fatalf("Idempotent = %+v", idem)
	}
	_, err = s.Idempotent(ctx, "IC-2", "A-aaaaaa-1")
	wantErr(t, "Idempotent on another contract", err, store.ErrNotFound)

	// A second activation of the same appliance keeps its seat.
	op2 := issue("IC-1", "A-aaaaaa", "L-aaaaaa2", 2, 1, false)
	op2.License.Reason = engine.ReasonReissue
	must(t, "Issue of a bound appliance", s.Issue(ctx, op2))
	if c, _ := s.Contract(ctx, "IC-1"); c.Used != 1 {
		t.Fatalf("Used = %d after a reissue", c.Used)
	}
	lics, err := s.ApplianceLicenses(ctx, "IC-1", "A-aaaaaa")
	must(t, "ApplianceLicenses", err)
	if len(lics) != 2 || lics[0].ID != "L-aaaaaa1" || lics[1].ID != "L-aaaaaa2" {
		t.Fatalf("ApplianceLicenses = %+v", lics)
	}

	// The one seat is taken.
	err = s.Issue(ctx, issue("IC-1", "A-bbbbbb", "L-bbbbbb1", 1, 0, true))
	wantErr(t, "Issue with no free seat", err, store.ErrNoSeat)
	var full *store.NoSeatError
	if !errors.As(err, &full) || full.Used != 1 || full.Appliances != 1 || full.Contract != "IC-1" {
		t.Fatalf("Issue with no free seat: %#v, want a *store.NoSeatError of IC-1 at 1 of 1", err)
	}
	if _, err := s.License(ctx, "L-bbbbbb1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("a refused Issue stored its license")
	}

	at := t0.Add(48 * time.Hour)
	free := &store.Free{Contract: "IC-1", Appliance: "A-aaaaaa", At: at, Sequence: 3, Receipt: "receipt-hash",
		Licenses: []string{"L-aaaaaa1", "L-aaaaaa2"}, Until: op.License.Until, Revision: 1,
		Entry: store.Entry{At: at, Contract: "IC-1", Actor: "contract", Action: "release", Outcome: store.Accepted, Status: 200}}
	must(t, "Free", s.Free(ctx, free))
	err = s.Free(ctx, free)
	wantErr(t, "Free of a free seat", err, store.ErrConflict)
	err = s.Free(ctx, &store.Free{Contract: "IC-1", Appliance: "A-cccccc", At: at})
	wantErr(t, "Free of an unknown appliance", err, store.ErrNotFound)

	b, _ = s.Binding(ctx, "IC-1", "A-aaaaaa")
	if b.Released == nil || !b.Released.Equal(at) || b.ReleasedSequence != 3 || b.Receipt != "receipt-hash" || len(b.ReleasedLicenses) != 2 {
		t.Fatalf("released Binding = %+v", b)
	}
	for _, id := range []string{"L-aaaaaa1", "L-aaaaaa2"} {
		if l, _ := s.License(ctx, id); l.Released == nil || string(l.Sealed) != "sealed "+id {
			t.Fatalf("license %s after Free: %+v", id, l)
		}
	}
	if c, _ := s.Contract(ctx, "IC-1"); c.Used != 0 {
		t.Fatalf("Used = %d after Free", c.Used)
	}
	freed, err := s.FreedSeats(ctx, "IC-1")
	must(t, "FreedSeats", err)
	if len(freed) != 1 || freed[0].Appliance != "A-aaaaaa" || !freed[0].Until.Equal(op.License.Until) || freed[0].ID == "" {
		t.Fatalf("FreedSeats = %+v", freed)
	}

	// The freed seat can be taken by another appliance.
	must(t, "Issue after Free", s.Issue(ctx, issue("IC-1", "A-bbbbbb", "L-bbbbbb1", 1, 0, true)))
	l2 := ledger(t, s, "IC-1")
	var actions []string
	for _, e := range l2 {
		actions = append(actions, e.Action)
	}
	if !slices.Equal(actions, []string{"order", "activation", "activation", "release", "activation"}) {
		t.Fatalf("ledger actions = %v", actions)
	}
	refusal := &store.Entry{At: at, Contract: "IC-1", Actor: "contract", Action: "activation",
		Outcome: store.Refused, Status: 409, Reason: "no free seat", Anomaly: "other device key"}
	must(t, "Append", s.Append(ctx, refusal))
	l3 := ledger(t, s, "IC-1")
	if last := l3[len(l3)-1]; len(l3) != 6 || last.Outcome != store.Refused || last.Anomaly != "other device key" || last.Status != 409 || last.ID != refusal.ID {
		t.Fatalf("appended entry = %+v (Append set ID %q)", l3, refusal.ID)
	}
	ascending(t, l3)
	if op.Entry.ID == "" || op.Entry.ID != l3[1].ID || free.Entry.ID != l3[3].ID {
		t.Fatalf("Issue and Free set entry IDs %q and %q; ledger %+v", op.Entry.ID, free.Entry.ID, l3)
	}
}

func testIssueConditions(t *testing.T, s store.Store) {
	create(t, s, "IC-1", 5)
	must(t, "Issue", s.Issue(ctx, issue("IC-1", "A-aaaaaa", "L-aaaaaa1", 1, 0, true)))

	dup := issue("IC-1", "A-aaaaaa", "L-aaaaaa9", 1, 1, false) // same idempotency key
	wantErr(t, "Issue of an activated request", s.Issue(ctx, dup), store.ErrConflict)

	sameID := issue("IC-1", "A-bbbbbb", "L-aaaaaa1", 1, 0, true)
	wantErr(t, "Issue of an existing license id", s.Issue(ctx, sameID), store.ErrConflict)

	stale := issue("IC-1", "A-aaaaaa", "L-aaaaaa2", 2, 0, false) // read sequence 0, stored 1
	wantErr(t, "Issue with a stale sequence", s.Issue(ctx, stale), store.ErrConflict)

	reseat := issue("IC-1", "A-aaaaaa", "L-aaaaaa3", 3, 1, true) // bound, not released
	wantErr(t, "Issue taking a seat for a bound appliance", s.Issue(ctx, reseat), store.ErrConflict)

	noseat := issue("IC-1", "A-cccccc", "L-cccccc1", 1, 0, false) // not bound
	wantErr(t, "Issue keeping a seat an appliance does not hold", s.Issue(ctx, noseat), store.ErrConflict)

	gone := issue("IC-9", "A-cccccc", "L-cccccc2", 1, 0, true)
	wantErr(t, "Issue on a missing contract", s.Issue(ctx, gone), store.ErrNotFound)

	freed := issue("IC-1", "A-dddddd", "L-dddddd1", 1, 0, true)
	freed.Freed = "no-such-seat"
	wantErr(t, "Issue retaking an unknown freed seat", s.Issue(ctx, freed), store.ErrConflict)

	gone2 := issue("IC-1", "A-eeeeee", "L-eeeeee1", 2, 1, true) // read a binding that is not there
	wantErr(t, "Issue re-binding a binding that is gone", s.Issue(ctx, gone2), store.ErrConflict)

	// One superseded license refused refuses the whole activation.
	must(t, "Issue", s.Issue(ctx, issue("IC-1", "A-ffffff", "L-ffffff1", 1, 0, true)))
	part := issue("IC-1", "A-ffffff", "L-ffffff2", 2, 1, false)
	part.License.Supersedes = []string{"L-ffffff1", "L-nothere"}
	wantErr(t, "Issue superseding a known and an unknown license", s.Issue(ctx, part), store.ErrConflict)
	if l, _ := s.License(ctx, "L-ffffff1"); l.SupersededBy != "" {
		t.Fatalf("a refused Issue superseded %s: %+v", l.ID, l)
	}
	if _, err := s.Idempotent(ctx, "IC-1", "A-ffffff-2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused Issue stored its idempotency record: %v", err)
	}
	if b, _ := s.Binding(ctx, "IC-1", "A-ffffff"); b.Sequence != 1 {
		t.Fatalf("a refused Issue moved the binding to sequence %d", b.Sequence)
	}
	self := issue("IC-1", "A-ffffff", "L-ffffff3", 2, 1, false)
	self.License.Supersedes = []string{"L-ffffff3"}
	wantErr(t, "Issue superseding itself", s.Issue(ctx, self), store.ErrConflict)

	if c, _ := s.Contract(ctx, "IC-1"); c.Used != 2 {
		t.Fatalf("refused Issues changed Used to %d", c.Used)
	}
	if lics, _ := s.ApplianceLicenses(ctx, "IC-1", "A-aaaaaa"); len(lics) != 1 {
		t.Fatalf("refused Issues stored licenses: %+v", lics)
	}
	if lics, _, _ := s.Licenses(ctx, "IC-1", "", 0); len(lics) != 2 {
		t.Fatalf("refused Issues stored licenses: %+v", lics)
	}
	if l := ledger(t, s, "IC-1"); len(l) != 3 {
		t.Fatalf("refused Issues wrote ledger rows: %+v", l)
	}

	// A bound appliance asking for a seat on a full contract is a conflict
	// of its binding, checked before the seats.
	create(t, s, "IC-2", 1)
	must(t, "Issue", s.Issue(ctx, issue("IC-2", "A-aaaaaa", "L-2aaaaa1", 1, 0, true)))
	wantErr(t, "Issue taking a seat for a bound appliance on a full contract",
		s.Issue(ctx, issue("IC-2", "A-aaaaaa", "L-2aaaaa2", 2, 1, true)), store.ErrConflict)
	wantErr(t, "Issue taking the last seat twice",
		s.Issue(ctx, issue("IC-2", "A-bbbbbb", "L-2bbbbb1", 1, 0, true)), store.ErrNoSeat)

	// The store keeps its seat count across contract changes, and checks
	// seats against the latest revision.
	c2, _ := s.Contract(ctx, "IC-2")
	up := *c2
	up.Revision, up.Appliances, up.Change, up.Used = 2, 2, engine.ChangeUpgrade, 0
	must(t, "UpdateContract", s.UpdateContract(ctx, &up, &store.Revision{Contract: "IC-2", Number: 2, Record: up}, &store.Entry{Contract: "IC-2"}))
	if c, _ := s.Contract(ctx, "IC-2"); c.Used != 1 || c.Appliances != 2 {
		t.Fatalf("after raising the seats: %+v", c)
	}
	must(t, "Issue on a raised contract", s.Issue(ctx, issue("IC-2", "A-bbbbbb", "L-2bbbbb1", 1, 0, true)))
	up.Revision, up.Appliances = 3, 1
	must(t, "UpdateContract", s.UpdateContract(ctx, &up, &store.Revision{Contract: "IC-2", Number: 3, Record: up}, &store.Entry{Contract: "IC-2"}))
	if c, _ := s.Contract(ctx, "IC-2"); c.Used != 2 || c.Appliances != 1 {
		t.Fatalf("after lowering the seats: %+v", c)
	}
	wantErr(t, "Issue on a contract lowered below its seats taken",
		s.Issue(ctx, issue("IC-2", "A-cccccc", "L-2cccccc1", 1, 0, true)), store.ErrNoSeat)
}

func testSupersede(t *testing.T, s store.Store) {
	create(t, s, "IC-1", 1)
	must(t, "Issue", s.Issue(ctx, issue("IC-1", "A-aaaaaa", "L-aaaaaa1", 1, 0, true)))
	down := issue("IC-1", "A-aaaaaa", "L-aaaaaa2", 2, 1, false)
	down.License.Reason = engine.ReasonDowngrade
	down.License.Supersedes = []string{"L-aaaaaa1"}
	must(t, "Issue superseding", s.Issue(ctx, down))
	if l, _ := s.License(ctx, "L-aaaaaa1"); l.SupersededBy != "L-aaaaaa2" || string(l.Sealed) != "sealed L-aaaaaa1" {
		t.Fatalf("superseded license = %+v", l)
	}
	twice := issue("IC-1", "A-aaaaaa", "L-aaaaaa3", 3, 2, false)
	twice.License.Supersedes = []string{"L-aaaaaa1"}
	wantErr(t, "Issue superseding a superseded license", s.Issue(ctx, twice), store.ErrConflict)
	unknown := issue("IC-1", "A-aaaaaa", "L-aaaaaa4", 3, 2, false)
	unknown.License.Supersedes = []string{"L-nothere"}
	wantErr(t, "Issue superseding an unknown license", s.Issue(ctx, unknown), store.ErrConflict)
}
