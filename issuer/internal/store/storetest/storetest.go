// Package storetest is the conformance suite every [store.Store] passes. An
// implementation's test calls [Run] with a function that opens an empty
// store:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s, err := bolt.Open(filepath.Join(t.TempDir(), "issuer.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tenurehq/tenure/issuer/internal/store"
	"github.com/tenurehq/tenure/shared/engine"
)

// Run runs every conformance test against stores made by open.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Contracts", testContracts},
		{"IssueAndFree", testIssueAndFree},
		{"IssueConditions", testIssueConditions},
		{"FreedSeats", testFreedSeats},
		{"Supersede", testSupersede},
		{"Pagination", testPagination},
		{"Ordering", testOrdering},
		{"FreeConditions", testFreeConditions},
		{"SeatRace", testSeatRace},
		{"SequenceRace", testSequenceRace},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

var (
	ctx = context.Background()
	t0  = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
)

func contract(id string, seats int) *store.Contract {
	return &store.Contract{ID: id, Customer: "ACME", Product: "edge", Tier: "pro", Kind: "commercial",
		Features: []string{"scion", "vpn"}, Limits: map[string]int64{"vpn_users": 250}, Appliances: seats,
		TermMonths: 12, Change: engine.ChangeOrder, Status: "active", Revision: 1, Ordered: t0, Updated: t0}
}

func create(t *testing.T, s store.Store, id string, seats int) *store.Contract {
	t.Helper()
	c := contract(id, seats)
	err := s.CreateContract(ctx, c, "token-"+id, &store.Revision{Contract: id, Number: 1, At: t0, Record: *c},
		&store.Entry{At: t0, Contract: id, Actor: "admin", Action: "order", Outcome: store.Accepted, Status: 201})
	if err != nil {
		t.Fatalf("CreateContract(%s): %v", id, err)
	}
	return c
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// issue makes an activation of appliance on contract: a new seat when
// seat is true.
func issue(contract, appliance, lid string, seq, prev uint64, seat bool) *store.Issue {
	return &store.Issue{
		License: store.License{ID: lid, Contract: contract, Appliance: appliance, Revision: 1, Reason: engine.ReasonInitial,
			From: engine.Floor(t0), Until: engine.AddMonths(engine.Floor(t0), 12), Issued: t0,
			Signed: []byte("signed " + lid), Sealed: []byte("sealed " + lid)},
		Binding: store.Binding{Contract: contract, Appliance: appliance, DeviceKey: appliance + "+00000000+key",
			Platform: engine.Components{"machine_id": "h-" + appliance}, Bound: t0, Sequence: seq},
		Seat:        seat,
		Sequence:    prev,
		Idempotency: store.Idempotency{Contract: contract, Key: fmt.Sprintf("%s-%d", appliance, seq), License: lid, Appliance: appliance},
		Entry:       store.Entry{At: t0, Contract: contract, Actor: "contract", Action: "activation", Outcome: store.Accepted, Status: 201, Appliance: appliance, License: lid},
	}
}

func ledger(t *testing.T, s store.Store, contract string) []store.Entry {
	t.Helper()
	var all []store.Entry
	cursor := ""
	for {
		page, next, err := s.Ledger(ctx, contract, cursor, 7)
		must(t, "Ledger", err)
		all = append(all, page...)
		if next == "" {
			return all
		}
		cursor = next
	}
}

func testContracts(t *testing.T, s store.Store) {
	_, err := s.Contract(ctx, "IC-1")
	wantErr(t, "Contract of a missing id", err, store.ErrNotFound)
	c := create(t, s, "IC-1", 2)

	again := contract("IC-1", 2)
	err = s.CreateContract(ctx, again, "token-other", &store.Revision{Contract: "IC-1", Number: 1, Record: *again}, &store.Entry{Contract: "IC-1"})
	wantErr(t, "CreateContract of an existing id", err, store.ErrConflict)
	other := contract("IC-2", 1)
	err = s.CreateContract(ctx, other, "token-IC-1", &store.Revision{Contract: "IC-2", Number: 1, Record: *other}, &store.Entry{Contract: "IC-2"})
	wantErr(t, "CreateContract with a token in use", err, store.ErrConflict)
	if _, err := s.Contract(ctx, "IC-2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused CreateContract left a contract behind: %v", err)
	}
	if _, err := s.TokenContract(ctx, "token-other"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused CreateContract left a token behind: %v", err)
	}

	got, err := s.Contract(ctx, "IC-1")
	must(t, "Contract", err)
	if got.Customer != "ACME" || got.Revision != 1 || got.Used != 0 || !got.Ordered.Equal(t0) || got.Limits["vpn_users"] != 250 {
		t.Fatalf("Contract = %+v", got)
	}
	id, err := s.TokenContract(ctx, "token-IC-1")
	if err != nil || id != "IC-1" {
		t.Fatalf("TokenContract = %q, %v", id, err)
	}
	_, err = s.TokenContract(ctx, "token-nobody")
	wantErr(t, "TokenContract of an unknown hash", err, store.ErrNotFound)

	up := *c
	up.Revision, up.Change, up.Tier = 2, engine.ChangeUpgrade, "max"
	up.Used = 99 // the store keeps its own count
	must(t, "UpdateContract", s.UpdateContract(ctx, &up, &store.Revision{Contract: "IC-1", Number: 2, At: t0.Add(time.Hour), Record: up},
		&store.Entry{At: t0, Contract: "IC-1", Actor: "admin", Action: "upgrade", Outcome: store.Accepted, Status: 200}))
	err = s.UpdateContract(ctx, &up, &store.Revision{Contract: "IC-1", Number: 2, Record: up}, &store.Entry{Contract: "IC-1"})
	wantErr(t, "UpdateContract of a stale revision", err, store.ErrConflict)
	missing := contract("IC-9", 1)
	missing.Revision = 2
	err = s.UpdateContract(ctx, missing, &store.Revision{Contract: "IC-9", Number: 2, Record: *missing}, &store.Entry{Contract: "IC-9"})
	wantErr(t, "UpdateContract of a missing contract", err, store.ErrNotFound)

	got, _ = s.Contract(ctx, "IC-1")
	if got.Tier != "max" || got.Revision != 2 || got.Used != 0 {
		t.Fatalf("after update: %+v", got)
	}
	revs, err := s.Revisions(ctx, "IC-1")
	must(t, "Revisions", err)
	if len(revs) != 2 || revs[0].Number != 1 || revs[1].Number != 2 || revs[1].Record.Change != engine.ChangeUpgrade || revs[0].Record.Tier != "pro" {
		t.Fatalf("Revisions = %+v", revs)
	}
	if e := revs[1].Engine(); e.Change != engine.ChangeUpgrade || e.TermMonths != 12 || e.Number != 2 {
		t.Fatalf("Revision.Engine = %+v", e)
	}
	if revs, _ := s.Revisions(ctx, "IC-10"); len(revs) != 0 {
		t.Fatalf("Revisions of IC-10 list IC-1's: %+v", revs)
	}
	l := ledger(t, s, "IC-1")
	if len(l) != 2 || l[0].Action != "order" || l[1].Action != "upgrade" || l[0].ID == "" || l[0].ID == l[1].ID {
		t.Fatalf("ledger = %+v", l)
	}
}

