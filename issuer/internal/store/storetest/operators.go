package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

// pages reads every page of a list with limit, checking no page is longer,
// and returns the ids in order and the number of pages.
func pages[T any](t *testing.T, what string, limit int, list func(cursor string) ([]T, string, error), id func(T) string) ([]string, int) {
	t.Helper()
	var got []string
	cursor, n := "", 0
	for range 1000 {
		page, next, err := list(cursor)
		must(t, what, err)
		if len(page) > limit {
			t.Fatalf("%s: page of %d, limit %d", what, len(page), limit)
		}
		for _, r := range page {
			got = append(got, id(r))
		}
		n++
		if next == "" {
			return got, n
		}
		cursor = next
	}
	t.Fatalf("%s: no last page after 1000", what)
	return nil, 0
}

// testContractList: contracts list in id order with their seats used, page
// by page; an empty store lists none; a bad cursor is ErrNotFound.
func testContractList(t *testing.T, s store.Store) {
	if cs, next, err := s.Contracts(ctx, "", 10); err != nil || len(cs) != 0 || next != "" {
		t.Fatalf("Contracts of an empty store = %v, %q, %v", cs, next, err)
	}
	var want []string
	for _, i := range []int{3, 10, 1, 7, 2, 5, 4, 6, 9, 8, 11} {
		id := fmt.Sprintf("IC-%02d", i)
		create(t, s, id, 2)
	}
	for i := 1; i <= 11; i++ {
		want = append(want, fmt.Sprintf("IC-%02d", i))
	}
	must(t, "Issue", s.Issue(ctx, issue("IC-07", "A-aaaaaa", "L-aaaaaa", 1, 0, true)))
	got, n := pages(t, "Contracts", 4, func(c string) ([]store.Contract, string, error) { return s.Contracts(ctx, c, 4) },
		func(c store.Contract) string { return c.ID })
	if !slices.Equal(got, want) || n != 3 {
		t.Fatalf("Contracts paged (%d pages) = %v, want %v", n, got, want)
	}
	cs, _, err := s.Contracts(ctx, "", 0)
	must(t, "Contracts", err)
	for _, c := range cs {
		if used := map[bool]int{true: 1}[c.ID == "IC-07"]; c.Used != used || c.Customer != "ACME" {
			t.Fatalf("Contracts lists %s with %d used, customer %q; want %d, ACME", c.ID, c.Used, c.Customer, used)
		}
	}
	// A page that ends at the last contract has no next.
	if cs, next, err := s.Contracts(ctx, "", 11); err != nil || len(cs) != 11 || next != "" {
		t.Fatalf("Contracts page holding the last: %d, next %q, %v", len(cs), next, err)
	}
	_, _, err = s.Contracts(ctx, "!not a cursor!", 4)
	wantErr(t, "Contracts with a bad cursor", err, store.ErrNotFound)
}

// testBindingPage: a contract's bindings page by appliance, its own only.
func testBindingPage(t *testing.T, s store.Store) {
	create(t, s, "IC-1", 20)
	create(t, s, "IC-10", 1)
	must(t, "Issue", s.Issue(ctx, issue("IC-10", "A-000000", "L-other", 1, 0, true)))
	var want []string
	for _, i := range []int{4, 0, 8, 2, 6, 1, 3, 5, 7} {
		a := fmt.Sprintf("A-%06d", i)
		must(t, "Issue "+a, s.Issue(ctx, issue("IC-1", a, fmt.Sprintf("L-%06d", i), 1, 0, true)))
	}
	for i := range 9 {
		want = append(want, fmt.Sprintf("A-%06d", i))
	}
	got, n := pages(t, "BindingPage", 2, func(c string) ([]store.Binding, string, error) { return s.BindingPage(ctx, "IC-1", c, 2) },
		func(b store.Binding) string { return b.Appliance })
	if !slices.Equal(got, want) || n != 5 {
		t.Fatalf("BindingPage paged (%d pages) = %v, want %v", n, got, want)
	}
	_, next, _ := s.BindingPage(ctx, "IC-1", "", 2)
	_, _, err := s.BindingPage(ctx, "IC-10", next, 2)
	wantErr(t, "BindingPage with another contract's cursor", err, store.ErrNotFound)
	if bs, next, err := s.BindingPage(ctx, "IC-404", "", 2); err != nil || len(bs) != 0 || next != "" {
		t.Fatalf("BindingPage of a missing contract = %v, %q, %v", bs, next, err)
	}
}

