package issuertest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenurehq/tenure/issuer/internal/store"
	"github.com/tenurehq/tenure/shared/engine"
)

// Run runs the whole HTTP suite against stores made by open; each test gets
// a fresh, empty store.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"PublicRoutes", testPublicRoutes},
		{"Contracts", testContracts},
		{"Refusals", testRefusals},
		{"CheckOrder", testCheckOrder},
		{"Identity", testIdentity},
		{"Idempotency", testIdempotency},
		{"Initial", testInitial},
		{"Renewal", testRenewal},
		{"Changes", testChanges},
		{"Reallocation", testReallocation},
		{"ReallocationAfterRenewal", testReallocationAfterRenewal},
		{"LicenseOpens", testLicenseOpens},
		{"SeatRace", testSeatRace},
		{"HistoryContinuation", testHistoryContinuation},
		{"HistoryStale", testHistoryStale},
		{"HistoryStaleReceipt", testHistoryStaleReceipt},
		{"HistoryRestore", testHistoryRestore},
		{"HistoryFork", testHistoryFork},
		{"HistoryRestoreAfterRelease", testHistoryRestoreAfterRelease},
		{"HistoryAbsent", testHistoryAbsent},
		{"ClockResetBound", testClockResetBound},
		{"ClockResetUnbound", testClockResetUnbound},
		{"ClockResetRefusals", testClockResetRefusals},
		{"ReceiptClockAhead", testReceiptClockAhead},
		{"ClockBehind", testClockBehind},
		{"ClockWrites", testClockWrites},
		{"ContractList", testContractList},
		{"LedgerView", testLedgerView},
		{"ForbiddenLedger", testForbiddenLedger},
		{"TokenRotation", testTokenRotation},
		{"AnomalyList", testAnomalyList},
		{"ContractViewPages", testContractViewPages},
		{"FreedSeatRace", testFreedSeatRace},
		{"ReissueStored", testReissueStored},
		{"ReissueRepins", testReissueRepins},
		{"ReissueHeals", testReissueHeals},
		{"ProductVersions", testProductVersions},
		{"ProductNotLoaded", testProductNotLoaded},
		{"ReissueProductUpgrade", testReissueProductUpgrade},
		{"ReleasedInstalledForeign", testReleasedInstalledForeign},
		{"RotateNoBody", testRotateNoBody},
		{"RepinKeepsClasses", testRepinKeepsClasses},
		{"UsageReports", testUsageReports},
		{"UsageRefusals", testUsageRefusals},
		{"UsageHistory", testUsageHistory},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newEnv(t, open)) })
	}
}

func testPublicRoutes(t *testing.T, e *env) {
	for _, tok := range []string{"", "garbage", e.admin} { // Authorization is ignored
		code, body := e.do("GET", "/healthz", tok, nil)
		e.want(200, code, body, "healthz")
		if strings.TrimSpace(string(body)) != `{"ok":true}` {
			t.Errorf("healthz = %s", body)
		}
		code, body = e.do("GET", "/v1/keys", tok, nil)
		e.want(200, code, body, "keys")
		var keys struct{ Keys []string }
		json.Unmarshal(body, &keys)
		if !slices.Equal(keys.Keys, []string{e.vkey}) {
			t.Errorf("keys = %s, want %s", body, e.vkey)
		}
	}
	code, body := e.do("GET", "/v1/nothing", "", nil)
	e.want(404, code, body, "unknown route")
}

