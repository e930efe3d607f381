// Package issuertest drives the issuer's HTTP API end to end over any store:
// the real handler behind httptest, throwaway issuer and device keys, and a
// clock the tests move. [Run] is the suite; a store's test runs it with its
// own constructor:
//
//	issuertest.Run(t, func(t *testing.T) store.Store { return openMyStore(t) })
package issuertest

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"golang.org/x/mod/sumdb/note"

	"github.com/tenurehq/tenure/issuer"
	"github.com/tenurehq/tenure/issuer/internal/signer"
	"github.com/tenurehq/tenure/issuer/internal/store"
	"github.com/tenurehq/tenure/schema"
	"github.com/tenurehq/tenure/shared/engine"
)

// env is one issuer under test.
type env struct {
	t       *testing.T
	open    func(t *testing.T) store.Store // makes the store of another env
	store   store.Store
	srv     *httptest.Server
	admin   string
	vkey    string
	product *engine.Product

	mu  sync.Mutex
	now time.Time
}

// t0 is when every test's world starts: the order date of its contracts.
var t0 = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)

func newEnv(t *testing.T, open func(t *testing.T) store.Store) *env {
	t.Helper()
	return newEnvProducts(t, open, nil)
}

// newEnvProducts is newEnv with the issuer loading products (nil: the
// example, edge).
func newEnvProducts(t *testing.T, open func(t *testing.T) store.Store, products []*engine.Product) *env {
	t.Helper()
	skey, vkey, err := engine.GenerateKey(rand.Reader, "tenure-issuer-test")
	if err != nil {
		t.Fatal(err)
	}
	sg, err := signer.Parse(skey)
	if err != nil {
		t.Fatal(err)
	}
	p, err := engine.ParseProduct(schema.EdgeProduct)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, open: open, store: open(t), admin: "admin-" + rand.Text(), vkey: vkey, product: p, now: t0}
	h, err := issuer.New(issuer.Config{Store: e.store, Signers: []note.Signer{sg}, AdminToken: e.admin, Now: e.clock, Products: products})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

// at sets the issuer's clock.
func (e *env) at(s string) {
	t, err := engine.ParseInstant(s)
	if err != nil {
		e.t.Fatal(err)
	}
	if len(s) == len(engine.DateFormat) {
		t = t.Add(10 * time.Hour) // mid-morning: the activation date floors it
	}
	e.mu.Lock()
	e.now = t
	e.mu.Unlock()
}

