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
	serve := func(method, path, token string, body []byte) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, bytes.NewReader(body))
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
	}
	for i := range routes {
		for tok := range tokens {
			f.Add(uint8(i), uint8(tok), order)
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
	f.Add(uint8(0), uint8(0), []byte(`{"customer":"ACME","change":"renewal"}`))
	f.Add(uint8(2), uint8(1), []byte(`{`))
	f.Add(uint8(2), uint8(1), []byte(`null`))

	f.Fuzz(func(t *testing.T, route, token uint8, body []byte) {
		rt := routes[int(route)%len(routes)]
		w := serve(rt.method, rt.path, tokens[int(token)%len(tokens)], body)
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