func testContracts(t *testing.T, e *env) {
	tok := e.order("IC-1042", 2)
	code, body := e.do("PUT", "/v1/contracts/IC-1042", e.admin, contractBody("order", 2))
	e.want(409, code, body, "order of an existing contract")
	code, body = e.do("PUT", "/v1/contracts/IC-9", e.admin, contractBody("renewal", 2))
	e.want(404, code, body, "change of a missing contract")
	code, body = e.do("PUT", "/v1/contracts/IC-1042", tok, contractBody("renewal", 2))
	e.want(403, code, body, "change with a contract token")

	for _, tc := range []struct {
		what, id, change, field string
		value                   any
		status                  int
	}{
		{"contract for an unknown product", "IC-2", "order", "product", "core", 422},
		{"contract for an unknown tier", "IC-2", "order", "tier", "gold", 422},
		{"contract with a feature outside the catalog", "IC-2", "order", "features", []string{"scion", "teleport"}, 422},
		{"prolongation without extend_months", "IC-1042", "prolongation", "", nil, 400},
		{"contract with an unknown field", "IC-2", "order", "color", "blue", 400},
		{"contract with a bad id", "bad%20id", "order", "", nil, 400},
	} {
		bad := contractBody(tc.change, 1)
		if tc.field != "" {
			bad[tc.field] = tc.value
		}
		code, body = e.do("PUT", "/v1/contracts/"+tc.id, e.admin, bad)
		e.want(tc.status, code, body, tc.what)
	}

	e.at("2026-02-01")
	e.change("IC-1042", "correction", func(b map[string]any) { b["customer"] = "ACME Networks GmbH" })
	code, body = e.do("GET", "/v1/contracts/IC-1042", tok, nil)
	e.want(200, code, body, "get with the contract token")
	var view struct {
		Contract struct {
			ID, Customer, Change, Status string
			Revision, Appliances         int
			Ordered                      time.Time
		}
		Appliances []any
		Licenses   []any
	}
	if err := json.Unmarshal(body, &view); err != nil {
		t.Fatal(err)
	}
	c := view.Contract
	if c.ID != "IC-1042" || c.Customer != "ACME Networks GmbH" || c.Revision != 2 || c.Change != "correction" || c.Appliances != 2 ||
		!c.Ordered.Equal(t0) || view.Appliances == nil || view.Licenses == nil {
		t.Fatalf("contract view = %s", body)
	}
	if strings.Contains(string(body), tok) {
		t.Fatal("the contract view shows the token")
	}
	other := e.order("IC-7", 1)
	code, body = e.do("GET", "/v1/contracts/IC-1042", other, nil)
	e.want(403, code, body, "get with another contract's token")
	code, body = e.do("GET", "/v1/contracts/IC-1042", "", nil)
	e.want(401, code, body, "get without a token")
	code, body = e.do("GET", "/v1/contracts/IC-404", e.admin, nil)
	e.want(404, code, body, "get of a missing contract")

	var actions []string
	for _, en := range e.ledger("IC-1042") {
		actions = append(actions, en.Action+"/"+en.Outcome)
	}
	// The contract token's 403 is in its own contract's ledger.
	if !slices.Equal(actions, []string{"order/accepted", "order/refused", "renewal/refused", "correction/accepted"}) {
		t.Errorf("ledger = %v", actions)
	}
}

