package issuertest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenurehq/tenure/issuer"
	"github.com/tenurehq/tenure/issuer/internal/store"
	"github.com/tenurehq/tenure/shared/engine"
)

// The clock tests (DESIGN.md, "Clock recovery"): an appliance whose clock
// ran ahead gets a clock reset; receipts are taken whatever their date; the
// issuer stops signing while its own clock is behind what it signed.

// y2099 is where a wrong clock has run to.
var y2099 = time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)

// createdAt sets an LRF's created time: the appliance's clock.
func createdAt(t time.Time) func(*engine.Request) {
	return func(r *engine.Request) { r.Created = t }
}

// clockReset is the answer of POST /v1/clock-resets.
type clockReset struct {
	Clock, Appliance string
	Mark             time.Time
}

// reset sends an LRF to POST /v1/clock-resets.
func (e *env) reset(token, lrf, reason string) (int, clockReset, []byte) {
	e.t.Helper()
	code, b := e.do("POST", "/v1/clock-resets", token, map[string]any{"request": lrf, "reason": reason})
	var cr clockReset
	if code < 300 {
		if err := json.Unmarshal(b, &cr); err != nil {
			e.t.Fatalf("clock reset answer: %v: %s", err, b)
		}
	}
	return code, cr, b
}

// wantType checks a problem's type slug.
func (e *env) wantType(body []byte, slug string) {
	e.t.Helper()
	var p struct{ Type string }
	json.Unmarshal(body, &p)
	if got := strings.TrimPrefix(p.Type, "https://tenure.dev/problems/"); got != slug {
		e.t.Fatalf("refused as %q, want %q: %s", got, slug, body)
	}
}

// openClock verifies a clock reset against the issuer's published keys, as
// the appliance does.
func (e *env) openClock(text string) *engine.ClockReset {
	e.t.Helper()
	code, body := e.do("GET", "/v1/keys", "", nil)
	e.want(200, code, body, "keys")
	var keys struct{ Keys []string }
	json.Unmarshal(body, &keys)
	trust, err := engine.ParseTrust(strings.Join(keys.Keys, "\n"))
	if err != nil {
		e.t.Fatal(err)
	}
	if !strings.HasPrefix(text, "-----BEGIN TENURE CLOCK-----\n") {
		e.t.Fatalf("the clock reset is not armored as TENURE CLOCK:\n%.200s", text)
	}
	c, err := engine.OpenClockReset([]byte(text), trust)
	if err != nil {
		e.t.Fatalf("OpenClockReset: %v", err)
	}
	return c
}

