package bolt_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

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

// TestApplianceIndexBackfill: a file written before bindings were indexed
// by appliance gets the index from its bindings when it is opened.
func TestApplianceIndexBackfill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "issuer.db")
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	for _, id := range []string{"IC-1", "IC-2"} {
		c := &store.Contract{ID: id, Terms: store.Terms{Customer: "ACME", Appliances: 2}, Revision: 1}
		if err := s.CreateContract(t.Context(), c, "token-"+id, &store.Revision{Contract: id, Number: 1, Record: *c}, &store.Entry{Contract: id}); err != nil {
			t.Fatal(err)
		}
		if err := s.Issue(t.Context(), &store.Issue{
			License: store.License{ID: "L-" + id, Contract: id, Appliance: "A-aaaaaa", Issued: now},
			Binding: store.Binding{Contract: id, Appliance: "A-aaaaaa", DeviceKey: "key", Bound: now, Sequence: 1}, Seat: true,
			Idempotency: store.Idempotency{Contract: id, Key: "k", License: "L-" + id}, Entry: store.Entry{Contract: id},
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Take the index away, as a file from before it.
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error { return tx.DeleteBucket([]byte("appliance_bindings")) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	bs, err := s.ApplianceBindings(t.Context(), "A-aaaaaa")
	if err != nil || len(bs) != 2 || bs[0].Contract != "IC-1" || bs[1].Contract != "IC-2" {
		t.Fatalf("ApplianceBindings after reopening a file without the index = %+v, %v", bs, err)
	}
}

// TestDamagedFile: a truncated or overwritten file is refused with
// ErrDamaged and a message that says how to restore it, never a fault.
func TestDamagedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "issuer.db")
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		id := fmt.Sprintf("IC-%d", i)
		c := &store.Contract{ID: id, Terms: store.Terms{Customer: strings.Repeat("ACME ", 200), Appliances: 2}, Revision: 1}
		if err := s.CreateContract(t.Context(), c, "token-"+id, &store.Revision{Contract: id, Number: 1, Record: *c}, &store.Entry{Contract: id}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	garbled := bytes.Clone(good)
	for i := range 8192 {
		garbled[i] ^= 0x5a
	}
	for name, b := range map[string][]byte{"truncated": good[:len(good)/3], "short": good[:100], "garbled": garbled} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "issuer.db")
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := bolt.Open(p)
			if !errors.Is(err, bolt.ErrDamaged) || !strings.Contains(err.Error(), "restore the file from a backup") || !strings.Contains(err.Error(), "PITR") {
				t.Fatalf("Open of a %s file: %v", name, err)
			}
		})
	}
}