func testRefusals(t *testing.T, e *env) {
	tok := e.order("IC-1", 1)
	otherTok := e.order("IC-2", 1)
	d := newDevice(t, 1)

	code, _, body := e.activate("", "IC-1", d.lrf(e), "")
	e.want(401, code, body, "no token")
	code, _, body = e.activate("nobody-knows-this", "IC-1", d.lrf(e), "")
	e.want(401, code, body, "unknown token")
	code, _, body = e.activate(otherTok, "IC-1", d.lrf(e), "")
	e.want(403, code, body, "another contract's token")

	code, _, body = e.activate(tok, "IC-1", d.lrf(e, func(r *engine.Request) { r.Product = "core" }), "")
	e.want(422, code, body, "wrong product")
	code, _, body = e.activate(tok, "IC-1", d.lrf(e, func(r *engine.Request) { r.Version = "0.30.0" }), "")
	e.want(422, code, body, "old software")
	if !strings.Contains(string(body), "0.38.0") {
		t.Errorf("old software refusal does not say what is needed: %s", body)
	}
	code, _, body = e.activate(tok, "IC-1", d.lrf(e, func(r *engine.Request) { r.Created = e.clock().Add(25 * time.Hour) }), "")
	e.want(422, code, body, "LRF from the future")
	// A day ahead is clock drift, not the future; a year old is an air gap.
	code, _, body = e.activate(tok, "IC-1", d.lrf(e, func(r *engine.Request) { r.Created = e.clock().Add(-365 * 24 * time.Hour) }), "")
	e.want(201, code, body, "old LRF")

	// Tampering: flip one character inside the armor.
	code, _, body = e.activate(tok, "IC-1", flipArmor(d.lrf(e)), "")
	e.want(400, code, body, "tampered LRF")

	code, body = e.raw("POST", "/v1/activations", tok, []byte(`{"contract": "IC-1", "request": `))
	e.want(400, code, body, "malformed JSON")
	code, body = e.do("POST", "/v1/activations", tok, map[string]any{"contract": "IC-1", "request": d.lrf(e), "extra": 1})
	e.want(400, code, body, "unknown field")
	code, body = e.do("POST", "/v1/activations", tok, map[string]any{"contract": "IC-1", "request": d.lrf(e), "effective": "2026-2-1"})
	e.want(400, code, body, "bad effective date")
	code, body = e.raw("POST", "/v1/activations", tok, []byte(`{"contract": "IC-1", "request": "x"} {}`))
	e.want(400, code, body, "trailing JSON")

	big := strings.Repeat("A", 129<<10)
	code, body = e.do("POST", "/v1/activations", tok, map[string]any{"contract": "IC-1", "request": big})
	e.want(413, code, body, "oversized body")
	doc := "-----BEGIN TENURE LICENSE REQUEST-----\n" + strings.Repeat("A", 65<<10)
	code, body = e.do("POST", "/v1/activations", tok, map[string]any{"contract": "IC-1", "request": doc})
	e.want(413, code, body, "oversized document in a body under 128 KiB")
	code, body = e.do("POST", "/v1/releases", tok, map[string]any{"receipt": doc})
	e.want(413, code, body, "oversized receipt")

	// No free seat: the one seat is taken.
	d2 := newDevice(t, 2)
	code, _, body = e.activate(tok, "IC-1", d2.lrf(e), "")
	e.want(409, code, body, "no free seat")

	// Suspended, then reinstated.
	e.change("IC-1", "suspension", func(b map[string]any) { b["status"] = "suspended" })
	code, _, body = e.activate(tok, "IC-1", d.lrf(e), "")
	e.want(422, code, body, "suspended contract")
	e.change("IC-1", "reinstatement", nil)
	code, _, body = e.activate(tok, "IC-1", d.lrf(e), "")
	e.want(201, code, body, "reinstated contract")

	// Every refusal after the token is in the ledger.
	refused := 0
	for _, en := range e.ledger("IC-1") {
		if en.Action == "activation" && en.Outcome == store.Refused {
			refused++
		}
	}
	if refused != 5 { // product, software, future, no seat, suspended
		t.Errorf("ledger holds %d refused activations, want 5", refused)
	}
	// The 403 is in the ledger of the token's own contract.
	forbidden := 0
	for _, en := range e.ledger("IC-2") {
		if en.Action == "activation" && en.Status == 403 {
			forbidden++
		}
	}
	if forbidden != 1 {
		t.Errorf("IC-2's ledger holds %d refusals 403 of its token, want 1", forbidden)
	}
}

func testCheckOrder(t *testing.T, e *env) {
	tok := e.order("IC-1", 1)
	other := e.order("IC-2", 1)
	big := strings.Repeat("x", 129<<10)
	code, body := e.raw("POST", "/v1/activations", "", []byte(big))
	e.want(413, code, body, "oversized body without a token")
	code, body = e.raw("PUT", "/v1/contracts/IC-1", "bad", []byte(big))
	e.want(413, code, body, "oversized contract with a bad token")
	code, body = e.raw("POST", "/v1/activations", "bad-token", []byte("{not json"))
	e.want(401, code, body, "bad token and malformed body")
	code, body = e.raw("POST", "/v1/activations", other, []byte("{not json"))
	e.want(400, code, body, "malformed body with another contract's token")
	code, body = e.raw("POST", "/v1/releases", "", []byte("{not json"))
	e.want(401, code, body, "release without a token")
	code, body = e.do("POST", "/v1/contracts/IC-1/reallocations", tok, map[string]any{"appliance": "A-00000001"})
	e.want(400, code, body, "reallocation missing its reason, contract token")
	code, body = e.do("POST", "/v1/contracts/IC-1/reallocations", tok, map[string]any{"appliance": "A-00000001", "reason": "disk"})
	e.want(403, code, body, "reallocation with a contract token")

	// 422 before 409: a suspended contract with no free seat says suspended.
	d, d2 := newDevice(t, 1), newDevice(t, 2)
	e.mustActivate(tok, "IC-1", d.lrf(e), "", "initial", "2026-01-05T00:00:00Z", "2027-01-05T00:00:00Z")
	e.change("IC-1", "suspension", func(b map[string]any) { b["status"] = "suspended" })
	code, _, body = e.activate(tok, "IC-1", d2.lrf(e), "")
	e.want(422, code, body, "suspended and full")
}