// ascending checks a ledger lists its entries in ID order.
func ascending(t *testing.T, l []store.Entry) {
	t.Helper()
	for i := 1; i < len(l); i++ {
		if l[i-1].ID >= l[i].ID {
			t.Fatalf("ledger not in ID order: %q before %q", l[i-1].ID, l[i].ID)
		}
	}
}

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

// testOrdering: bindings list by appliance whatever the order they came
// in; an appliance's licenses are its own, even when another's id starts
// with its id.
func testOrdering(t *testing.T, s store.Store) {
	create(t, s, "IC-1", 5)
	for i, a := range []string{"A-cccccc", "A-aaaaaab", "A-aaaaaa", "A-bbbbbb"} {
		must(t, "Issue "+a, s.Issue(ctx, issue("IC-1", a, fmt.Sprintf("L-%06d", i), 1, 0, true)))
	}
	bs, err := s.Bindings(ctx, "IC-1")
	must(t, "Bindings", err)
	var got []string
	for _, b := range bs {
		got = append(got, b.Appliance)
	}
	if want := []string{"A-aaaaaa", "A-aaaaaab", "A-bbbbbb", "A-cccccc"}; !slices.Equal(got, want) {
		t.Fatalf("Bindings = %v, want %v", got, want)
	}
	lics, err := s.ApplianceLicenses(ctx, "IC-1", "A-aaaaaa")
	must(t, "ApplianceLicenses", err)
	if len(lics) != 1 || lics[0].ID != "L-000002" {
		t.Fatalf("ApplianceLicenses(A-aaaaaa) = %+v", lics)
	}
	if lics, _ := s.ApplianceLicenses(ctx, "IC-1", "A-zzzzzz"); len(lics) != 0 {
		t.Fatalf("ApplianceLicenses of an unknown appliance = %+v", lics)
	}
	all, next, err := s.Licenses(ctx, "IC-1", "", 0) // 0: a default page
	if err != nil || len(all) != 4 || next != "" || all[0].ID != "L-000000" || all[3].ID != "L-000003" {
		t.Fatalf("Licenses with no limit = %+v, %q, %v", all, next, err)
	}
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

func testPagination(t *testing.T, s store.Store) {
	create(t, s, "IC-1", 30)
	create(t, s, "IC-10", 1) // a prefix of neither must leak into the other
	must(t, "Issue", s.Issue(ctx, issue("IC-10", "A-zzzzzz", "L-zzzzzz1", 1, 0, true)))
	var want []string
	for i := range 23 {
		a := fmt.Sprintf("A-%06d", i)
		lid := fmt.Sprintf("L-%06d", i)
		want = append(want, lid)
		must(t, "Issue "+a, s.Issue(ctx, issue("IC-1", a, lid, 1, 0, true)))
	}
	var got []string
	cursor, pages := "", 0
	for {
		page, next, err := s.Licenses(ctx, "IC-1", cursor, 5)
		must(t, "Licenses", err)
		if len(page) > 5 {
			t.Fatalf("page of %d licenses, limit 5", len(page))
		}
		for _, l := range page {
			got = append(got, l.ID)
		}
		pages++
		if next == "" {
			break
		}
		cursor = next
	}
	if !slices.Equal(got, want) || pages != 5 {
		t.Fatalf("Licenses paged (%d pages) = %v, want %v", pages, got, want)
	}
	if l := ledger(t, s, "IC-1"); len(l) != 24 {
		t.Fatalf("ledger of IC-1 has %d entries, want 24", len(l))
	}
	if l := ledger(t, s, "IC-10"); len(l) != 2 {
		t.Fatalf("ledger of IC-10 has %d entries, want 2", len(l))
	}
	page, next, err := s.Licenses(ctx, "IC-404", "", 5)
	if err != nil || len(page) != 0 || next != "" {
		t.Fatalf("Licenses of a missing contract = %v, %q, %v", page, next, err)
	}

	// A cursor is good for its own contract only.
	_, next, _ = s.Licenses(ctx, "IC-1", "", 5)
	_, _, err = s.Licenses(ctx, "IC-10", next, 5)
	wantErr(t, "Licenses with another contract's cursor", err, store.ErrNotFound)
	_, _, err = s.Licenses(ctx, "IC-1", "!not a cursor!", 5)
	wantErr(t, "Licenses with a bad cursor", err, store.ErrNotFound)
	_, lnext, _ := s.Ledger(ctx, "IC-1", "", 5)
	_, _, err = s.Ledger(ctx, "IC-10", lnext, 5)
	wantErr(t, "Ledger with another contract's cursor", err, store.ErrNotFound)
	_, _, err = s.Ledger(ctx, "IC-1", "!not a cursor!", 5)
	wantErr(t, "Ledger with a bad cursor", err, store.ErrNotFound)
	exact, next, err := s.Ledger(ctx, "IC-10", "", 2)
	if err != nil || len(exact) != 2 || next != "" {
		t.Fatalf("Ledger page holding the last entry: %d entries, next %q, %v", len(exact), next, err)
	}
}

// testSeatRace: 64 appliances activate a 3-seat contract at once; exactly
// 3 bind, and the seat count never exceeds the contract.
func testSeatRace(t *testing.T, s store.Store) {
	create(t, s, "IC-1", 3)
	const n = 64
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Issue(ctx, issue("IC-1", fmt.Sprintf("A-%06d", i), fmt.Sprintf("L-%06d", i), 1, 0, true))
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrNoSeat):
			t.Errorf("Issue: %v, want nil or ErrNoSeat", err)
		}
	}
	if ok != 3 {
		t.Fatalf("%d activations bound a 3-seat contract", ok)
	}
	c, _ := s.Contract(ctx, "IC-1")
	bs, _ := s.Bindings(ctx, "IC-1")
	lics, _, _ := s.Licenses(ctx, "IC-1", "", 100)
	if c.Used != 3 || len(bs) != 3 || len(lics) != 3 {
		t.Fatalf("after the race: used %d, %d bindings, %d licenses", c.Used, len(bs), len(lics))
	}
	if l := ledger(t, s, "IC-1"); len(l) != 4 {
		t.Fatalf("ledger holds %d entries, want the order and 3 activations", len(l))
	}
}