// parsed is an LRF as the issuer reads it.
func parsed(t *testing.T, lrf string) *engine.Request {
	t.Helper()
	r, _, err := engine.OpenRequest([]byte(lrf))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// wantReset checks a clock reset answers the LRF at the issuer's clock, for
// the device key keyHash is of.
func (e *env) wantReset(cr clockReset, lrf, keyHash, reason string) {
	e.t.Helper()
	r, now := parsed(e.t, lrf), e.clock()
	c := e.openClock(cr.Clock)
	want := engine.ClockReset{Appliance: r.Appliance, DeviceKeyHash: keyHash, Nonce: r.Nonce, Sequence: r.Sequence, Mark: now, Reason: reason, Issued: now}
	if *c != want {
		e.t.Fatalf("clock reset = %+v, want %+v", *c, want)
	}
	if cr.Appliance != r.Appliance || !cr.Mark.Equal(now) {
		e.t.Fatalf("clock reset answer names %s at %s, want %s at %s", cr.Appliance, cr.Mark, r.Appliance, now)
	}
}

// testClockResetBound: an appliance whose clock ran to 2099 is refused at
// activation with a pointer to the clock-reset route; the admin's reset for
// it is signed for its pinned key, recorded in the ledger of each contract
// it holds a seat on (not one it released, not another appliance's), and
// moves neither its seats nor its history.
func testClockResetBound(t *testing.T, e *env) {
	tok1, tok2, tok3, tok4 := e.order("IC-1", 1), e.order("IC-2", 1), e.order("IC-3", 1), e.order("IC-4", 1)
	d, other := newDevice(t, 1), newDevice(t, 2)
	h := chain("c", 6)
	e.accept(tok1, "IC-1", d.lrf(e, history(h[:2], 0)))
	e.accept(tok2, "IC-2", d.lrf(e, history(h[:3], 2)))
	a4 := e.accept(tok4, "IC-4", d.lrf(e, history(h[:3], 2)))
	e.release(tok4, d.receipt(e, "IC-4", []string{a4.ID}, releaseHistory(h[:4], 3)))
	e.accept(tok3, "IC-3", other.lrf(e))

	// The clock jumps to 2099: its next LRF is from the future.
	future := d.lrf(e, history(h[:4], 3), createdAt(y2099))
	body := e.refused(tok1, "IC-1", future, 422, "clock-ahead")
	for _, want := range []string{"from the future", "2099-01-01T00:00:00Z", "POST /v1/clock-resets", "tenure install"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("the refusal of an LRF from 2099 does not say %q: %s", want, body)
		}
	}

	before := map[string]int{}
	for _, c := range []string{"IC-1", "IC-2", "IC-3", "IC-4"} {
		before[c] = len(e.ledger(c))
	}
	bindings, _ := e.store.ApplianceBindings(t.Context(), d.id)
	const reason = "appliance clock ran to 2099 after a BIOS reset"
	code, cr, body := e.reset(e.admin, future, reason)
	e.want(201, code, body, "clock reset of a bound appliance")
	e.wantReset(cr, future, engine.KeyHash(d.vkey), reason)

	mark := e.clock().Format(engine.TimeFormat)
	for _, c := range []string{"IC-1", "IC-2"} {
		l := e.ledger(c)
		if len(l) != before[c]+1 {
			t.Fatalf("%s's ledger grew by %d rows, want 1", c, len(l)-before[c])
		}
		en := l[len(l)-1]
		if en.Action != "clock-reset" || en.Outcome != store.Accepted || en.Status != 201 || en.Appliance != d.id || en.Actor != "admin" || en.Request == "" ||
			!strings.Contains(en.Reason, reason) || !strings.Contains(en.Reason, mark) || !strings.Contains(en.Reason, fmt.Sprintf("sequence %d", d.seq)) {
			t.Fatalf("%s's ledger row of the reset = %+v, want the reason, mark %s and sequence %d", c, en, mark, d.seq)
		}
		e.wantAnomaly(en, "")
	}
	for _, c := range []string{"IC-3", "IC-4"} {
		if n := len(e.ledger(c)); n != before[c] {
			t.Errorf("the reset wrote %d rows to %s, where the appliance holds no seat", n-before[c], c)
		}
	}
	after, _ := e.store.ApplianceBindings(t.Context(), d.id)
	if len(after) != 3 || !reflect.DeepEqual(after, bindings) {
		t.Fatalf("the reset changed the appliance's bindings:\n%+v\n%+v", bindings, after)
	}
	e.wantBaseline(d, headOf(h[:4]))

	// Reset, the appliance asks again at the issuer's time and is served.
	e.accept(tok1, "IC-1", d.lrf(e, history(h[:5], 3)))
	e.wantBaseline(d, headOf(h[:5]))
}