func testIdentity(t *testing.T, e *env) {
	tok := e.order("IC-1", 2)
	d := newDevice(t, 1)
	first := e.mustActivate(tok, "IC-1", d.lrf(e), "", "initial", "2026-01-05T00:00:00Z", "2027-01-05T00:00:00Z")

	// Another device key for the pinned appliance id.
	impostor := newDevice(t, 1)
	impostor.seq = 10
	code, _, body := e.activate(tok, "IC-1", impostor.lrf(e), "")
	e.want(409, code, body, "other device key")

	// The same state copied onto another machine.
	copied := *d
	copied.raw = map[string]string{"machine_id": "other", "dmi_uuid": "other", "mac:eth0": "02:00:00:00:00:99"}
	code, _, body = e.activate(tok, "IC-1", copied.lrf(e), "")
	e.want(409, code, body, "copied state on another platform")
	d.seq = copied.seq

	// A replaced NIC keeps the binding.
	d.raw["mac:eth0"] = "02:42:ac:11:00:ff"
	e.mustActivate(tok, "IC-1", d.lrf(e), "", "reissue", "2026-01-05T00:00:00Z", "2027-01-05T00:00:00Z")

	// A sequence regression.
	d.seq = 1
	code, _, body = e.activate(tok, "IC-1", d.lrf(e), "")
	e.want(409, code, body, "sequence regression")
	d.seq = 20

	var anomalies []string
	for _, en := range e.ledger("IC-1") {
		if en.Anomaly != "" {
			anomalies = append(anomalies, en.Anomaly)
		}
	}
	if len(anomalies) != 3 || !strings.Contains(anomalies[0], "device key") || !strings.Contains(anomalies[1], "platform") || !strings.Contains(anomalies[2], "sequence") {
		t.Fatalf("anomalies = %q", anomalies)
	}

	// After a release, an LRF still listing the released license is
	// recorded, and older LRFs are refused.
	code, body = e.do("POST", "/v1/releases", tok, map[string]any{"receipt": d.receipt(e, "IC-1", []string{first.ID})})
	e.want(200, code, body, "release")
	stale := d.seq - 1
	code, _, body = e.activate(tok, "IC-1", d.lrf(e, func(r *engine.Request) { r.Sequence = stale }), "")
	e.want(409, code, body, "LRF from before the release")
	code, _, body = e.activate(tok, "IC-1", d.lrf(e, func(r *engine.Request) { r.Installed = []string{first.ID} }), "")
	e.want(201, code, body, "LRF after the release")
	l := e.ledger("IC-1")
	if last := l[len(l)-1]; last.Outcome != store.Accepted || !strings.Contains(last.Anomaly, first.ID) {
		t.Fatalf("released license installed not recorded: %+v", last)
	}
}

func testIdempotency(t *testing.T, e *env) {
	tok := e.order("IC-1", 1)
	e.order("IC-2", 1)
	d := newDevice(t, 1)
	lrf := d.lrf(e)
	code, a, body := e.activate(tok, "IC-1", lrf, "2026-02-01")
	e.want(201, code, body, "activation")

	// Later changes do not change a replay's answer.
	e.at("2026-03-01")
	e.change("IC-1", "upgrade", func(b map[string]any) { b["tier"] = "pro" })
	code, again, body2 := e.activate(tok, "IC-1", lrf, "2026-02-01")
	e.want(200, code, body2, "replay")
	if string(body2) != string(body) || again.License != a.License {
		t.Fatalf("replay answered other bytes:\n%s\n%s", body, body2)
	}
	code, _, body = e.activate(tok, "IC-1", lrf, "2026-02-02")
	e.want(409, code, body, "replay with another effective date")
	code, _, body = e.activate(tok, "IC-1", lrf, "")
	e.want(409, code, body, "replay without the effective date")

	// The same LRF may activate another contract.
	code, _, body = e.activate(e.admin, "IC-2", lrf, "")
	e.want(201, code, body, "same LRF on another contract")

	// A replay after a release is refused.
	code, body = e.do("POST", "/v1/releases", tok, map[string]any{"receipt": d.receipt(e, "IC-1", []string{a.ID})})
	e.want(200, code, body, "release")
	code, _, body = e.activate(tok, "IC-1", lrf, "2026-02-01")
	e.want(409, code, body, "replay after a release")
}

