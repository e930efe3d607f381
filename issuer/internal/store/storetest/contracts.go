package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/tenurehq/tenure/issuer/internal/store"
	"github.com/tenurehq/tenure/shared/engine"
)

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
