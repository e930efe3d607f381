package issuer_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tenurehq/tenure/issuer"
	"github.com/tenurehq/tenure/issuer/internal/issuertest"
	"github.com/tenurehq/tenure/issuer/internal/store/bolt"
	"github.com/tenurehq/tenure/shared/engine"
)

// FuzzAPI sends arbitrary bodies to every route that reads one, with the
// admin token, a contract's token and none: whatever arrives, the answer is
// never a 500, and every refusal is a problem document with its status.
func FuzzAPI(f *testing.F) {
	st, err := bolt.Open(filepath.Join(f.TempDir(), "issuer.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	skey, vkey, err := engine.GenerateKey(rand.Reader, "tenure-issuer-fuzz")
	if err != nil {
		f.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2026, 1, 20, 10, 0, 0, 0, time.UTC)
	admin := "admin-" + strings.Repeat("a", 40)
	h, err := issuer.New(issuer.Config{Store: st, Signers: []note.Signer{signer}, Keys: []string{vkey}, AdminToken: admin, Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	var serveAs func(method, path, token, ctype string, body []byte) *httptest.ResponseRecorder
	serve := func(method, path, token string, body []byte) *httptest.ResponseRecorder {
		return serveAs(method, path, token, "application/json", body)
	}
	serveAs = func(method, path, token, ctype string, body []byte) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/", bytes.NewReader(body))
		r.URL.Path, r.RequestURI = path, path
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	order := []byte(`{"customer":"ACME","product":"edge","tier":"pro","kind":"commercial","features":["scion","vpn"],"limits":{"vpn_users":100},"appliances":2,"term_months":12,"change":"order","status":"active"}`)
	w := serve("PUT", "/v1/contracts/IC-1", admin, order)
	if w.Code != http.StatusCreated {
		f.Fatalf("order: %d %s", w.Code, w.Body)
	}
	var created struct{ Token string }
	json.Unmarshal(w.Body.Bytes(), &created)
	tokens := []string{admin, created.Token, "", "not-a-token"}

	routes := []struct{ method, path string }{
		{"PUT", "/v1/contracts/IC-1"},
		{"PUT", "/v1/contracts/IC-2"},
		{"POST", "/v1/activations"},
		{"POST", "/v1/releases"},
		{"POST", "/v1/contracts/IC-1/reallocations"},
		{"POST", "/v1/clock-resets"},
		{"POST", "/v1/contracts/IC-1/token"},
		{"GET", "/v1/contracts"},
		{"GET", "/v1/contracts/IC-1/ledger"},
		{"GET", "/v1/anomalies"},
		{"POST", "/v1/reports"},
	}
	// What a route's path may carry after it (a query, a long tail) and the
	// content types a client may send.
	tails := []string{"", "?limit=2", "?after=x", "?limit=1E+999999999", "/" + strings.Repeat("x", 9000), "//", "?contract=IC-1&limit=500"}
	ctypes := []string{"application/json", "", "text/plain", "application/merge-patch+json; charset=utf-8", "application/json; =bad"}
	for i := range routes {
		for tok := range tokens {
			f.Add(uint8(i), uint8(tok), order)
		}
		for j := range tails {
			f.Add(uint8(i+j*len(routes)), uint8(j%len(ctypes)*len(tokens)), order)
		}
	}
	// A real LRF, so the fuzzer starts inside the activation path.
	lrf := issuertest.FirstLRF(f, 1, now)
	activation, _ := json.Marshal(map[string]string{"contract": "IC-1", "request": lrf})
	f.Add(uint8(2), uint8(1), activation)
	f.Add(uint8(2), uint8(1), []byte(`{"contract":"IC-1","request":"-----BEGIN TENURE LICENSE REQUEST-----\nAAAA\n-----END TENURE LICENSE REQUEST-----\n"}`))
	f.Add(uint8(2), uint8(1), []byte(`{"contract":"IC-1","request":"x","effective":"2026-02-01"}`))
	f.Add(uint8(3), uint8(1), []byte(`{"receipt":"x"}`))
	f.Add(uint8(4), uint8(0), []byte(`{"appliance":"A-00000001","reason":"disk"}`))
	// The same LRF from an appliance whose clock ran ahead, for a reset.
	reset, _ := json.Marshal(map[string]string{"request": issuertest.FirstLRF(f, 2, now.AddDate(73, 0, 0)), "reason": "clock ran to 2099"})
	f.Add(uint8(5), uint8(0), reset)
	f.Add(uint8(5), uint8(1), reset)
	f.Add(uint8(5), uint8(0), []byte(`{"request":"x","reason":"two\nlines"}`))
	// A real usage report, of an appliance not bound to the contract.
	report, _ := json.Marshal(map[string]string{"contract": "IC-1", "report": issuertest.NewAppliance(f, 3).Report(f, "IC-1", now.AddDate(0, -1, 0), now, nil, nil)})
	f.Add(uint8(len(routes)-1), uint8(1), report)
	f.Add(uint8(len(routes)-1), uint8(1), []byte(`{"contract":"IC-1","report":"-----BEGIN TENURE USAGE-----\nAAAA\n-----END TENURE USAGE-----\n"}`))
	f.Add(uint8(0), uint8(0), []byte(`{"customer":"ACME","change":"renewal"}`))
	f.Add(uint8(2), uint8(1), []byte(`{`))
	f.Add(uint8(2), uint8(1), []byte(`null`))
	// Numbers far outside any field's range.
	for _, n := range []string{"1E+999999999", "-1E+999999999", "1e309", "99999999999999999999", "1.5", "-1"} {
		f.Add(uint8(0), uint8(0), bytes.ReplaceAll(order, []byte(`"vpn_users":100`), []byte(`"vpn_users":`+n)))
		f.Add(uint8(0), uint8(0), bytes.ReplaceAll(order, []byte(`"appliances":2`), []byte(`"appliances":`+n)))
		f.Add(uint8(1), uint8(0), bytes.ReplaceAll(order, []byte(`"term_months":12`), []byte(`"term_months":`+n)))
	}

	f.Fuzz(func(t *testing.T, route, token uint8, body []byte) {
		rt := routes[int(route)%len(routes)]
		// The high bits of route choose the path's tail and the content
		// type, so every seed meets long paths and other types too.
		rt.path += tails[int(route)/len(routes)%len(tails)]
		w := serveAs(rt.method, rt.path, tokens[int(token)%len(tokens)], ctypes[int(token)/len(tokens)%len(ctypes)], body)
		if w.Code >= 500 {
			t.Fatalf("%s %s answered %d: %s", rt.method, rt.path, w.Code, w.Body)
		}
		if w.Code < 400 {
			return
		}
		if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("%s %s: refusal %d has Content-Type %q", rt.method, rt.path, w.Code, ct)
		}
		var p struct {
			Type, Title, Detail string
			Status              int
		}
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != w.Code || p.Title == "" {
			t.Fatalf("%s %s: refusal %d is not a problem document: %s", rt.method, rt.path, w.Code, w.Body)
		}
	})
}