func testInitial(t *testing.T, e *env) {
	tok := e.order("IC-1", 3)
	e.mustActivate(tok, "IC-1", newDevice(t, 1).lrf(e), "", "initial", "2026-01-05T00:00:00Z", "2027-01-05T00:00:00Z")
	e.mustActivate(tok, "IC-1", newDevice(t, 2).lrf(e), "2026-02-01", "initial", "2026-02-01T00:00:00Z", "2027-02-01T00:00:00Z")
	e.at("2026-01-20")
	firstUse := time.Date(2026, 1, 10, 8, 30, 0, 0, time.UTC)
	e.mustActivate(tok, "IC-1", newDevice(t, 3).lrf(e, func(r *engine.Request) { r.FirstUse = &firstUse }), "2026-02-01",
		"initial", "2026-01-10T00:00:00Z", "2027-01-10T00:00:00Z")

	e2 := e.order("IC-2", 2)
	code, _, body := e.activate(e2, "IC-2", newDevice(t, 4).lrf(e), "2026-01-01")
	e.want(422, code, body, "effective before the order")
	code, _, body = e.activate(e2, "IC-2", newDevice(t, 5).lrf(e), "2027-03-01")
	e.want(422, code, body, "effective more than a year ahead")
}

func testRenewal(t *testing.T, e *env) {
	for i, tc := range []struct{ name, at string }{
		{"early", "2026-12-01"},
		{"on time", "2027-01-05"},
		{"in grace", "2027-02-10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A world of its own: each starts in 2026, and an issuer
			// whose clock went back a year would sign nothing.
			e := newEnv(t, e.open)
			id := fmt.Sprintf("IC-R%d", i)
			e.at("2026-01-05")
			tok := e.order(id, 1)
			d := newDevice(t, 10+i)
			e.mustActivate(tok, id, d.lrf(e), "", "initial", "2026-01-05T00:00:00Z", "2027-01-05T00:00:00Z")
			e.at(tc.at)
			e.change(id, "renewal", nil)
			e.mustActivate(tok, id, d.lrf(e), "", "renewal", "2027-01-05T00:00:00Z", "2028-01-05T00:00:00Z")
			// Nothing new since: the same window again.
			e.mustActivate(tok, id, d.lrf(e), "", "reissue", "2027-01-05T00:00:00Z", "2028-01-05T00:00:00Z")
		})
	}
}

func testChanges(t *testing.T, e *env) {
	tok := e.order("IC-1", 4)
	up, pro, down, late := newDevice(t, 1), newDevice(t, 2), newDevice(t, 3), newDevice(t, 4)
	first := map[*device]activation{}
	for _, d := range []*device{up, pro, down, late} {
		first[d] = e.mustActivate(tok, "IC-1", d.lrf(e), "", "initial", "2026-01-05T00:00:00Z", "2027-01-05T00:00:00Z")
	}
	e.at("2026-06-10")
	e.change("IC-1", "upgrade", nil)
	e.mustActivate(tok, "IC-1", up.lrf(e), "", "upgrade", "2026-06-10T00:00:00Z", "2027-01-05T00:00:00Z")

	e.at("2026-06-11")
	e.change("IC-1", "prolongation", func(b map[string]any) { b["extend_months"] = 3 })
	e.mustActivate(tok, "IC-1", pro.lrf(e), "", "prolongation", "2026-06-11T00:00:00Z", "2027-04-05T00:00:00Z")

	e.at("2026-06-12")
	e.change("IC-1", "downgrade", func(b map[string]any) {
		b["tier"], b["features"], b["limits"] = "lite", []string{"monitoring", "scion"}, map[string]int{"vpn_users": 25, "peering_tunnels": 10}
	})
	d := e.mustActivate(tok, "IC-1", down.lrf(e), "", "downgrade", "2026-06-12T00:00:00Z", "2027-04-05T00:00:00Z")
	old, err := e.store.License(t.Context(), first[down].ID)
	if err != nil || old.SupersededBy != d.ID {
		t.Fatalf("downgrade did not supersede %s: %+v %v", first[down].ID, old, err)
	}
	lic, err := e.store.License(t.Context(), d.ID)
	if err != nil || !slices.Equal(lic.Supersedes, []string{first[down].ID}) {
		t.Fatalf("downgrade license supersedes %v", lic.Supersedes)
	}

	// In grace, an upgrade waits for the renewal.
	e.at("2027-02-10")
	e.change("IC-1", "upgrade", func(b map[string]any) { b["tier"] = "pro" })
	code, _, body := e.activate(tok, "IC-1", late.lrf(e), "")
	e.want(422, code, body, "upgrade in grace")
	if !strings.Contains(string(body), "renew first") {
		t.Fatalf("upgrade in grace: %s", body)
	}
}