// testClockResetUnbound: an appliance whose clock jumped before its first
// activation gets a reset for the LRF's own key, and no seat: no contract
// changes, and it activates afterwards as any new appliance.
func testClockResetUnbound(t *testing.T, e *env) {
	tok := e.order("IC-1", 2)
	e.accept(tok, "IC-1", newDevice(t, 2).lrf(e))
	code, view := e.do("GET", "/v1/contracts/IC-1", e.admin, nil)
	e.want(200, code, view, "view")
	ledger := e.ledger("IC-1")

	d := newDevice(t, 1)
	lrf := d.lrf(e, createdAt(y2099))
	code, cr, body := e.reset(e.admin, lrf, "clock set to 2099 at installation")
	e.want(201, code, body, "clock reset of an unbound appliance")
	e.wantReset(cr, lrf, engine.KeyHash(d.vkey), "clock set to 2099 at installation")

	if bs, err := e.store.ApplianceBindings(t.Context(), d.id); err != nil || len(bs) != 0 {
		t.Fatalf("the reset of an unbound appliance bound it: %+v, %v", bs, err)
	}
	if _, err := e.store.History(t.Context(), d.id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the reset of an unbound appliance recorded a history: %v", err)
	}
	code, again := e.do("GET", "/v1/contracts/IC-1", e.admin, nil)
	e.want(200, code, again, "view")
	if string(again) != string(view) {
		t.Fatalf("the reset of an unbound appliance changed the contract view:\n%s\n%s", view, again)
	}
	if l := e.ledger("IC-1"); len(l) != len(ledger) {
		t.Fatalf("the reset of an unbound appliance wrote to a contract's ledger: %+v", l[len(ledger):])
	}

	e.mustActivate(tok, "IC-1", d.lrf(e), "", "initial", "2026-01-05T00:00:00Z", "2027-01-05T00:00:00Z")
}

// testClockResetRefusals: the route's refusals, in the API's check order.
func testClockResetRefusals(t *testing.T, e *env) {
	tok1, tok2, tok3 := e.order("IC-1", 1), e.order("IC-2", 1), e.order("IC-3", 1)
	d := newDevice(t, 1)
	h := chain("r", 6)
	a := e.accept(tok1, "IC-1", d.lrf(e, history(h[:3], 0)))
	e.accept(tok2, "IC-2", d.lrf(e, history(h[:4], 3)))
	lrf := d.lrf(e, history(h[:4], 3), createdAt(y2099))

	code, _, body := e.reset("", lrf, "x")
	e.want(401, code, body, "reset without a token")

	forged := flipArmor(lrf)
	for _, tc := range []struct {
		what string
		body []byte
	}{
		{"malformed JSON", []byte(`{"request": `)},
		{"an unknown field", mustJSON(t, map[string]any{"request": lrf, "reason": "x", "contract": "IC-1"})},
		{"no reason", mustJSON(t, map[string]any{"request": lrf})},
		{"a reason of two lines", mustJSON(t, map[string]any{"request": lrf, "reason": "one\ntwo"})},
		{"a reason over 200 characters", mustJSON(t, map[string]any{"request": lrf, "reason": strings.Repeat("é", 201)})},
		{"no request", mustJSON(t, map[string]any{"reason": "x"})},
		{"not an LRF", mustJSON(t, map[string]any{"request": "hello", "reason": "x"})},
		{"a receipt", mustJSON(t, map[string]any{"request": d.receipt(e, "IC-1", []string{a.ID}), "reason": "x"})},
		{"a forged LRF", mustJSON(t, map[string]any{"request": forged, "reason": "x"})},
	} {
		for _, tok := range []string{e.admin, tok3} { // 400 comes before 403
			code, body := e.raw("POST", "/v1/clock-resets", tok, tc.body)
			e.want(400, code, body, "reset with "+tc.what)
		}
	}
	doc := "-----BEGIN TENURE LICENSE REQUEST-----\n" + strings.Repeat("A", 65<<10)
	code, body = e.do("POST", "/v1/clock-resets", e.admin, map[string]any{"request": doc, "reason": "x"})
	e.want(413, code, body, "reset with an oversized LRF")

	// A contract token may not reset clocks: recorded in its own contract,
	// never where the appliance is bound.
	n1, n2 := len(e.ledger("IC-1")), len(e.ledger("IC-2"))
	code, _, body = e.reset(tok3, lrf, "the customer asks")
	e.want(403, code, body, "reset with a contract token")
	if en := e.last("IC-3"); en.Action != "clock-reset" || en.Outcome != store.Refused || en.Status != 403 || en.Appliance != d.id {
		t.Fatalf("IC-3's ledger row of the refused reset = %+v", en)
	}
	if len(e.ledger("IC-1")) != n1 || len(e.ledger("IC-2")) != n2 {
		t.Fatal("a contract token's refused reset was recorded where the appliance is bound")
	}

	// Another appliance's key under the bound appliance's id.
	impostor := newDevice(t, 1)
	code, _, body = e.reset(e.admin, impostor.lrf(e, createdAt(y2099)), "the customer asks")
	e.want(409, code, body, "reset for another device key")
	e.wantType(body, "identity")
	for _, c := range []string{"IC-1", "IC-2"} {
		en := e.last(c)
		if en.Action != "clock-reset" || en.Outcome != store.Refused || en.Status != 409 {
			t.Fatalf("%s's ledger row of the refused reset = %+v", c, en)
		}
		e.wantAnomaly(en, "identity_conflict")
	}

	// A state put back to before an accepted release.
	e.release(tok1, d.receipt(e, "IC-1", []string{a.ID}, releaseHistory(h[:6], 4)))
	n1 = len(e.ledger("IC-1"))
	f := branch(h, 4, "g", 6)
	d.seq = 2
	code, _, body = e.reset(e.admin, d.lrf(e, history(f, 4), createdAt(y2099)), "restored from a backup")
	e.want(409, code, body, "reset for a fork")
	e.wantType(body, "history-fork")
	if !strings.Contains(string(body), "/v1/contracts/IC-1/reallocations") {
		t.Errorf("a fork refusal does not say what the vendor can do: %s", body)
	}
	e.wantAnomaly(e.last("IC-2"), "history_fork")
	if len(e.ledger("IC-1")) != n1 {
		t.Fatal("the fork's refusal was recorded on IC-1, whose seat the appliance released")
	}
	// The appliance itself, going on from its history, is served.
	code, _, body = e.reset(e.admin, d.lrf(e, history(h, 4), createdAt(y2099)), "the clock ran ahead")
	e.want(201, code, body, "reset after the refusals")
}