// testSequenceRace: 16 copies of one appliance's next activation (each its
// own request, all read at sequence 1) race; exactly one is stored.
func testSequenceRace(t *testing.T, s store.Store) {
	create(t, s, "IC-1", 1)
	must(t, "Issue", s.Issue(ctx, issue("IC-1", "A-aaaaaa", "L-aaaaaa", 1, 0, true)))
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			op := issue("IC-1", "A-aaaaaa", fmt.Sprintf("L-%06d", i), uint64(2+i), 1, false)
			op.License.Supersedes = []string{"L-aaaaaa"}
			errs[i] = s.Issue(ctx, op)
		}()
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Fatalf("activations %d and %d both stored", won, i)
		case err == nil:
			won = i
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("Issue: %v, want nil or ErrConflict", err)
		}
	}
	if won < 0 {
		t.Fatal("no activation was stored")
	}
	b, _ := s.Binding(ctx, "IC-1", "A-aaaaaa")
	old, _ := s.License(ctx, "L-aaaaaa")
	lics, _ := s.ApplianceLicenses(ctx, "IC-1", "A-aaaaaa")
	if want := fmt.Sprintf("L-%06d", won); b.Sequence != uint64(2+won) || old.SupersededBy != want || len(lics) != 2 || lics[1].ID != want {
		t.Fatalf("after the race: binding %+v, superseded by %q, licenses %d", b, old.SupersededBy, len(lics))
	}
	if l := ledger(t, s, "IC-1"); len(l) != 3 {
		t.Fatalf("ledger holds %d entries, want 3", len(l))
	}
}