func testReallocation(t *testing.T, e *env) {
	tok := e.order("IC-1", 1)
	a, b, c := newDevice(t, 1), newDevice(t, 2), newDevice(t, 3)
	la := e.mustActivate(tok, "IC-1", a.lrf(e), "", "initial", "2026-01-05T00:00:00Z", "2027-01-05T00:00:00Z")

	// A release frees the seat; the next appliance keeps its coverage.
	e.at("2026-03-01")
	receipt := a.receipt(e, "IC-1", []string{la.ID})
	code, body := e.do("POST", "/v1/releases", tok, map[string]any{"receipt": receipt})
	e.want(200, code, body, "release")
	want := fmt.Sprintf(`{"released":["%s"],"appliances_free":1}`, la.ID)
	if strings.TrimSpace(string(body)) != want {
		t.Fatalf("release = %s, want %s", body, want)
	}
	code, again := e.do("POST", "/v1/releases", tok, map[string]any{"receipt": receipt})
	e.want(200, code, again, "replayed receipt")
	if string(again) != string(body) {
		t.Fatalf("replayed receipt answered %s, want %s", again, body)
	}
	lines := strings.Split(receipt, "\n")
	lines[1] = strings.Repeat("A", len(lines[1]))
	code, body = e.do("POST", "/v1/releases", tok, map[string]any{"receipt": strings.Join(lines, "\n")})
	e.want(400, code, body, "tampered receipt")

	e.at("2026-04-01")
	lb := e.mustActivate(tok, "IC-1", b.lrf(e), "", "reallocation", "2026-04-01T00:00:00Z", "2027-01-05T00:00:00Z")

	// An admin reallocation frees it the same way.
	e.at("2026-05-01")
	code, body = e.do("POST", "/v1/contracts/IC-1/reallocations", e.admin, map[string]any{"appliance": b.id, "reason": "appliance stolen"})
	e.want(200, code, body, "admin reallocation")
	if !strings.Contains(string(body), lb.ID) {
		t.Fatalf("reallocation = %s", body)
	}
	code, body = e.do("POST", "/v1/contracts/IC-1/reallocations", e.admin, map[string]any{"appliance": b.id, "reason": "again"})
	e.want(409, code, body, "reallocation of a free seat")
	code, body = e.do("POST", "/v1/contracts/IC-1/reallocations", e.admin, map[string]any{"appliance": "A-99999999", "reason": "unknown"})
	e.want(404, code, body, "reallocation of an unknown appliance")
	e.at("2026-05-20")
	e.mustActivate(tok, "IC-1", c.lrf(e), "", "reallocation", "2026-05-20T00:00:00Z", "2027-01-05T00:00:00Z")

	// The freed appliance's old requests stay refused.
	code, _, body = e.activate(tok, "IC-1", b.lrf(e, func(r *engine.Request) { r.Sequence = 1 }), "")
	e.want(409, code, body, "reallocated appliance with an old sequence")

	code, body = e.do("GET", "/v1/contracts/IC-1", tok, nil)
	e.want(200, code, body, "view")
	var view struct {
		Appliances []struct {
			ID       string
			Platform string
			Released *time.Time
		}
		Licenses []struct{ ID, Appliance, Reason string }
	}
	json.Unmarshal(body, &view)
	if len(view.Appliances) != 3 || view.Appliances[0].Released == nil || view.Appliances[1].Released == nil || view.Appliances[2].Released != nil ||
		len(view.Appliances[0].Platform) != 16 || len(view.Licenses) != 3 || view.Licenses[2].Reason != "reallocation" {
		t.Fatalf("view = %s", body)
	}
}

