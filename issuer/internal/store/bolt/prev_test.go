package bolt_test

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
	"slices"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tenurehq/tenure/issuer"
	"github.com/tenurehq/tenure/issuer/internal/issuertest"
	"github.com/tenurehq/tenure/issuer/internal/signer"
	"github.com/tenurehq/tenure/issuer/internal/store/bolt"
	"github.com/tenurehq/tenure/shared/engine"
)

// TestPreviousFile opens testdata/prev.db, a database written through the
// HTTP API of commit 433cb0a (before contracts were listed and tokens
// rotated; see testdata/prevgen), and serves it: its contracts are listed
// with their seats, a contract created then has its token rotated (the old
// token stops working, the new one works), its view pages its appliances
// with their licenses, its ledger holds what was decided then, and a new
// activation takes its free seat.
func TestPreviousFile(t *testing.T) {
	var f struct {
		Now        time.Time
		Admin      string
		Tokens     map[string]string
		Licenses   map[string][]string
		Appliances map[string][]string
	}
	b, err := os.ReadFile(filepath.Join("testdata", "prev.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	db, err := os.ReadFile(filepath.Join("testdata", "prev.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "issuer.db")
	if err := os.WriteFile(path, db, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := bolt.Open(path)
	if err != nil {
		t.Fatalf("the previous commit's file does not open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	skey, _, _ := engine.GenerateKey(rand.Reader, "tenure-issuer-test")
	sg, err := signer.Parse(skey)
	if err != nil {
		t.Fatal(err)
	}
	now := f.Now.Add(time.Hour)
	h, err := issuer.New(issuer.Config{Store: st, Signers: []note.Signer{sg}, AdminToken: f.Admin,
		Now: func() time.Time { return now }, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	call := func(method, path, token string, body any, want int, out any) {
		t.Helper()
		var rd io.Reader
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		if body != nil {
			bb, _ := json.Marshal(body)
			rd = bytes.NewReader(bb)
			req, _ = http.NewRequest(method, srv.URL+path, rd)
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, got)
		}
		if out != nil {
			if err := json.Unmarshal(got, out); err != nil {
				t.Fatalf("%s %s: %v: %s", method, path, err, got)
			}
		}
	}

	// The contracts, listed, with their seats, across pages.
	var ids []string
	used := map[string]int{}
	after := ""
	for range 10 {
		var page struct {
			Contracts []struct {
				ID         string
				Used       int
				Appliances int
			}
			Next string
		}
		p := "/v1/contracts?limit=2"
		if after != "" {
			p += "&after=" + after
		}
		call("GET", p, f.Admin, nil, 200, &page)
		for _, c := range page.Contracts {
			ids = append(ids, c.ID)
			used[c.ID] = c.Used
		}
		if after = page.Next; after == "" {
			break
		}
	}
	if !slices.Equal(ids, []string{"IC-1", "IC-2", "IC-3"}) || used["IC-1"] != 3 || used["IC-2"] != 1 || used["IC-3"] != 0 {
		t.Fatalf("contracts listed = %v, used %v; want IC-1 (3 used), IC-2 (1), IC-3 (0)", ids, used)
	}

	// The token of then works, and is rotated.
	call("GET", "/v1/contracts/IC-1", f.Tokens["IC-1"], nil, 200, nil)
	var rot struct{ Contract, Token string }
	call("POST", "/v1/contracts/IC-1/token", f.Admin, map[string]any{}, 200, &rot)
	if rot.Token == "" || rot.Token == f.Tokens["IC-1"] {
		t.Fatalf("rotation answered %+v", rot)
	}
	call("GET", "/v1/contracts/IC-1", f.Tokens["IC-1"], nil, 401, nil)
	call("GET", "/v1/contracts/IC-2", f.Tokens["IC-2"], nil, 200, nil) // another contract's token is untouched

	// The view, a page of one appliance at a time, with its licenses.
	var appliances, licenses []string
	after = ""
	for range 10 {
		var v struct {
			Appliances []struct{ ID string }
			Licenses   []struct{ ID, Appliance string }
			Next       string
		}
		p := "/v1/contracts/IC-1?limit=1"
		if after != "" {
			p += "&after=" + after
		}
		call("GET", p, rot.Token, nil, 200, &v)
		if len(v.Appliances) > 1 {
			t.Fatalf("a page of limit 1 holds %d appliances", len(v.Appliances))
		}
		for _, a := range v.Appliances {
			appliances = append(appliances, a.ID)
		}
		for _, l := range v.Licenses {
			licenses = append(licenses, l.ID)
		}
		if after = v.Next; after == "" {
			break
		}
	}
	wantApps := slices.Sorted(slices.Values(f.Appliances["IC-1"]))
	gotLics, wantLics := slices.Sorted(slices.Values(licenses)), slices.Sorted(slices.Values(f.Licenses["IC-1"]))
	if !slices.Equal(appliances, wantApps) || !slices.Equal(gotLics, wantLics) {
		t.Fatalf("view pages = appliances %v, licenses %v; want %v, %v", appliances, licenses, wantApps, wantLics)
	}

	// The ledger of then: the order, three activations, the copy refused;
	// then the rotation.
	var ledger struct {
		Entries []struct {
			Action, Outcome string
			Status          int
		}
	}
	call("GET", "/v1/contracts/IC-1/ledger", rot.Token, nil, 200, &ledger)
	var got []string
	for _, e := range ledger.Entries {
		got = append(got, e.Action+"/"+e.Outcome)
	}
	if want := []string{"order/accepted", "activation/accepted", "activation/accepted", "activation/accepted", "activation/refused", "token/accepted"}; !slices.Equal(got, want) {
		t.Fatalf("ledger = %v, want %v", got, want)
	}

	// The free seat, with the new token.
	var a struct{ Reason string }
	call("POST", "/v1/activations", rot.Token, map[string]any{"contract": "IC-1", "request": issuertest.FirstLRF(t, 50, now)}, 201, &a)
	if a.Reason != "initial" {
		t.Fatalf("activation on the free seat: %s", a.Reason)
	}
	call("POST", "/v1/activations", rot.Token, map[string]any{"contract": "IC-1", "request": issuertest.FirstLRF(t, 51, now)}, 409, nil)
}