// testReceiptClockAhead: a receipt dated in 2099 frees its seat and is
// recorded as clock_ahead; one a few hours ahead is drift.
func testReceiptClockAhead(t *testing.T, e *env) {
	tok1, tok2 := e.order("IC-1", 1), e.order("IC-2", 1)
	d := newDevice(t, 1)
	a1 := e.accept(tok1, "IC-1", d.lrf(e))
	a2 := e.accept(tok2, "IC-2", d.lrf(e))

	receipt := d.receipt(e, "IC-1", []string{a1.ID}, func(r *engine.Release) { r.Released = y2099 })
	if got, want := e.release(tok1, receipt), fmt.Sprintf(`{"released":["%s"],"appliances_free":1}`, a1.ID); strings.TrimSpace(got) != want {
		t.Fatalf("a receipt from 2099 answered %s, want %s", got, want)
	}
	en := e.last("IC-1")
	e.wantAnomaly(en, "clock_ahead")
	if en.Outcome != store.Accepted || !strings.Contains(en.Anomaly, "2099-01-01T00:00:00Z") {
		t.Fatalf("ledger row of a receipt from 2099 = %+v", en)
	}
	if b, _ := e.store.Binding(t.Context(), "IC-1", d.id); b.Released == nil {
		t.Fatal("a receipt from 2099 did not free the seat")
	}

	drift := d.receipt(e, "IC-2", []string{a2.ID}, func(r *engine.Release) { r.Released = e.clock().Add(23 * time.Hour) })
	e.release(tok2, drift)
	e.wantAnomaly(e.last("IC-2"), "")
}

