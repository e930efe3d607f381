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
		{"History", testHistory},
		{"HistoryWrites", testHistoryWrites},
		{"ApplianceBindings", testApplianceBindings},
		{"Clock", testClock},
		{"ContractList", testContractList},
		{"BindingPage", testBindingPage},
		{"RotateToken", testRotateToken},
		{"Anomalies", testAnomalies},
		{"Reports", testReports},
		{"LatestReport", testLatestReport},
		{"ReportPages", testReportPages},
		{"ReportConditions", testReportConditions},
		{"ReportRace", testReportRace},
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
	return &store.Contract{ID: id, Terms: store.Terms{Customer: "ACME", Product: "edge", Tier: "pro", Kind: "commercial",
		Features: []string{"scion", "vpn"}, Limits: map[string]int64{"vpn_users": 250}, Appliances: seats,
		TermMonths: 12, Change: engine.ChangeOrder, Status: "active"}, Revision: 1, Ordered: t0, Updated: t0}
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

// ascending checks a ledger lists its entries in ID order.
func ascending(t *testing.T, l []store.Entry) {
	t.Helper()
	for i := 1; i < len(l); i++ {
		if l[i-1].ID >= l[i].ID {
			t.Fatalf("ledger not in ID order: %q before %q", l[i-1].ID, l[i].ID)
		}
	}
}
