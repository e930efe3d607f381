package issuertest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tenurehq/tenure/issuer/internal/store"
	"github.com/tenurehq/tenure/shared/engine"
)

// The history tests (DESIGN.md, "State integrity", property 4) give
// appliances made-up histories: chain(seed, n) is the hashes of entries 1 to
// n, and a state put back from a backup at entry k goes on with the entries
// of another seed, branch(h, k, seed, n).

func chain(seed string, n int) []string {
	out := make([]string, n)
	for i := range out {
		h := sha256.Sum256(fmt.Appendf(nil, "%s/%d", seed, i+1))
		out[i] = hex.EncodeToString(h[:])
	}
	return out
}

func branch(h []string, k int, seed string, n int) []string {
	return append(slices.Clone(h[:k]), chain(seed, n)[k:]...)
}

// headOf is the head of a history whose entries are hashes.
func headOf(hashes []string) engine.Head {
	return engine.Head{N: uint64(len(hashes)), Hash: hashes[len(hashes)-1]}
}

// history sets an LRF's history to the entries hashes, since the head its
// newest license names.
func history(hashes []string, since uint64) func(*engine.Request) {
	return func(r *engine.Request) { r.History = engine.NewTrail(hashes, since) }
}

// releaseHistory sets a receipt's history, as history does an LRF's.
func releaseHistory(hashes []string, since uint64) func(*engine.Release) {
	return func(r *engine.Release) { r.History = engine.NewTrail(hashes, since) }
}

// accept activates and wants a new license, whatever its case.
func (e *env) accept(token, contract, lrf string) activation {
	e.t.Helper()
	code, a, body := e.activate(token, contract, lrf, "")
	if code == 200 && a.Reason == "reissue" {
		return a // the stored license, which a reissue returns
	}
	e.want(201, code, body, "activation")
	return a
}

// refused activates and wants the status and problem type slug.
func (e *env) refused(token, contract, lrf string, status int, slug string) []byte {
	e.t.Helper()
	code, _, body := e.activate(token, contract, lrf, "")
	e.want(status, code, body, "activation")
	var p struct{ Type string }
	json.Unmarshal(body, &p)
	if got := strings.TrimPrefix(p.Type, "https://tenure.dev/problems/"); got != slug {
		e.t.Fatalf("activation refused as %q, want %q: %s", got, slug, body)
	}
	return body
}

// release sends a receipt and wants it accepted.
func (e *env) release(token, receipt string) string {
	e.t.Helper()
	code, body := e.do("POST", "/v1/releases", token, map[string]any{"receipt": receipt})
	e.want(200, code, body, "release")
	return string(body)
}

// last is the newest ledger entry of a contract.
func (e *env) last(contract string) store.Entry {
	e.t.Helper()
	l := e.ledger(contract)
	return l[len(l)-1]
}

// wantAnomaly checks a ledger entry records an anomaly of kind, or none
// when kind is "".
func (e *env) wantAnomaly(en store.Entry, kind string) {
	e.t.Helper()
	if kind == "" && en.Anomaly != "" || kind != "" && !strings.HasPrefix(en.Anomaly, kind+": ") {
		e.t.Fatalf("ledger entry %s/%s (%d) records anomaly %q, want kind %q", en.Action, en.Outcome, en.Status, en.Anomaly, kind)
	}
}

// head opens an issued license on the device and returns the history head
// it carries.
func (e *env) head(d *device, a activation) *engine.Head {
	e.t.Helper()
	trust, err := engine.ParseTrust(e.vkey)
	if err != nil {
		e.t.Fatal(err)
	}
	l, _, err := engine.OpenLicense([]byte(a.License), d.identity, trust)
	if err != nil {
		e.t.Fatalf("OpenLicense: %v", err)
	}
	return l.Head
}

func (e *env) wantHead(d *device, a activation, want engine.Head) {
	e.t.Helper()
	if got := e.head(d, a); got == nil || *got != want {
		e.t.Fatalf("license %s carries head %+v, want %+v", a.ID, got, want)
	}
}

// baseline is the newest head the issuer accepted from an appliance.
func (e *env) baseline(d *device) *engine.Head {
	e.t.Helper()
	h, err := e.store.History(e.t.Context(), d.id)
	if err != nil {
		e.t.Fatalf("History(%s): %v", d.id, err)
	}
	return h.Baseline
}

