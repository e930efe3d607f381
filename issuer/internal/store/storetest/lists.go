package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

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