// Send makes one request of the API srv serves, as a client does: a JSON
// body, and the bearer token when there is one. It returns the response
// (its body read and closed) and the body.
func Send(t testing.TB, srv *httptest.Server, method, path, token string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// raw sends a request with a raw body.
func (e *env) raw(method, path, token string, body []byte) (int, []byte) {
	e.t.Helper()
	resp, b := Send(e.t, e.srv, method, path, token, body)
	want := "application/json"
	if resp.StatusCode >= 400 {
		want = "application/problem+json"
		var p struct {
			Type, Title, Detail string
			Status              int
		}
		if err := json.Unmarshal(b, &p); err != nil || p.Status != resp.StatusCode || p.Type == "" || p.Detail == "" || p.Title == "" {
			e.t.Errorf("%s %s: %d problem is not RFC 9457: %s", method, path, resp.StatusCode, b)
		}
	}
	if ct := resp.Header.Get("Content-Type"); ct != want {
		e.t.Errorf("%s %s: %d answered as %q, want %q", method, path, resp.StatusCode, ct, want)
	}
	return resp.StatusCode, b
}

// do sends v as JSON.
func (e *env) do(method, path, token string, v any) (int, []byte) {
	e.t.Helper()
	var body []byte
	if v != nil {
		var err error
		if body, err = json.Marshal(v); err != nil {
			e.t.Fatal(err)
		}
	}
	return e.raw(method, path, token, body)
}

func (e *env) want(status int, got int, body []byte, what string) {
	e.t.Helper()
	if got != status {
		e.t.Fatalf("%s: status %d, want %d: %s", what, got, status, body)
	}
}

// contractBody is a PUT body for the edge product's pro tier.
func contractBody(change string, seats int) map[string]any {
	return map[string]any{"customer": "ACME Networks", "product": "edge", "tier": "pro", "kind": "commercial",
		"features": []string{"monitoring", "peering", "scion", "vpn"}, "limits": map[string]int{"vpn_users": 250, "peering_tunnels": 100},
		"appliances": seats, "term_months": 12, "change": change, "status": "active"}
}

// order creates a contract and returns its token.
func (e *env) order(id string, seats int) string {
	e.t.Helper()
	code, body := e.do("PUT", "/v1/contracts/"+id, e.admin, contractBody("order", seats))
	e.want(201, code, body, "order "+id)
	var out struct{ Token string }
	json.Unmarshal(body, &out)
	if out.Token == "" {
		e.t.Fatalf("order answered no token: %s", body)
	}
	return out.Token
}

// change sends a revision of a contract made from the order body.
func (e *env) change(id, change string, edit func(map[string]any)) {
	e.t.Helper()
	b := contractBody(change, 1)
	if c, err := e.store.Contract(e.t.Context(), id); err == nil {
		b["appliances"] = c.Appliances
	}
	if edit != nil {
		edit(b)
	}
	code, body := e.do("PUT", "/v1/contracts/"+id, e.admin, b)
	e.want(200, code, body, change+" of "+id)
}

// A device is an appliance: its id, device key, age identity and platform.
type device struct {
	id       string
	signer   note.Signer
	vkey     string
	identity *age.X25519Identity
	raw      map[string]string
	seq      uint64
}

func newDevice(t testing.TB, n int) *device {
	t.Helper()
	id := fmt.Sprintf("A-%08d", n)
	skey, vkey, err := engine.GenerateKey(rand.Reader, id)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	ident, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return &device{id: id, signer: s, vkey: vkey, identity: ident,
		raw: map[string]string{"machine_id": fmt.Sprintf("m-%d", n), "dmi_uuid": fmt.Sprintf("u-%d", n), "mac:eth0": fmt.Sprintf("02:42:ac:11:%02x:%02x", n/256%256, n%256)}}
}

func (d *device) platform() engine.Components { return engine.HashPlatform("edge", d.raw) }

// lrf makes the device's next LRF, created at the issuer's clock, edited by
// edit before signing.
func (d *device) lrf(e *env, edit ...func(*engine.Request)) string {
	e.t.Helper()
	return d.request(e.t, e.clock(), edit...)
}

func (d *device) request(t testing.TB, now time.Time, edit ...func(*engine.Request)) string {
	t.Helper()
	d.seq++
	trial := t0
	if now.Before(trial) {
		trial = now
	}
	trial = trial.Add(-72 * time.Hour)
	r := &engine.Request{Appliance: d.id, Platform: d.platform(), Product: "edge", Version: "0.40.0", DeviceKey: d.vkey,
		Recipient: d.identity.Recipient().String(), TrialStart: trial, Mode: engine.ModeTrial,
		Installed: []string{}, Sequence: d.seq, Created: now, Nonce: strings.ToLower(rand.Text())}
	for _, f := range edit {
		f(r)
	}
	text, err := engine.SignRequest(r, d.signer)
	if err != nil {
		t.Fatal(err)
	}
	return string(text)
}

// FirstLRF makes appliance n's first request, created at now and signed by
// a fresh device key, as `tenure request` prints it: for benchmarks and
// fuzzing of the issuer.
func FirstLRF(t testing.TB, n int, now time.Time) string {
	t.Helper()
	return newDevice(t, n).request(t, engine.Normalize(now))
}

// receipt makes the device's next release receipt, edited by edit before
// signing.
func (d *device) receipt(e *env, contract string, ids []string, edit ...func(*engine.Release)) string {
	e.t.Helper()
	d.seq++
	r := &engine.Release{Contract: contract, Licenses: ids, Appliance: d.id, Released: e.clock(),
		Sequence: d.seq, Nonce: strings.ToLower(rand.Text())}
	for _, f := range edit {
		f(r)
	}
	text, err := engine.SignRelease(r, d.signer)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(text)
}

// activation is the answer of POST /v1/activations.
type activation struct {
	ID, License, Reason, Appliance string
	From, Until                    time.Time
	Licenses                       []struct{ ID, License string }
}

func (e *env) activate(token, contract, lrf, effective string) (int, activation, []byte) {
	e.t.Helper()
	body := map[string]any{"contract": contract, "request": lrf}
	if effective != "" {
		body["effective"] = effective
	}
	code, b := e.do("POST", "/v1/activations", token, body)
	var a activation
	if code < 300 {
		if err := json.Unmarshal(b, &a); err != nil {
			e.t.Fatalf("activation answer: %v: %s", err, b)
		}
	}
	return code, a, b
}

// mustActivate activates and checks the case and window.
func (e *env) mustActivate(token, contract, lrf, effective, reason, from, until string) activation {
	e.t.Helper()
	code, a, body := e.activate(token, contract, lrf, effective)
	if code != 200 || reason != "reissue" { // a reissue may return the stored license
		e.want(201, code, body, "activation")
	}
	if a.Reason != reason || a.From.Format(engine.TimeFormat) != from || a.Until.Format(engine.TimeFormat) != until {
		e.t.Fatalf("activation = %s [%s, %s), want %s [%s, %s)", a.Reason, a.From.Format(engine.TimeFormat), a.Until.Format(engine.TimeFormat), reason, from, until)
	}
	return a
}

// ledger returns every entry of a contract's ledger.
func (e *env) ledger(contract string) []store.Entry {
	e.t.Helper()
	var all []store.Entry
	cursor := ""
	for {
		page, next, err := e.store.Ledger(e.t.Context(), contract, cursor, 50)
		if err != nil {
			e.t.Fatal(err)
		}
		all = append(all, page...)
		if next == "" {
			return all
		}
		cursor = next
	}
}

// An Appliance makes one appliance's successive LRFs, each signed by its
// device key with a sequence above the last: for benchmarks of the issuer.
type Appliance struct{ d *device }

// NewAppliance makes appliance n with a fresh device key and age identity.
func NewAppliance(t testing.TB, n int) *Appliance { return &Appliance{newDevice(t, n)} }

// LRF makes the appliance's next request, created at now, with nothing new
// since the last: a fresh LRF of the same appliance.
func (a *Appliance) LRF(t testing.TB, now time.Time) string {
	t.Helper()
	return a.d.request(t, engine.Normalize(now))
}