func (e *env) wantBaseline(d *device, want engine.Head) {
	e.t.Helper()
	if got := e.baseline(d); got == nil || *got != want {
		e.t.Fatalf("baseline of %s = %+v, want %+v", d.id, got, want)
	}
}

// testHistoryContinuation: documents that continue the history move the
// baseline, across contracts, and each license carries exactly the head of
// the LRF it answers.
func testHistoryContinuation(t *testing.T, e *env) {
	tok := e.order("IC-1", 1)
	other := e.order("IC-2", 1)
	d := newDevice(t, 1)
	h := chain("d1", 9)

	a := e.accept(tok, "IC-1", d.lrf(e, history(h[:3], 0)))
	e.wantHead(d, a, headOf(h[:3]))
	e.wantBaseline(d, headOf(h[:3]))
	// Its newest license names entry 3: the next LRF starts there.
	a = e.accept(tok, "IC-1", d.lrf(e, history(h[:5], 3)))
	e.wantHead(d, a, headOf(h[:5]))
	e.wantBaseline(d, headOf(h[:5]))
	// The history is the appliance's, whatever the contract.
	a = e.accept(other, "IC-2", d.lrf(e, history(h[:9], 5)))
	e.wantHead(d, a, headOf(h[:9]))
	e.wantBaseline(d, headOf(h[:9]))
	// Making an LRF is no event: the next one may end where this one did.
	a = e.accept(other, "IC-2", d.lrf(e, history(h[:9], 9)))
	e.wantHead(d, a, headOf(h[:9]))
	e.wantBaseline(d, headOf(h[:9]))
	for _, c := range []string{"IC-1", "IC-2"} {
		for _, en := range e.ledger(c) {
			e.wantAnomaly(en, "")
		}
	}

	// Another device key under the same appliance id, on a contract where
	// the id is not bound yet, is not this appliance's history: it neither
	// is judged against it nor moves it.
	third := e.order("IC-3", 1)
	impostor := newDevice(t, 1)
	e.accept(third, "IC-3", impostor.lrf(e, history(chain("impostor", 2), 0)))
	e.wantAnomaly(e.last("IC-3"), "")
	e.wantBaseline(d, headOf(h[:9]))
	hist, _ := e.store.History(t.Context(), d.id)
	if len(hist.Seen) != 9 || hist.Seen[0].Head != headOf(h[:1]) || hist.Seen[8].Head != headOf(h) {
		t.Fatalf("seen heads = %+v, want entries 1 to 9", hist.Seen)
	}
}

// testHistoryStale: an LRF made before the last one accepted, carried late,
// is 409 stale and no anomaly; its replay is still answered.
func testHistoryStale(t *testing.T, e *env) {
	tok := e.order("IC-1", 1)
	d := newDevice(t, 1)
	h := chain("s", 8)
	lrf := d.lrf(e, history(h[:5], 0))
	first := e.accept(tok, "IC-1", lrf)
	late := d.lrf(e, history(h[:6], 5))
	e.accept(tok, "IC-1", d.lrf(e, history(h[:8], 5)))

	// Its sequence is below the last accepted one: the history tells what
	// it is.
	body := e.refused(tok, "IC-1", late, 409, "stale")
	if !strings.Contains(string(body), "tenure request") {
		t.Errorf("a stale refusal does not say what to do: %s", body)
	}
	last := e.last("IC-1")
	if last.Outcome != store.Refused || last.Status != 409 {
		t.Fatalf("stale LRF recorded as %+v", last)
	}
	e.wantAnomaly(last, "")
	e.wantBaseline(d, headOf(h[:8]))

	code, again, body := e.activate(tok, "IC-1", lrf, "")
	e.want(200, code, body, "replay of an LRF older than the baseline")
	if again.ID != first.ID {
		t.Fatalf("replay answered %s, want %s", again.ID, first.ID)
	}
}

