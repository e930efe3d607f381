package issuer_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/santhosh-tekuri/jsonschema/v5"
	"golang.org/x/mod/sumdb/note"

	"github.com/tenurehq/tenure/issuer"
	"github.com/tenurehq/tenure/issuer/internal/store/bolt"
	"github.com/tenurehq/tenure/schema"
	"github.com/tenurehq/tenure/shared/engine"
)

// designRoutes is every route the handler serves, from the issuer's route
// table (DESIGN.md's "Issuer HTTP API"), which the description must list.
func designRoutes() []string {
	var out []string
	for _, r := range issuer.Routes() {
		out = append(out, r.Route)
	}
	return out
}

type openAPI struct {
	OpenAPI string                                `json:"openapi"`
	Paths   map[string]map[string]json.RawMessage `json:"paths"`
}

type operation struct {
	Security    *[]map[string][]string `json:"security"`
	RequestBody *struct {
		Content map[string]json.RawMessage `json:"content"`
	} `json:"requestBody"`
	Responses map[string]struct {
		Ref     string                     `json:"$ref"`
		Content map[string]json.RawMessage `json:"content"`
	} `json:"responses"`
}

var methods = []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}

func loadOpenAPI(t *testing.T) (openAPI, map[string]operation) {
	t.Helper()
	var doc openAPI
	if err := json.Unmarshal(schema.OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Fatalf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	ops := map[string]operation{}
	for path, item := range doc.Paths {
		for m, raw := range item {
			if !slices.Contains(methods, m) {
				continue // parameters, summary
			}
			var op operation
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", m, path, err)
			}
			ops[strings.ToUpper(m)+" "+path] = op
		}
	}
	return doc, ops
}

func TestOpenAPIListsEveryRoute(t *testing.T) {
	_, ops := loadOpenAPI(t)
	for _, r := range issuer.Routes() {
		op, ok := ops[r.Route]
		if !ok {
			t.Errorf("%s is served but not in schema/openapi.json", r.Route)
			continue
		}
		// A public route is described with no security requirement.
		if public := op.Security != nil && len(*op.Security) == 0; public != r.Public {
			t.Errorf("%s: public %v in the route table, %v in schema/openapi.json", r.Route, r.Public, public)
		}
	}
	for r := range ops {
		if !slices.Contains(designRoutes(), r) {
			t.Errorf("openapi.json describes %s, which DESIGN.md does not list", r)
		}
	}
}

// world is a real issuer over bbolt with a throwaway key, and the means to
// call it and check each answer against the description.
type world struct {
	t        *testing.T
	srv      *httptest.Server
	ops      map[string]operation
	compiler *jsonschema.Compiler
	admin    string
	vkey     string
	now      time.Time
	called   map[string]bool
}

