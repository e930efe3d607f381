// Package prevgen writes the fixture testdata/prev.db: an issuer database
// as commit 433cb0a (before the operator routes, the contracts' list and
// the token rotation) wrote it, through that commit's HTTP API, and
// testdata/prev.json, what the test of the newer code needs to know of it.
// It holds no private key: the signing key is made here and dropped.
//
// Go ignores testdata, so this builds only where it is run: in a worktree
// of that commit,
//
//	git worktree add /tmp/prev 433cb0a
//	mkdir -p /tmp/prev/issuer/internal/store/bolt/testdata
//	cp -r issuer/internal/store/bolt/testdata/prevgen /tmp/prev/issuer/internal/store/bolt/testdata/
//	(cd /tmp/prev && PREVGEN_OUT=$PWD/issuer/internal/store/bolt/testdata \
//	    go test -count=1 ./issuer/internal/store/bolt/testdata/prevgen)
//	git worktree remove --force /tmp/prev
package prevgen

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tenurehq/tenure/issuer"
	"github.com/tenurehq/tenure/issuer/internal/issuertest"
	"github.com/tenurehq/tenure/issuer/internal/signer"
	"github.com/tenurehq/tenure/issuer/internal/store/bolt"
	"github.com/tenurehq/tenure/shared/engine"
)

// Fixture is prev.json.
type Fixture struct {
	Commit     string              `json:"commit"`
	Now        time.Time           `json:"now"`
	Admin      string              `json:"admin"`
	Tokens     map[string]string   `json:"tokens"`     // contract id → its token
	Licenses   map[string][]string `json:"licenses"`   // contract id → its license ids, in order of issue
	Appliances map[string][]string `json:"appliances"` // contract id → its bound appliances
}

func TestGenerate(t *testing.T) {
	out := os.Getenv("PREVGEN_OUT")
	if out == "" {
		t.Skip("set PREVGEN_OUT to the directory of prev.db")
	}
	db := filepath.Join(out, "prev.db")
	os.Remove(db)
	st, err := bolt.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	skey, _, err := engine.GenerateKey(rand.Reader, "tenure-prevgen")
	if err != nil {
		t.Fatal(err)
	}
	sg, err := signer.Parse(skey)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	f := &Fixture{Commit: "433cb0a", Now: now, Admin: "tna_prevgen-admin-token-0123456789",
		Tokens: map[string]string{}, Licenses: map[string][]string{}, Appliances: map[string][]string{}}
	h, err := issuer.New(issuer.Config{Store: st, Signers: []note.Signer{sg}, AdminToken: f.Admin,
		Now: func() time.Time { return now }, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	call := func(method, path, token string, body any, want int) []byte {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, srv.URL+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, got)
		}
		return got
	}
	order := func(id string, seats int) {
		b := call("PUT", "/v1/contracts/"+id, f.Admin, map[string]any{"customer": "ACME Networks", "product": "edge", "tier": "pro",
			"kind": "commercial", "features": []string{"scion", "vpn"}, "limits": map[string]int{"vpn_users": 250}, "appliances": seats,
			"term_months": 12, "change": "order", "status": "active"}, 201)
		var c struct{ Token string }
		json.Unmarshal(b, &c)
		f.Tokens[id] = c.Token
	}
	activate := func(id string, n int) {
		lrf := issuertest.FirstLRF(t, n, now)
		b := call("POST", "/v1/activations", f.Tokens[id], map[string]any{"contract": id, "request": lrf}, 201)
		var a struct{ ID, Appliance string }
		json.Unmarshal(b, &a)
		f.Licenses[id] = append(f.Licenses[id], a.ID)
		f.Appliances[id] = append(f.Appliances[id], a.Appliance)
	}
	order("IC-1", 4)
	order("IC-2", 1)
	order("IC-3", 2)
	for n := 1; n <= 3; n++ {
		activate("IC-1", n)
	}
	activate("IC-2", 4)
	// A copy of appliance 1 (same id, another device key): refused, an
	// anomaly in IC-1's ledger.
	call("POST", "/v1/activations", f.Tokens["IC-1"], map[string]any{"contract": "IC-1", "request": issuertest.FirstLRF(t, 1, now)}, 409)
	srv.Close()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(f, "", "  ")
	if err := os.WriteFile(filepath.Join(out, "prev.json"), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}