// testHistoryStaleReceipt: a receipt made before an LRF the issuer has
// since accepted is processed as usual, with no anomaly.
func testHistoryStaleReceipt(t *testing.T, e *env) {
	tok := e.order("IC-1", 1)
	other := e.order("IC-2", 1)
	d := newDevice(t, 1)
	h := chain("r", 7)
	a := e.accept(tok, "IC-1", d.lrf(e, history(h[:3], 0)))
	// The release is entry 5; the receipt is carried after an LRF for
	// another contract made at entry 7.
	receipt := d.receipt(e, "IC-1", []string{a.ID}, releaseHistory(h[:5], 3))
	e.accept(other, "IC-2", d.lrf(e, history(h[:7], 3)))

	if got, want := e.release(tok, receipt), fmt.Sprintf(`{"released":["%s"],"appliances_free":1}`, a.ID); strings.TrimSpace(got) != want {
		t.Fatalf("stale receipt answered %s, want %s", got, want)
	}
	e.wantAnomaly(e.last("IC-1"), "")
	e.wantBaseline(d, headOf(h[:7]))
	hist, _ := e.store.History(t.Context(), d.id)
	if len(hist.Releases) != 1 || hist.Releases[0].Contract != "IC-1" || hist.Releases[0].Head != headOf(h[:5]) {
		t.Fatalf("release heads = %+v, want IC-1's at entry 5", hist.Releases)
	}
}

// testHistoryRestore: a state put back from a backup (a fork that abandons
// no release) is accepted, recorded as history_restore, and its head is the
// baseline, even though its sequence went back with it.
func testHistoryRestore(t *testing.T, e *env) {
	tok := e.order("IC-1", 1)
	d := newDevice(t, 1)
	h := chain("x", 8)
	e.accept(tok, "IC-1", d.lrf(e, history(h[:5], 0)))
	lost := d.lrf(e, history(h[:8], 5))
	e.accept(tok, "IC-1", lost)

	// The disk died; the backup was made at entry 6 and sequence 1.
	r := branch(h, 6, "y", 10)
	d.seq = 1
	a := e.accept(tok, "IC-1", d.lrf(e, history(r[:9], 5)))
	e.wantAnomaly(e.last("IC-1"), "history_restore")
	e.wantHead(d, a, headOf(r[:9]))
	e.wantBaseline(d, headOf(r[:9]))

	// The restored appliance goes on: no anomaly.
	e.accept(tok, "IC-1", d.lrf(e, history(r, 9)))
	e.wantAnomaly(e.last("IC-1"), "")
	e.wantBaseline(d, headOf(r))
}

// testHistoryFork: a state put back to before an accepted release is
// refused as a fork (not as an old sequence) on every contract and
// recorded as history_fork, until an admin reallocation names the
// appliance.
func testHistoryFork(t *testing.T, e *env) {
	tok := e.order("IC-1", 1)
	other := e.order("IC-2", 1)
	d := newDevice(t, 1)
	h := chain("f", 6)
	a := e.accept(tok, "IC-1", d.lrf(e, history(h[:3], 0)))
	a2 := e.accept(other, "IC-2", d.lrf(e, history(h[:4], 3)))
	e.release(tok, d.receipt(e, "IC-1", []string{a.ID}, releaseHistory(h[:6], 4)))
	e.wantBaseline(d, headOf(h))

	// A copy of the state from entry 4, before the release, comes back,
	// its sequence with it (2, now 3, the receipt's).
	f := branch(h, 4, "g", 6)
	d.seq = 2
	body := e.refused(other, "IC-2", d.lrf(e, history(f, 4)), 409, "history-fork")
	if !strings.Contains(string(body), "/v1/contracts/IC-1/reallocations") {
		t.Errorf("a fork refusal does not say what the vendor can do: %s", body)
	}
	e.wantAnomaly(e.last("IC-2"), "history_fork")
	d.seq = 2
	e.refused(tok, "IC-1", d.lrf(e, history(f, 4)), 409, "history-fork")
	e.wantAnomaly(e.last("IC-1"), "history_fork")
	// So is a receipt from it.
	code, body := e.do("POST", "/v1/releases", other, map[string]any{"receipt": d.receipt(e, "IC-2", []string{a2.ID}, releaseHistory(f, 4))})
	e.want(409, code, body, "receipt from a state put back to before a release")
	e.wantAnomaly(e.last("IC-2"), "history_fork")
	if b, _ := e.store.Binding(t.Context(), "IC-2", d.id); b.Released != nil {
		t.Fatal("a receipt from a fork freed IC-2's seat")
	}
	e.wantBaseline(d, headOf(h))
	if b, _ := e.store.Binding(t.Context(), "IC-2", d.id); b.Sequence != 2 {
		t.Fatalf("a refused fork moved IC-2's binding to sequence %d", b.Sequence)
	}

	// The vendor reallocates the appliance on IC-1, whose seat is free
	// already: the fork is served again, as a restore.
	code, body = e.do("POST", "/v1/contracts/IC-1/reallocations", e.admin, map[string]any{"appliance": d.id, "reason": "disk restored from a backup"})
	e.want(200, code, body, "reallocation of a released appliance with a release in its history")
	if strings.TrimSpace(string(body)) != `{"released":[],"appliances_free":1}` {
		t.Fatalf("reallocation = %s", body)
	}
	if hist, _ := e.store.History(t.Context(), d.id); len(hist.Releases) != 0 {
		t.Fatalf("the reallocation left release heads %+v", hist.Releases)
	}
	code, body = e.do("POST", "/v1/contracts/IC-1/reallocations", e.admin, map[string]any{"appliance": d.id, "reason": "again"})
	e.want(409, code, body, "reallocation of a free seat with nothing to clear")

	d.seq = 2
	a = e.accept(other, "IC-2", d.lrf(e, history(f, 4)))
	e.wantAnomaly(e.last("IC-2"), "history_restore")
	e.wantHead(d, a, headOf(f))
	e.wantBaseline(d, headOf(f))
}