// testReallocationAfterRenewal: a freed binding that had received a renewal
// hands its coverage on once; a renewal ordered after the release extends it.
func testReallocationAfterRenewal(t *testing.T, e *env) {
	tok := e.order("IC-1", 1)
	a, b, c := newDevice(t, 1), newDevice(t, 2), newDevice(t, 3)
	e.mustActivate(tok, "IC-1", a.lrf(e), "", "initial", "2026-01-05T00:00:00Z", "2027-01-05T00:00:00Z")
	e.at("2026-12-01")
	e.change("IC-1", "renewal", nil)
	la := e.mustActivate(tok, "IC-1", a.lrf(e), "", "renewal", "2027-01-05T00:00:00Z", "2028-01-05T00:00:00Z")

	e.at("2027-03-01")
	code, body := e.do("POST", "/v1/releases", tok, map[string]any{"receipt": a.receipt(e, "IC-1", []string{la.ID})})
	e.want(200, code, body, "release after the renewal")
	lb := e.mustActivate(tok, "IC-1", b.lrf(e), "", "reallocation", "2027-03-01T00:00:00Z", "2028-01-05T00:00:00Z")

	e.at("2027-06-01")
	e.change("IC-1", "renewal", nil)
	code, body = e.do("POST", "/v1/releases", tok, map[string]any{"receipt": b.receipt(e, "IC-1", []string{lb.ID})})
	e.want(200, code, body, "release before the second renewal reached the appliance")
	e.mustActivate(tok, "IC-1", c.lrf(e), "", "reallocation", "2027-06-01T00:00:00Z", "2029-01-05T00:00:00Z")
}

func testLicenseOpens(t *testing.T, e *env) {
	tok := e.order("IC-1", 1)
	d := newDevice(t, 1)
	a := e.mustActivate(tok, "IC-1", d.lrf(e), "", "initial", "2026-01-05T00:00:00Z", "2027-01-05T00:00:00Z")
	code, body := e.do("GET", "/v1/keys", "", nil)
	e.want(200, code, body, "keys")
	var keys struct{ Keys []string }
	json.Unmarshal(body, &keys)
	trust, err := engine.ParseTrust(strings.Join(keys.Keys, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := engine.OpenLicense([]byte(a.License), d.identity, trust)
	if err != nil {
		t.Fatalf("OpenLicense: %v", err)
	}
	if l.ID != a.ID || l.Contract != "IC-1" || l.Tier != "pro" || l.GraceDays != 90 || l.MinVersion != "0.38.0" || l.Revision != 1 || l.Customer != "ACME Networks" {
		t.Fatalf("license = %+v", l)
	}
	if err := (engine.Binding{Appliance: d.id, Platform: d.platform(), DeviceKey: d.vkey, Product: e.product, Version: "0.40.0"}).Check(l); err != nil {
		t.Fatalf("Binding.Check: %v", err)
	}
	other := newDevice(t, 2)
	if _, _, err := engine.OpenLicense([]byte(a.License), other.identity, trust); err == nil {
		t.Fatal("another appliance opened the license")
	}
	st := engine.Evaluate(&engine.Input{Product: e.product, Host: t0.Add(24 * time.Hour), TrialStart: t0.Add(-72 * time.Hour),
		Licenses: []engine.Entry{{ID: l.ID, License: l}}})
	if st.State != engine.ModeLicensed || !slices.Contains(st.Features, "vpn") || st.Limits["vpn_users"] != 250 {
		t.Fatalf("status = %+v", st)
	}
}

// testSeatRace: 64 appliances ask a 3-seat contract at once.
func testSeatRace(t *testing.T, e *env) {
	tok := e.order("IC-1", 3)
	const n = 64
	lrfs := make([]string, n)
	for i := range n {
		lrfs[i] = newDevice(t, 100+i).lrf(e)
	}
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _, _ = e.activate(tok, "IC-1", lrfs[i], "")
		}()
	}
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	if count[201] != 3 || count[409] != n-3 {
		t.Fatalf("statuses = %v, want 3×201 and %d×409", count, n-3)
	}
	c, _ := e.store.Contract(t.Context(), "IC-1")
	if c.Used != 3 {
		t.Fatalf("seats used = %d", c.Used)
	}
	decisions := map[string]int{}
	for _, en := range e.ledger("IC-1") {
		if en.Action == "activation" {
			decisions[en.Outcome]++
		}
	}
	if decisions[store.Accepted] != 3 || decisions[store.Refused] != n-3 {
		t.Fatalf("ledger decisions = %v", decisions)
	}
}

// flipArmor changes one character inside a document's armor, keeping it
// base64: the document no longer verifies.
func flipArmor(doc string) string {
	lines := strings.Split(doc, "\n")
	b := []byte(lines[2])
	b[10] ^= 0x01
	if b[10] == '+' || b[10] == '/' || b[10] < '0' {
		b[10] = 'A'
	}
	lines[2] = string(b)
	return strings.Join(lines, "\n")
}