// testClockBehind: put back more than a day behind its newest license, the
// issuer signs nothing (activations, clock resets) while replays and
// releases go on; an admin's acceptance of the clock, written to the store
// as `tenure-issuer clock-ack` does from another process, lets it sign
// again. A clock reset counts as signed too.
func testClockBehind(t *testing.T, e *env) {
	tok := e.order("IC-1", 4)
	d1, d2, d3 := newDevice(t, 1), newDevice(t, 2), newDevice(t, 3)
	e.at("2026-03-01")
	first := d1.lrf(e)
	a := e.accept(tok, "IC-1", first)

	// Less than a day behind is drift.
	e.at("2026-02-28T12:00:00Z")
	e.accept(tok, "IC-1", d2.lrf(e))

	e.at("2026-02-01")
	body := e.refused(tok, "IC-1", d3.lrf(e), 503, "clock-behind")
	for _, want := range []string{"2026-02-01T10:00:00Z", "2026-03-01T10:00:00Z", "tenure-issuer clock-ack"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("the clock-behind refusal does not say %q: %s", want, body)
		}
	}
	if en := e.last("IC-1"); en.Action != "activation" || en.Outcome != store.Refused || en.Status != 503 {
		t.Fatalf("ledger row of the refused activation = %+v", en)
	}
	code, _, body := e.reset(e.admin, d3.lrf(e, createdAt(y2099)), "clock ran ahead")
	e.want(503, code, body, "clock reset while the issuer's clock is behind")
	e.wantType(body, "clock-behind")
	// A replay signs nothing; a release signs nothing.
	code, again, body := e.activate(tok, "IC-1", first, "")
	e.want(200, code, body, "replay while the issuer's clock is behind")
	if again.ID != a.ID {
		t.Fatalf("replay answered %s, want %s", again.ID, a.ID)
	}
	e.release(tok, d1.receipt(e, "IC-1", []string{a.ID}))

	rec, err := issuer.AckClock(t.Context(), e.store, e.clock(), "the issuer's clock ran a month ahead; it is right now")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Was == nil || rec.Was.Format(engine.TimeFormat) != "2026-03-01T10:00:00Z" || !rec.Issued.Equal(e.clock()) {
		t.Fatalf("AckClock wrote %+v", rec)
	}
	e.accept(tok, "IC-1", d3.lrf(e))
	code, _, body = e.reset(e.admin, newDevice(t, 4).lrf(e, createdAt(y2099)), "clock ran ahead")
	e.want(201, code, body, "clock reset after the acceptance")
	stored, err := e.store.Clock(t.Context())
	if err != nil || stored.Acked == nil || !stored.Acked.Equal(e.clock()) || !strings.Contains(stored.Reason, "a month ahead") {
		t.Fatalf("the stored clock after the acceptance = %+v, %v", stored, err)
	}
	if _, err := issuer.AckClock(t.Context(), e.store, e.clock(), "two\nlines"); err == nil {
		t.Fatal("AckClock took a reason of two lines")
	}

	// A clock reset alone is enough to be behind of.
	e2 := newEnv(t, e.open)
	tok2 := e2.order("IC-1", 1)
	e2.at("2026-03-01")
	code, _, body = e2.reset(e2.admin, newDevice(t, 5).lrf(e2, createdAt(y2099)), "clock ran ahead")
	e2.want(201, code, body, "clock reset")
	e2.at("2026-02-01")
	e2.refused(tok2, "IC-1", newDevice(t, 6).lrf(e2), 503, "clock-behind")
}

// testClockWrites: the issuer writes the largest issued time down on its
// first signing and then only once it has grown by more than an hour, never
// once per activation.
func testClockWrites(t *testing.T, e *env) {
	tok := e.order("IC-1", 10)
	if _, err := e.store.Clock(t.Context()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the issuer wrote its clock before signing anything: %v", err)
	}
	stored := func() *store.Clock {
		t.Helper()
		c, err := e.store.Clock(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	e.accept(tok, "IC-1", newDevice(t, 1).lrf(e))
	if c := stored(); c.Version != 1 || !c.Issued.Equal(t0) {
		t.Fatalf("after the first activation the stored clock is %+v, want %s at version 1", c, t0)
	}
	var versions []uint64
	for i, at := range []string{"2026-01-05T10:20:00Z", "2026-01-05T11:00:00Z", "2026-01-05T11:00:01Z", "2026-01-05T11:30:00Z", "2026-01-05T12:00:02Z"} {
		e.at(at)
		e.accept(tok, "IC-1", newDevice(t, 2+i).lrf(e))
		versions = append(versions, stored().Version)
	}
	if want := []uint64{1, 1, 2, 2, 3}; !slices.Equal(versions, want) {
		t.Fatalf("stored clock versions after each activation = %v, want %v", versions, want)
	}
	if c := stored(); c.Issued.Format(engine.TimeFormat) != "2026-01-05T12:00:02Z" {
		t.Fatalf("the stored clock is %+v, want the last activation's time", c)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
