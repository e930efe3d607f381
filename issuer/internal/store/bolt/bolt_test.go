package bolt_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tenurehq/tenure/issuer/internal/store"
	"github.com/tenurehq/tenure/issuer/internal/store/bolt"
	"github.com/tenurehq/tenure/issuer/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := bolt.Open(filepath.Join(t.TempDir(), "issuer.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestReopen checks records survive closing and reopening the file.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "issuer.db")
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	c := &store.Contract{ID: "IC-1", Terms: store.Terms{Customer: "ACME", Appliances: 2}, Revision: 1}
	if err := s.CreateContract(t.Context(), c, "h", &store.Revision{Contract: "IC-1", Number: 1, Record: *c}, &store.Entry{Contract: "IC-1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Contract(t.Context(), "IC-1")
	if err != nil || got.Customer != "ACME" || got.Appliances != 2 {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
}

// TestConcurrentWritesAndClose checks that writes committed in groups all
// land, each with its own ledger id, and that a write after Close fails
// rather than hangs.
func TestConcurrentWritesAndClose(t *testing.T) {
	s, err := bolt.Open(filepath.Join(t.TempDir(), "issuer.db"))
	if err != nil {
		t.Fatal(err)
	}
	const writers = 100
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			if err := s.Append(t.Context(), &store.Entry{Contract: "IC-1", Action: "activation", Reason: fmt.Sprint(i)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	entries, _, err := s.Ledger(t.Context(), "IC-1", "", writers+1)
	if err != nil {
		t.Fatal(err)
	}
	ids, reasons := map[string]bool{}, map[string]bool{}
	for _, e := range entries {
		ids[e.ID], reasons[e.Reason] = true, true
	}
	if len(entries) != writers || len(ids) != writers || len(reasons) != writers {
		t.Fatalf("%d entries, %d ids, %d reasons; want %d of each", len(entries), len(ids), len(reasons), writers)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(t.Context(), &store.Entry{Contract: "IC-1"}); err == nil {
		t.Fatal("a write after Close succeeded")
	}
}