func newWorld(t *testing.T) *world {
	t.Helper()
	_, ops := loadOpenAPI(t)
	st, err := bolt.Open(filepath.Join(t.TempDir(), "issuer.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	skey, vkey, err := engine.GenerateKey(rand.Reader, "tenure-issuer-test")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 20, 10, 0, 0, 0, time.UTC)
	admin := token(t)
	h, err := issuer.New(issuer.Config{Store: st, Signers: []note.Signer{signer}, Keys: []string{vkey}, AdminToken: admin, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	c.AssertFormat = true
	for _, name := range []string{"defs", "contract", "lrf", "license", "release", "backup", "product"} {
		b, err := schema.File(name + ".schema.json")
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource("https://tenure.dev/schema/"+name+".schema.json", bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.AddResource(openAPIURL, bytes.NewReader(schema.OpenAPI)); err != nil {
		t.Fatal(err)
	}
	return &world{t: t, srv: srv, ops: ops, compiler: c, admin: admin, vkey: vkey, now: now, called: map[string]bool{}}
}

const openAPIURL = "https://tenure.dev/schema/openapi.json"

// pointer escapes one JSON pointer token.
func pointer(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1") }

// call sends a request for the route (its template) to the real handler and
// checks the answer against the description: the status is one the
// operation lists, and the body validates against that response's schema.
func (w *world) call(route, path, tok string, body any) (int, []byte) {
	t := w.t
	t.Helper()
	op, ok := w.ops[route]
	if !ok {
		t.Fatalf("%s is not in the description", route)
	}
	w.called[route] = true
	method, tmpl, _ := strings.Cut(route, " ")
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, w.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := w.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)

	code := resp.StatusCode
	r, ok := op.Responses[strconv.Itoa(code)]
	if !ok {
		t.Fatalf("%s %s answered %d, which the description does not list for %s: %s", method, path, code, route, got)
	}
	ptr := "#/paths/" + pointer(tmpl) + "/" + strings.ToLower(method) + "/responses/" + strconv.Itoa(code)
	content := r.Content
	if r.Ref != "" {
		ptr = r.Ref
		var shared struct {
			Content map[string]json.RawMessage `json:"content"`
		}
		name := strings.TrimPrefix(r.Ref, "#/components/responses/")
		var doc struct {
			Components struct {
				Responses map[string]json.RawMessage `json:"responses"`
			} `json:"components"`
		}
		json.Unmarshal(schema.OpenAPI, &doc)
		json.Unmarshal(doc.Components.Responses[name], &shared)
		content = shared.Content
	}
	mt := strings.TrimSpace(strings.Split(resp.Header.Get("Content-Type"), ";")[0])
	if _, ok := content[mt]; !ok {
		t.Fatalf("%s %s answered %d as %q; the description lists %v", method, path, code, mt, keys(content))
	}
	s, err := w.compiler.Compile(openAPIURL + ptr + "/content/" + pointer(mt) + "/schema")
	if err != nil {
		t.Fatalf("%s %d: schema: %v", route, code, err)
	}
	var v any
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatalf("%s %s: %d body is not JSON: %s", method, path, code, got)
	}
	if err := s.Validate(v); err != nil {
		t.Errorf("%s %s: the %d body does not match the description: %v\n%s", method, path, code, err, got)
	}
	return code, got
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func token(t *testing.T) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// TestOpenAPIMatchesTheHandler drives every described operation on the real
// handler, through a contract's whole life, and checks each answer's status
// and body against the description.
func TestOpenAPIMatchesTheHandler(t *testing.T) {
	w := newWorld(t)
	must := func(want, got int, body []byte) {
		t.Helper()
		if got != want {
			t.Fatalf("status %d, want %d: %s", got, want, body)
		}
	}

	code, body := w.call("GET /healthz", "/healthz", "", nil)
	must(200, code, body)
	code, body = w.call("GET /v1/keys", "/v1/keys", "", nil)
	must(200, code, body)
	if !strings.Contains(string(body), w.vkey) {
		t.Errorf("keys %s do not list the signing key", body)
	}

	contract := map[string]any{"customer": "ACME Networks", "product": "edge", "tier": "pro", "kind": "commercial",
		"features": []string{"monitoring", "peering", "scion", "vpn"}, "limits": map[string]int{"vpn_users": 250, "peering_tunnels": 100},
		"appliances": 1, "term_months": 12, "change": "order", "status": "active"}
	code, body = w.call("PUT /v1/contracts/{id}", "/v1/contracts/IC-1042", w.admin, contract)
	must(201, code, body)
	var created struct{ Token string }
	json.Unmarshal(body, &created)

	// Errors are described too: no token, a malformed body.
	code, body = w.call("PUT /v1/contracts/{id}", "/v1/contracts/IC-1042", "", contract)
	must(401, code, body)
	code, body = w.call("PUT /v1/contracts/{id}", "/v1/contracts/IC-1042", w.admin, map[string]any{"customer": "ACME"})
	must(400, code, body)
	code, body = w.call("PUT /v1/contracts/{id}", "/v1/contracts/IC-1042", created.Token, contract)
	must(403, code, body)

	contract["change"] = "correction"
	contract["customer"] = "ACME Networks GmbH"
	code, body = w.call("PUT /v1/contracts/{id}", "/v1/contracts/IC-1042", w.admin, contract)
	must(200, code, body)

	// An appliance asks for a license.
	const appliance = "A-7f3k2m9q"
	dskey, dvkey, _ := engine.GenerateKey(rand.Reader, appliance)
	device, _ := note.NewSigner(dskey)
	id, _ := age.GenerateX25519Identity()
	platform := engine.HashPlatform("edge", map[string]string{"machine_id": "m1", "dmi_uuid": "u1", "mac:eth0": "02:42:ac:11:00:02"})
	lrf, err := engine.SignRequest(&engine.Request{Appliance: appliance, Platform: platform, Product: "edge", Version: "0.40.0",
		DeviceKey: dvkey, Recipient: id.Recipient().String(), TrialStart: w.now.Add(-48 * time.Hour), Mode: engine.ModeTrial,
		Installed: []string{}, Sequence: 1, Created: w.now, Nonce: token(t)[:22]}, device)
	if err != nil {
		t.Fatal(err)
	}
	activation := map[string]any{"contract": "IC-1042", "request": string(lrf)}
	code, body = w.call("POST /v1/activations", "/v1/activations", created.Token, activation)
	must(201, code, body)
	var issued struct{ ID, License string }
	json.Unmarshal(body, &issued)
	code, body = w.call("POST /v1/activations", "/v1/activations", created.Token, activation)
	must(200, code, body)

	// A second appliance finds no free seat: the contract has one.
	dskey2, dvkey2, _ := engine.GenerateKey(rand.Reader, "A-9x8w7v6u")
	device2, _ := note.NewSigner(dskey2)
	lrf2, err := engine.SignRequest(&engine.Request{Appliance: "A-9x8w7v6u", Platform: engine.HashPlatform("edge", map[string]string{"machine_id": "m2"}),
		Product: "edge", Version: "0.40.0", DeviceKey: dvkey2, Recipient: id.Recipient().String(), TrialStart: w.now, Mode: engine.ModeTrial,
		Installed: []string{}, Sequence: 1, Created: w.now, Nonce: token(t)[:22]}, device2)
	if err != nil {
		t.Fatal(err)
	}
	code, body = w.call("POST /v1/activations", "/v1/activations", created.Token, map[string]any{"contract": "IC-1042", "request": string(lrf2)})
	must(409, code, body)

	// The appliance reports its usage; the contract view shows it.
	usage := func(created time.Time) string {
		text, err := engine.SignUsage(&engine.Usage{Appliance: appliance, Product: "edge", Period: engine.Period{From: w.now.Add(-24 * time.Hour), Until: w.now},
			Contracts: []engine.UsageSection{{Contract: "IC-1042", Limits: map[string]engine.Peaks{"vpn_users": {Allowed: 250, Denied: 300}}, Features: map[string]int{"vpn": 1}}},
			History:   engine.NewTrail([]string{strings.Repeat("ab", 32)}, 0), Sequence: 2, Created: created, Nonce: token(t)[:22]}, device)
		if err != nil {
			t.Fatal(err)
		}
		return string(text)
	}
	report := map[string]any{"contract": "IC-1042", "report": usage(w.now)}
	code, body = w.call("POST /v1/reports", "/v1/reports", created.Token, report)
	must(201, code, body)
	code, body = w.call("POST /v1/reports", "/v1/reports", created.Token, report)
	must(200, code, body)
	code, body = w.call("POST /v1/reports", "/v1/reports", created.Token, map[string]any{"contract": "IC-1042", "report": "x"})
	must(400, code, body)
	code, body = w.call("POST /v1/reports", "/v1/reports", w.admin, map[string]any{"contract": "IC-9999", "report": usage(w.now)})
	must(404, code, body)
	code, body = w.call("POST /v1/reports", "/v1/reports", created.Token, map[string]any{"contract": "IC-1042", "report": usage(w.now.Add(48 * time.Hour))})
	must(422, code, body)

	code, body = w.call("GET /v1/contracts/{id}", "/v1/contracts/IC-1042", created.Token, nil)
	must(200, code, body)
	if !strings.Contains(string(body), `"peaks":{"vpn_users":{"peak":300,"limit":250,`) || !strings.Contains(string(body), `"usage":{"report":`) {
		t.Errorf("the contract view shows no usage: %s", body)
	}
	code, body = w.call("GET /v1/contracts/{id}", "/v1/contracts/IC-9999", w.admin, nil)
	must(404, code, body)

	// The appliance releases its license with a receipt.
	receipt, err := engine.SignRelease(&engine.Release{Contract: "IC-1042", Licenses: []string{issued.ID}, Appliance: appliance,
		Released: w.now.Add(time.Hour), Sequence: 2, Nonce: token(t)[:22]}, device)
	if err != nil {
		t.Fatal(err)
	}
	code, body = w.call("POST /v1/releases", "/v1/releases", created.Token, map[string]any{"receipt": string(receipt)})
	must(200, code, body)
	code, body = w.call("POST /v1/releases", "/v1/releases", created.Token, map[string]any{"receipt": string(receipt)})
	must(200, code, body)

	code, body = w.call("POST /v1/contracts/{id}/reallocations", "/v1/contracts/IC-1042/reallocations", w.admin,
		map[string]any{"appliance": appliance, "reason": "disk died"})
	if code != 200 && code != 409 {
		t.Errorf("reallocation of a released appliance: %d %s", code, body)
	}
	code, body = w.call("POST /v1/contracts/{id}/reallocations", "/v1/contracts/IC-1042/reallocations", created.Token,
		map[string]any{"appliance": appliance, "reason": "disk died"})
	must(403, code, body)

	// The appliance's clock ran ahead; the admin answers its LRF with a
	// clock reset.
	reset := map[string]any{"request": string(lrf), "reason": "clock ran ahead"}
	code, body = w.call("POST /v1/clock-resets", "/v1/clock-resets", w.admin, reset)
	must(201, code, body)
	code, body = w.call("POST /v1/clock-resets", "/v1/clock-resets", created.Token, reset)
	must(403, code, body)
	code, body = w.call("POST /v1/clock-resets", "/v1/clock-resets", w.admin, map[string]any{"request": "x", "reason": "clock ran ahead"})
	must(400, code, body)

	// The operator routes: lists, a page at a time, and a new token.
	code, body = w.call("GET /v1/contracts", "/v1/contracts?limit=1", w.admin, nil)
	must(200, code, body)
	code, body = w.call("GET /v1/contracts", "/v1/contracts?limit=0", w.admin, nil)
	must(400, code, body)
	code, body = w.call("GET /v1/contracts", "/v1/contracts", created.Token, nil)
	must(403, code, body)
	code, body = w.call("GET /v1/contracts/{id}/ledger", "/v1/contracts/IC-1042/ledger?limit=2", created.Token, nil)
	must(200, code, body)
	code, body = w.call("GET /v1/contracts/{id}/ledger", "/v1/contracts/IC-9999/ledger", w.admin, nil)
	must(404, code, body)
	code, body = w.call("GET /v1/anomalies", "/v1/anomalies?contract=IC-1042", w.admin, nil)
	must(200, code, body)
	code, body = w.call("GET /v1/anomalies", "/v1/anomalies", "", nil)
	must(401, code, body)
	code, body = w.call("POST /v1/contracts/{id}/token", "/v1/contracts/IC-1042/token", w.admin, map[string]any{})
	must(200, code, body)
	code, body = w.call("POST /v1/contracts/{id}/token", "/v1/contracts/IC-1042/token", created.Token, map[string]any{})
	must(401, code, body) // the token was just rotated

	code, body = w.call("GET /v1/products", "/v1/products", "", nil)
	must(200, code, body)

	for _, r := range designRoutes() {
		if !w.called[r] {
			t.Errorf("%s was not exercised", r)
		}
	}
}

// TestOpenAPIRoutesAreRouted sends each described operation a minimal
// request and checks the mux routes it: with the contract in place, no
// described route may answer 404 or 405.
func TestOpenAPIRoutesAreRouted(t *testing.T) {
	w := newWorld(t)
	contract := map[string]any{"customer": "ACME", "product": "edge", "tier": "lite", "kind": "commercial",
		"features": []string{"scion"}, "limits": map[string]int{}, "appliances": 1, "term_months": 12, "change": "order", "status": "active"}
	if code, body := w.call("PUT /v1/contracts/{id}", "/v1/contracts/IC-1042", w.admin, contract); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	for route := range w.ops {
		method, tmpl, _ := strings.Cut(route, " ")
		path := strings.ReplaceAll(tmpl, "{id}", "IC-1042")
		var body io.Reader
		if method != http.MethodGet {
			body = strings.NewReader("{}")
		}
		req, _ := http.NewRequest(method, w.srv.URL+path, body)
		req.Header.Set("Authorization", "Bearer "+w.admin)
		resp, err := w.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusMethodNotAllowed || resp.StatusCode == http.StatusNotFound {
			t.Errorf("%s: %d %s — not routed", route, resp.StatusCode, b)
		}
	}
	// The check above can tell: a route that does not exist is not routed.
	resp, err := w.srv.Client().Post(w.srv.URL+"/v1/nothing", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /v1/nothing = %d, want 404", resp.StatusCode)
	}
}

// TestOpenAPIListsTheConventions: every route answers a target over 8 KiB
// 414 and every route that takes a body answers a body that is not JSON
// 415, and the description lists both where they apply.
func TestOpenAPIListsTheConventions(t *testing.T) {
	w := newWorld(t)
	send := func(method, target, contentType string, body string) int {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, w.srv.URL+target, rd)
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		req.Header.Set("Authorization", "Bearer "+w.admin)
		resp, err := w.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	listed := func(op operation, code int) bool {
		_, ok := op.Responses[strconv.Itoa(code)]
		_, range4 := op.Responses["4XX"]
		return ok || range4
	}
	long := strings.Repeat("x", issuer.MaxTarget)
	for _, rt := range issuer.Routes() {
		op := w.ops[rt.Route]
		method, tmpl, _ := strings.Cut(rt.Route, " ")
		target := strings.ReplaceAll(tmpl, "{id}", "IC-1") + "?pad=" + long
		if code := send(method, target, "", ""); code != http.StatusRequestURITooLong || !listed(op, code) {
			t.Errorf("%s with a target over 8 KiB: %d (listed: %v), want 414 listed", rt.Route, code, listed(op, 414))
		}
		if op.RequestBody == nil {
			continue
		}
		path := strings.ReplaceAll(tmpl, "{id}", "IC-1")
		if code := send(method, path, "text/plain", "{}"); code != http.StatusUnsupportedMediaType || !listed(op, code) {
			t.Errorf("%s with a text/plain body: %d (listed: %v), want 415 listed", rt.Route, code, listed(op, 415))
		}
	}
}
