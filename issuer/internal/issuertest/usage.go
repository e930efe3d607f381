package issuertest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tenurehq/tenure/issuer/internal/store"
	"github.com/tenurehq/tenure/shared/engine"
)

// The usage report tests (DESIGN.md, "Usage reports"): POST /v1/reports
// and what GET /v1/contracts/{id} shows of it.

// section is one contract's section of a usage report.
func section(contract string, limits map[string]engine.Peaks, features map[string]int) engine.UsageSection {
	if limits == nil {
		limits = map[string]engine.Peaks{}
	}
	if features == nil {
		features = map[string]int{}
	}
	return engine.UsageSection{Contract: contract, Limits: limits, Features: features}
}

// usageReport makes the device's next usage report for the period from to
// until (dates or instants), created at the issuer's clock, carrying the
// history hashes since the head its newest license names, edited by edit
// before signing.
func (d *device) usageReport(e *env, from, until string, hashes []string, since uint64, sections []engine.UsageSection, edit ...func(*engine.Usage)) string {
	e.t.Helper()
	return d.signUsage(e.t, e.clock(), instant(e.t, from), instant(e.t, until), engine.NewTrail(hashes, since), sections, edit...)
}

func (d *device) signUsage(t testing.TB, now, from, until time.Time, trail *engine.Trail, sections []engine.UsageSection, edit ...func(*engine.Usage)) string {
	t.Helper()
	d.seq++
	u := &engine.Usage{Appliance: d.id, Product: "edge", Period: engine.Period{From: from, Until: until}, Contracts: sections,
		History: trail, Sequence: d.seq, Created: now, Nonce: strings.ToLower(rand.Text())}
	if u.Contracts == nil {
		u.Contracts = []engine.UsageSection{}
	}
	for _, f := range edit {
		f(u)
	}
	text, err := engine.SignUsage(u, d.signer)
	if err != nil {
		t.Fatal(err)
	}
	return string(text)
}

