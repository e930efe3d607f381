package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

// race sends the store n activations at once, op(i) the i-th, and
// returns their errors.
func race(s store.Store, n int, op func(i int) *store.Issue) []error {
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = s.Issue(ctx, op(i)) })
	}
	wg.Wait()
	return errs
}

// testSeatRace: 64 appliances activate a 3-seat contract at once; exactly
// 3 bind, and the seat count never exceeds the contract.
func testSeatRace(t *testing.T, s store.Store) {
	create(t, s, "IC-1", 3)
	errs := race(s, 64, func(i int) *store.Issue {
		return issue("IC-1", fmt.Sprintf("A-%06d", i), fmt.Sprintf("L-%06d", i), 1, 0, true)
	})
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
	errs := race(s, 16, func(i int) *store.Issue {
		op := issue("IC-1", "A-aaaaaa", fmt.Sprintf("L-%06d", i), uint64(2+i), 1, false)
		op.License.Supersedes = []string{"L-aaaaaa"}
		return op
	})
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