// testRotateToken: a rotated token is unknown at once, the new one known,
// the rotation is in the ledger; a missing contract is ErrNotFound and a
// hash in use ErrConflict.
func testRotateToken(t *testing.T, s store.Store) {
	create(t, s, "IC-1", 1)
	create(t, s, "IC-2", 1)
	e := &store.Entry{At: t0, Contract: "IC-1", Actor: "admin", Action: "token", Outcome: store.Accepted, Status: 200}
	must(t, "RotateToken", s.RotateToken(ctx, "IC-1", "token-IC-1-b", e))
	if e.ID == "" {
		t.Fatal("RotateToken did not set the entry's ID")
	}
	_, err := s.TokenContract(ctx, "token-IC-1")
	wantErr(t, "TokenContract of the rotated token", err, store.ErrNotFound)
	if id, err := s.TokenContract(ctx, "token-IC-1-b"); err != nil || id != "IC-1" {
		t.Fatalf("TokenContract of the new token = %q, %v", id, err)
	}
	// Again: the second rotation forgets the first's token.
	must(t, "RotateToken again", s.RotateToken(ctx, "IC-1", "token-IC-1-c", &store.Entry{At: t0, Contract: "IC-1", Action: "token"}))
	_, err = s.TokenContract(ctx, "token-IC-1-b")
	wantErr(t, "TokenContract of the token rotated twice", err, store.ErrNotFound)
	if id, err := s.TokenContract(ctx, "token-IC-2"); err != nil || id != "IC-2" {
		t.Fatalf("another contract's token after a rotation = %q, %v", id, err)
	}
	wantErr(t, "RotateToken to a token in use", s.RotateToken(ctx, "IC-1", "token-IC-2", &store.Entry{Contract: "IC-1"}), store.ErrConflict)
	if id, _ := s.TokenContract(ctx, "token-IC-1-c"); id != "IC-1" {
		t.Fatal("a refused rotation forgot the token")
	}
	wantErr(t, "RotateToken of a missing contract", s.RotateToken(ctx, "IC-404", "token-x", &store.Entry{Contract: "IC-404"}), store.ErrNotFound)
	if l := ledger(t, s, "IC-1"); len(l) != 3 || l[1].Action != "token" {
		t.Fatalf("ledger after rotations = %+v", l)
	}
}

// testAnomalies: one anomaly per (kind, appliance, contract, UTC day), with
// its count and first sighting; listed in id order, of all contracts or of
// one, page by page.
func testAnomalies(t *testing.T, s store.Store) {
	if as, next, err := s.Anomalies(ctx, "", "", 10); err != nil || len(as) != 0 || next != "" {
		t.Fatalf("Anomalies of an empty store = %v, %q, %v", as, next, err)
	}
	note := func(at time.Time, contract, appliance, kind, detail string) {
		t.Helper()
		a := &store.Anomaly{At: at, Contract: contract, Appliance: appliance, Kind: kind, Detail: detail}
		must(t, "NoteAnomaly", s.NoteAnomaly(ctx, a))
		if a.ID != store.AnomalyID(at, contract, appliance, kind) {
			t.Fatalf("NoteAnomaly set ID %q", a.ID)
		}
	}
	day2 := t0.Add(24 * time.Hour)
	for i := range 5 {
		note(t0.Add(time.Duration(i)*time.Minute), "IC-1", "A-aaaaaa", "identity_conflict", fmt.Sprintf("sighting %d", i))
	}
	note(t0, "IC-1", "A-aaaaaa", "sequence_regression", "seq")
	note(t0, "IC-1", "A-bbbbbb", "identity_conflict", "b")
	note(t0, "IC-10", "A-aaaaaa", "identity_conflict", "other contract")
	note(day2, "IC-1", "A-aaaaaa", "identity_conflict", "next day")
	note(day2.Add(13*time.Hour), "IC-1", "A-aaaaaa", "identity_conflict", "same next day")

	all, _, err := s.Anomalies(ctx, "", "", 0)
	must(t, "Anomalies", err)
	if len(all) != 5 {
		t.Fatalf("Anomalies = %d, want 5: %+v", len(all), all)
	}
	first := all[0]
	if first.ID != "2026-01-05/IC-1/A-aaaaaa/identity_conflict" || first.Count != 5 || first.Detail != "sighting 0" || !first.At.Equal(t0) ||
		first.Contract != "IC-1" || first.Appliance != "A-aaaaaa" || first.Kind != "identity_conflict" {
		t.Fatalf("first anomaly = %+v", first)
	}
	if last := all[4]; last.Count != 2 || last.Detail != "next day" {
		t.Fatalf("the next day's anomaly = %+v", last)
	}
	ids, n := pages(t, "Anomalies", 2, func(c string) ([]store.Anomaly, string, error) { return s.Anomalies(ctx, "", c, 2) },
		func(a store.Anomaly) string { return a.ID })
	want := []string{
		"2026-01-05/IC-1/A-aaaaaa/identity_conflict", "2026-01-05/IC-1/A-aaaaaa/sequence_regression",
		"2026-01-05/IC-1/A-bbbbbb/identity_conflict", "2026-01-05/IC-10/A-aaaaaa/identity_conflict",
		"2026-01-06/IC-1/A-aaaaaa/identity_conflict",
	}
	if !slices.Equal(ids, want) || n != 3 {
		t.Fatalf("Anomalies paged (%d pages) = %v, want %v", n, ids, want)
	}
	ids, _ = pages(t, "Anomalies of IC-1", 3, func(c string) ([]store.Anomaly, string, error) { return s.Anomalies(ctx, "IC-1", c, 3) },
		func(a store.Anomaly) string { return a.ID })
	if want := slices.Delete(slices.Clone(want), 3, 4); !slices.Equal(ids, want) {
		t.Fatalf("Anomalies of IC-1 = %v, want %v", ids, want)
	}
	if as, _, err := s.Anomalies(ctx, "IC-1", "", 1); err != nil || as[0].Count != 5 {
		t.Fatalf("Anomalies of IC-1 counts %+v, %v", as, err)
	}
	_, next, _ := s.Anomalies(ctx, "IC-1", "", 1)
	_, _, err = s.Anomalies(ctx, "IC-10", next, 1)
	wantErr(t, "Anomalies with another contract's cursor", err, store.ErrNotFound)
}