func instant(t testing.TB, s string) time.Time {
	t.Helper()
	at, err := engine.ParseInstant(s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// reportID is the id the issuer gives a report: the SHA-256 of its signed
// note, in hex.
func reportID(t testing.TB, text string) string {
	t.Helper()
	signed, err := engine.Dearmor(engine.LabelUsage, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(signed)
	return hex.EncodeToString(sum[:])
}

// reportAnswer is the answer of POST /v1/reports.
type reportAnswer struct {
	ID, Appliance string
	Period        struct{ From, Until time.Time }
	body          string // as answered
}

func (e *env) sendReport(token, contract, text string) (int, reportAnswer, []byte) {
	e.t.Helper()
	code, body := e.do("POST", "/v1/reports", token, map[string]any{"contract": contract, "report": text})
	var a reportAnswer
	if code < 300 {
		if err := json.Unmarshal(body, &a); err != nil {
			e.t.Fatalf("report answer: %v: %s", err, body)
		}
		a.body = strings.TrimSpace(string(body))
	}
	return code, a, body
}

// mustReport sends a report and wants it stored (201), with its id and
// period in the answer.
func (e *env) mustReport(token, contract, text string) reportAnswer {
	e.t.Helper()
	code, a, body := e.sendReport(token, contract, text)
	e.want(201, code, body, "report")
	if a.ID != reportID(e.t, text) || a.Appliance == "" || a.Period.Until.Before(a.Period.From) {
		e.t.Fatalf("report answered %s, want its id %s, appliance and period", body, reportID(e.t, text))
	}
	last := e.last(contract)
	if last.Action != "report" || last.Outcome != store.Accepted || last.Status != 201 || last.Request != a.ID || last.Appliance != a.Appliance {
		e.t.Fatalf("report recorded as %+v", last)
	}
	return a
}

// usageView is what GET /v1/contracts/{id} shows of usage.
type usageView struct {
	Peaks map[string]struct {
		Peak, Limit int64
		Appliance   string
		At          time.Time
	}
	Appliances []struct {
		ID    string
		Usage *struct {
			Report      string
			From, Until time.Time
			Limits      map[string]engine.Peaks
			Features    map[string]int
		}
	}
}

func (e *env) usage(token, contract string) usageView {
	e.t.Helper()
	code, body := e.do("GET", "/v1/contracts/"+contract, token, nil)
	e.want(200, code, body, "view")
	var v usageView
	if err := json.Unmarshal(body, &v); err != nil || v.Peaks == nil {
		e.t.Fatalf("view without peaks (%v): %s", err, body)
	}
	return v
}

// orderLimits creates a contract with its kind and limits and returns its
// token.
func (e *env) orderLimits(id, kind string, seats int, limits map[string]int) string {
	e.t.Helper()
	b := contractBody("order", seats)
	b["kind"], b["limits"] = kind, limits
	code, body := e.do("PUT", "/v1/contracts/"+id, e.admin, b)
	e.want(201, code, body, "order "+id)
	var out struct{ Token string }
	json.Unmarshal(body, &out)
	return out.Token
}

// testUsageReports: a report is stored once (a replay is 200 with the same
// answer), the contract's peaks keep the largest value checked with the
// appliance's effective limit, each appliance shows its latest report, a
// period that does not follow the previous one is usage_gap, and a report
// without the contract's section is a period with nothing used.
func testUsageReports(t *testing.T, e *env) {
	tok := e.orderLimits("IC-1", "commercial", 2, map[string]int{"vpn_users": 50, "peering_tunnels": 100})
	d, idle := newDevice(t, 1), newDevice(t, 2)
	h := chain("u", 8)
	e.accept(tok, "IC-1", d.lrf(e, history(h[:3], 0)))
	e.accept(tok, "IC-1", idle.lrf(e))
	bound, _ := e.store.Binding(t.Context(), "IC-1", d.id)

	// The first period: vpn_users was checked at 70 and refused (the
	// limit is 50).
	e.at("2026-02-01")
	first := d.usageReport(e, "2026-01-05", "2026-02-01", h[:4], 3, []engine.UsageSection{
		section("IC-1", map[string]engine.Peaks{"vpn_users": {Allowed: 50, Denied: 70}, "peering_tunnels": {Allowed: 12}}, map[string]int{"vpn": 20, "scion": 27}),
	}, func(u *engine.Usage) { u.Sequence = 1 }) // reports take no part in the sequence check
	a := e.mustReport(tok, "IC-1", first)
	if a.Appliance != d.id || !a.Period.From.Equal(instant(t, "2026-01-05")) || !a.Period.Until.Equal(instant(t, "2026-02-01")) {
		t.Fatalf("report answered %+v", a)
	}
	e.wantAnomaly(e.last("IC-1"), "")
	created := fmt.Sprintf(`{"id":"%s","appliance":"%s","period":{"from":"2026-01-05T00:00:00Z","until":"2026-02-01T00:00:00Z"}}`, a.ID, d.id)
	if a.body != created {
		t.Fatalf("report answered %s, want %s", a.body, created)
	}
	for _, token := range []string{tok, e.admin} {
		code, _, again := e.sendReport(token, "IC-1", first)
		e.want(200, code, again, "replay of a report")
		if strings.TrimSpace(string(again)) != created {
			t.Fatalf("a replay answered %s, want %s", again, created)
		}
	}
	if last := e.last("IC-1"); last.Status != 200 || last.Reason != "replay" || last.Request != a.ID {
		t.Fatalf("replay recorded as %+v", last)
	}
	if reports, _, err := e.store.Reports(t.Context(), "IC-1", "", 10); err != nil || len(reports) != 1 {
		t.Fatalf("stored reports after a replay: %d (%v), want 1", len(reports), err)
	}
	if b, _ := e.store.Binding(t.Context(), "IC-1", d.id); b.Sequence != bound.Sequence {
		t.Fatalf("a report moved the binding's sequence from %d to %d", bound.Sequence, b.Sequence)
	}
	e.wantBaseline(d, headOf(h[:4]))

	v := e.usage(tok, "IC-1")
	if p := v.Peaks["vpn_users"]; p.Peak != 70 || p.Limit != 50 || p.Appliance != d.id || !p.At.Equal(instant(t, "2026-02-01")) {
		t.Fatalf("peak of vpn_users = %+v, want 70 over its limit 50, by %s at 2026-02-01", p, d.id)
	}
	if p := v.Peaks["peering_tunnels"]; p.Peak != 12 || p.Limit != 100 || len(v.Peaks) != 2 {
		t.Fatalf("peaks = %+v", v.Peaks)
	}
	if len(v.Appliances) != 2 || v.Appliances[0].ID != d.id || v.Appliances[1].Usage != nil {
		t.Fatalf("appliances = %+v, want %s with usage and %s without", v.Appliances, d.id, idle.id)
	}
	u := v.Appliances[0].Usage
	if u == nil || u.Report != a.ID || !u.From.Equal(a.Period.From) || !u.Until.Equal(a.Period.Until) ||
		!reflect.DeepEqual(u.Limits, map[string]engine.Peaks{"vpn_users": {Allowed: 50, Denied: 70}, "peering_tunnels": {Allowed: 12}}) ||
		!reflect.DeepEqual(u.Features, map[string]int{"vpn": 20, "scion": 27}) {
		t.Fatalf("usage of %s = %+v", d.id, u)
	}

	// An addon contract adds its limits to the appliance's: the next peak
	// is within 50 + 25. The same report goes to the addon contract, which
	// keeps its own section (features only).
	addon := e.orderLimits("IC-2", "addon", 1, map[string]int{"vpn_users": 25})
	e.accept(addon, "IC-2", d.lrf(e, history(h[:5], 4)))
	e.at("2026-03-01")
	second := d.usageReport(e, "2026-02-01", "2026-03-01", h[:6], 5, []engine.UsageSection{
		section("IC-1", map[string]engine.Peaks{"vpn_users": {Allowed: 72}, "peering_tunnels": {Allowed: 9}}, map[string]int{"vpn": 28}),
		section("IC-2", nil, map[string]int{"peering": 3}),
	})
	e.mustReport(tok, "IC-1", second)
	e.wantAnomaly(e.last("IC-1"), "")
	e.mustReport(addon, "IC-2", second)
	v = e.usage(tok, "IC-1")
	if p := v.Peaks["vpn_users"]; p.Peak != 72 || p.Limit != 75 || !p.At.Equal(instant(t, "2026-03-01")) {
		t.Fatalf("peak of vpn_users with an addon = %+v, want 72 within 75", p)
	}
	if p := v.Peaks["peering_tunnels"]; p.Peak != 12 || !p.At.Equal(instant(t, "2026-02-01")) {
		t.Fatalf("a lower value moved the peak of peering_tunnels: %+v", p)
	}
	if u := v.Appliances[0].Usage; u == nil || u.Report != reportID(t, second) || u.Features["vpn"] != 28 {
		t.Fatalf("usage of %s = %+v, want the second report", d.id, u)
	}
	va := e.usage(addon, "IC-2")
	if u := va.Appliances[0].Usage; len(va.Peaks) != 0 || u == nil || len(u.Limits) != 0 || !reflect.DeepEqual(u.Features, map[string]int{"peering": 3}) {
		t.Fatalf("the addon contract shows %+v", va)
	}

	// A period that does not start where the last one ended, without a
	// section for IC-1: stored, as a period with nothing used, and recorded
	// as usage_gap.
	e.at("2026-04-01")
	gap := d.usageReport(e, "2026-03-10", "2026-04-01", h[:7], 5, []engine.UsageSection{section("IC-2", nil, map[string]int{"peering": 1})})
	e.mustReport(tok, "IC-1", gap)
	e.wantAnomaly(e.last("IC-1"), "usage_gap")
	items, _ := e.list("/v1/anomalies?contract=IC-1", e.admin, "anomalies", 10)
	var kinds []string
	for _, it := range items {
		var an struct{ Kind, Appliance, Detail string }
		json.Unmarshal(it, &an)
		kinds = append(kinds, an.Kind)
		if an.Kind == "usage_gap" && (an.Appliance != d.id || !strings.Contains(an.Detail, "2026-03-10") || !strings.Contains(an.Detail, "2026-03-01")) {
			t.Errorf("usage_gap anomaly = %+v", an)
		}
	}
	if fmt.Sprint(kinds) != "[usage_gap]" {
		t.Fatalf("anomalies of IC-1 = %v, want one usage_gap", kinds)
	}
	v = e.usage(tok, "IC-1")
	if u := v.Appliances[0].Usage; u == nil || u.Report != reportID(t, gap) || u.Limits == nil || u.Features == nil || len(u.Limits)+len(u.Features) != 0 {
		t.Fatalf("usage of a report without the contract's section = %+v, want the period with nothing used", u)
	}
	if v.Peaks["vpn_users"].Peak != 72 {
		t.Fatalf("peaks after a report without the section = %+v", v.Peaks)
	}

	// A report of an earlier period, carried late, fills a gap: it is no
	// gap itself, and the latest report stays the one shown.
	late := d.usageReport(e, "2026-03-01", "2026-03-10", h[:7], 5, []engine.UsageSection{section("IC-1", nil, nil)})
	e.mustReport(tok, "IC-1", late)
	e.wantAnomaly(e.last("IC-1"), "")
	if u := e.usage(tok, "IC-1").Appliances[0].Usage; u.Report != reportID(t, gap) {
		t.Fatalf("usage after a late report shows %s, want the latest %s", u.Report, reportID(t, gap))
	}
}

// testUsageRefusals: what POST /v1/reports refuses, in the API's order, and
// where each refusal is recorded.
func testUsageRefusals(t *testing.T, e *env) {
	tok := e.order("IC-1", 1)
	other := e.order("IC-2", 1)
	d := newDevice(t, 1)
	h := chain("r", 4)
	e.accept(tok, "IC-1", d.lrf(e, history(h[:3], 0)))
	e.at("2026-02-01")
	report := func(edit ...func(*engine.Usage)) string {
		return d.usageReport(e, "2026-01-05", "2026-02-01", h, 3, []engine.UsageSection{section("IC-1", map[string]engine.Peaks{"vpn_users": {Allowed: 3}}, nil)}, edit...)
	}
	refused := func(token, contract, text string, status int, slug, what string) []byte {
		t.Helper()
		code, _, body := e.sendReport(token, contract, text)
		e.want(status, code, body, what)
		e.wantType(body, slug)
		return body
	}

	code, _, body := e.sendReport("", "IC-1", report())
	e.want(401, code, body, "report without a token")
	code, body = e.do("POST", "/v1/reports", tok, map[string]any{"contract": "IC-1"})
	e.want(400, code, body, "body without a report")
	code, body = e.do("POST", "/v1/reports", tok, map[string]any{"contract": "IC-1", "report": report(), "extra": 1})
	e.want(400, code, body, "body with an unknown field")
	refused(tok, "IC-1", "not a report", 400, "malformed", "a report that is no report")
	refused(tok, "bad id", report(), 400, "malformed", "a malformed contract id")
	refused(tok, "IC-1", d.lrf(e), 400, "malformed", "an LRF sent as a report")
	body = refused(tok, "IC-1", flipArmor(report()), 400, "malformed", "a report with one byte changed")
	if !strings.Contains(string(body), "tenure report") {
		t.Errorf("a refused report does not say what to do: %s", body)
	}
	// Signed by another device key under the bound appliance's id.
	impostor := newDevice(t, 1)
	refused(tok, "IC-1", impostor.usageReport(e, "2026-01-05", "2026-02-01", h, 3, nil), 400, "malformed", "a report signed by another device key")
	if last := e.last("IC-1"); last.Action != "report" || last.Outcome != store.Refused || last.Status != 400 || last.Appliance != d.id {
		t.Fatalf("a report of another key recorded as %+v", last)
	}

	// Another contract's token: 403, recorded in that token's contract.
	before := len(e.ledger("IC-1"))
	refused(other, "IC-1", report(), 403, "forbidden", "a report with another contract's token")
	if n := len(e.ledger("IC-1")); n != before {
		t.Fatalf("a 403 was recorded in the ledger of the contract it tried to reach")
	}
	if last := e.last("IC-2"); last.Action != "report" || last.Status != 403 || last.Outcome != store.Refused {
		t.Fatalf("a 403 recorded in the token's contract as %+v", last)
	}
	refused(e.admin, "IC-404", report(), 404, "not-found", "a report for an unknown contract")
	// An appliance that never held a seat on the contract.
	stranger := newDevice(t, 3)
	refused(tok, "IC-1", stranger.usageReport(e, "2026-01-05", "2026-02-01", h, 3, nil), 404, "not-found", "a report of an appliance never bound")
	refused(other, "IC-2", report(), 404, "not-found", "a report for a contract its appliance was never bound to")

	// Rules: 422.
	body = refused(tok, "IC-1", report(func(u *engine.Usage) { u.Created = e.clock().Add(48 * time.Hour) }), 422, "clock-ahead", "a report created 2 days ahead")
	if !strings.Contains(string(body), "/v1/clock-resets") {
		t.Errorf("a report from the future does not name the clock reset: %s", body)
	}
	if last := e.last("IC-1"); last.Status != 422 || last.Outcome != store.Refused {
		t.Fatalf("a report from the future recorded as %+v", last)
	}
	refused(tok, "IC-1", report(func(u *engine.Usage) { u.Product = "core" }), 422, "refused", "a report for another product")
	// A day ahead is clock drift; a year old is an air gap.
	e.mustReport(tok, "IC-1", report(func(u *engine.Usage) { u.Created = e.clock().Add(23 * time.Hour) }))
	e.mustReport(tok, "IC-1", report(func(u *engine.Usage) {
		u.Created = e.clock().AddDate(-1, 0, 0)
		u.Period = engine.Period{From: u.Created.Add(-30 * engine.Day), Until: u.Created}
	}))
	// A period cannot end after its report was made.
	refused(tok, "IC-1", report(func(u *engine.Usage) { u.Period.Until = u.Created.Add(time.Second) }), 422, "refused", "a period ending after its report")

	if reports, _, _ := e.store.Reports(t.Context(), "IC-1", "", 10); len(reports) != 2 {
		t.Fatalf("stored %d reports, want the 2 accepted", len(reports))
	}
}

// testUsageHistory: a report's history is judged as a receipt's: a fork
// that abandons an accepted release is refused (history_fork), a restore is
// stored (history_restore) and becomes the baseline, a stale report is
// processed as usual.
func testUsageHistory(t *testing.T, e *env) {
	tok := e.order("IC-1", 1)
	other := e.order("IC-2", 1)
	d := newDevice(t, 1)
	h := chain("f", 6)
	a := e.accept(tok, "IC-1", d.lrf(e, history(h[:3], 0)))
	e.accept(other, "IC-2", d.lrf(e, history(h[:4], 3)))
	e.release(tok, d.receipt(e, "IC-1", []string{a.ID}, releaseHistory(h[:6], 4)))

	// A copy of the state from before the release reports on IC-2.
	e.at("2026-02-01")
	f := branch(h, 4, "g", 6)
	code, _, body := e.sendReport(other, "IC-2", d.usageReport(e, "2026-01-05", "2026-02-01", f, 4, []engine.UsageSection{section("IC-2", nil, map[string]int{"vpn": 3})}))
	e.want(409, code, body, "a report from a state put back to before a release")
	e.wantType(body, "history-fork")
	e.wantAnomaly(e.last("IC-2"), "history_fork")
	e.wantBaseline(d, headOf(h))
	if reports, _, _ := e.store.Reports(t.Context(), "IC-2", "", 10); len(reports) != 0 {
		t.Fatalf("a forked report was stored: %+v", reports)
	}
	// The released seat still pins its key: a report on IC-1 carried after
	// the release is taken.
	e.mustReport(tok, "IC-1", d.usageReport(e, "2026-01-05", "2026-01-20", h[:5], 3, []engine.UsageSection{section("IC-1", nil, map[string]int{"vpn": 2})}))
	e.wantAnomaly(e.last("IC-1"), "")

	// Another appliance's disk died; its backup is from entry 6, before the
	// last LRF the issuer accepted. No release is abandoned: a restore.
	third := e.order("IC-3", 1)
	r := newDevice(t, 2)
	g := chain("x", 8)
	e.accept(third, "IC-3", r.lrf(e, history(g[:5], 0)))
	e.accept(third, "IC-3", r.lrf(e, history(g[:8], 5)))
	restored := branch(g, 6, "y", 9)
	e.mustReport(third, "IC-3", r.usageReport(e, "2026-01-05", "2026-02-01", restored, 5, []engine.UsageSection{section("IC-3", nil, nil)}))
	e.wantAnomaly(e.last("IC-3"), "history_restore")
	e.wantBaseline(r, headOf(restored))

	// A report made at entry 7 of the restored history, carried after the
	// one at entry 9: stale, stored as usual, no anomaly, the baseline stays.
	e.mustReport(third, "IC-3", r.usageReport(e, "2026-01-01", "2026-01-05", restored[:7], 5, []engine.UsageSection{section("IC-3", nil, nil)}))
	e.wantAnomaly(e.last("IC-3"), "")
	e.wantBaseline(r, headOf(restored))
}

// Report makes the appliance's next usage report, for the period from to
// until and one contract, with per limit the values it was allowed and
// denied at and per feature the days it was checked, created at until: for
// tests of the operator command and the page. Each report's history holds
// the one before's.
func (a *Appliance) Report(t testing.TB, contract string, from, until time.Time, limits map[string]engine.Peaks, features map[string]int) string {
	t.Helper()
	trail := engine.NewTrail(chain(a.d.id, int(a.d.seq)+1), 0)
	return a.d.signUsage(t, engine.Normalize(until), engine.Normalize(from), engine.Normalize(until), trail,
		[]engine.UsageSection{section(contract, limits, features)})
}