// testHistoryRestoreAfterRelease: a restore from a backup made after a
// release and a later activation does not abandon the release, though its
// history starts after it: it is a restore, not a fork.
func testHistoryRestoreAfterRelease(t *testing.T, e *env) {
	tok := e.order("IC-1", 1)
	d := newDevice(t, 1)
	h := chain("k", 10)
	a := e.accept(tok, "IC-1", d.lrf(e, history(h[:3], 0)))
	e.release(tok, d.receipt(e, "IC-1", []string{a.ID}, releaseHistory(h[:5], 3)))
	a = e.accept(tok, "IC-1", d.lrf(e, history(h[:7], 3)))
	e.accept(tok, "IC-1", d.lrf(e, history(h[:10], 7)))

	// The backup holds entries 1 to 8 and the license issued at entry 7.
	r := branch(h, 8, "m", 11)
	d.seq = 3
	e.accept(tok, "IC-1", d.lrf(e, history(r, 7)))
	e.wantAnomaly(e.last("IC-1"), "history_restore")
	e.wantBaseline(d, headOf(r))
}

// testHistoryAbsent: an LRF without a history (an older validator) is
// accepted, its license carries no head, and the next LRF with a history is
// the new baseline.
func testHistoryAbsent(t *testing.T, e *env) {
	tok := e.order("IC-1", 1)
	d := newDevice(t, 1)
	a := e.accept(tok, "IC-1", d.lrf(e))
	if hd := e.head(d, a); hd != nil {
		t.Fatalf("license answering an LRF without a history carries head %+v", hd)
	}
	if _, err := e.store.History(t.Context(), d.id); err == nil {
		t.Fatal("an LRF without a history made one")
	}
	h := chain("w", 3)
	a = e.accept(tok, "IC-1", d.lrf(e, history(h, 0)))
	e.wantHead(d, a, headOf(h))
	e.wantBaseline(d, headOf(h))

	a = e.accept(tok, "IC-1", d.lrf(e))
	if hd := e.head(d, a); hd != nil {
		t.Fatalf("license answering an LRF without a history carries head %+v", hd)
	}
	if b := e.baseline(d); b != nil {
		t.Fatalf("an LRF without a history left baseline %+v", b)
	}
	// A history that does not hold entry 3 is the baseline now, not a
	// restore.
	v := chain("v", 2)
	e.accept(tok, "IC-1", d.lrf(e, history(v, 0)))
	e.wantAnomaly(e.last("IC-1"), "")
	e.wantBaseline(d, headOf(v))
}
