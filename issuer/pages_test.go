package issuer_test

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tenurehq/tenure/issuer"
	"github.com/tenurehq/tenure/issuer/internal/issuertest"
	"github.com/tenurehq/tenure/issuer/internal/store"
	"github.com/tenurehq/tenure/issuer/internal/store/bolt"
	"github.com/tenurehq/tenure/shared/engine"
)

// TestPagesWithinBudget: every list of the API (contracts, a contract's
// view with its appliances' usage, its ledger, the anomalies), filled with
// more and larger items than one page of the largest limit holds within
// 256 KiB, answers pages of at most issuer.MaxPageBytes, each with a next
// cursor, that together list every item once (DESIGN.md, "Budgets").
func TestPagesWithinBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a store with thousands of records")
	}
	st, err := bolt.Open(filepath.Join(t.TempDir(), "issuer.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	skey, vkey, _ := engine.GenerateKey(rand.Reader, "tenure-issuer-test")
	sg, _ := note.NewSigner(skey)
	now := time.Date(2026, 1, 20, 10, 0, 0, 0, time.UTC)
	admin := "admin-" + strings.Repeat("p", 40)
	h, err := issuer.New(issuer.Config{Store: st, Signers: []note.Signer{sg}, Keys: []string{vkey}, AdminToken: admin,
		Now: func() time.Time { return now }, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	ctx := t.Context()

	const n = issuer.MaxPage + 20
	// The contract of the view and the ledger, with a seat for each.
	code, _, body := send(t, srv, "PUT", "/v1/contracts/IC-0", admin, "application/json", []byte(fmt.Sprintf(
		`{"customer":"ACME","product":"edge","tier":"pro","kind":"commercial","features":["scion"],"limits":{"vpn_users":10},"appliances":%d,"term_months":12,"change":"order","status":"active"}`, n)))
	if code != 201 {
		t.Fatalf("order: %d %s", code, body)
	}
	var created struct{ Token string }
	json.Unmarshal(body, &created)
	// Each appliance with a license and a usage report, which the view
	// shows with it.
	for i := range n {
		a := issuertest.NewAppliance(t, i+1)
		b, _ := json.Marshal(map[string]string{"contract": "IC-0", "request": a.LRF(t, now)})
		if code, _, body := send(t, srv, "POST", "/v1/activations", created.Token, "application/json", b); code != 201 {
			t.Fatalf("activation %d: %d %s", i, code, body)
		}
		report := a.Report(t, "IC-0", now.AddDate(0, 0, -7), now,
			map[string]engine.Peaks{"vpn_users": {Allowed: 10, Denied: 12}, "peering_tunnels": {Allowed: 4}}, map[string]int{"monitoring": 7, "peering": 2, "scion": 7, "vpn": 3})
		b, _ = json.Marshal(map[string]string{"contract": "IC-0", "report": report})
		if code, _, body := send(t, srv, "POST", "/v1/reports", created.Token, "application/json", b); code != 201 {
			t.Fatalf("report %d: %d %s", i, code, body)
		}
	}
	long := strings.Repeat("a long detail, as a refusal with its anomalies may hold. ", 20)
	for i := range n {
		c := &store.Contract{ID: fmt.Sprintf("IC-%04d", i+1), Revision: 1, Ordered: now, Updated: now, Terms: store.Terms{
			Customer: strings.Repeat("ACME Networks ", 40), Product: "edge", Tier: "pro", Kind: "commercial",
			Features: []string{"scion"}, Limits: map[string]int64{"vpn_users": 10}, Appliances: 1, TermMonths: 12, Change: "order", Status: "active"}}
		e := &store.Entry{At: now, Contract: c.ID, Actor: "admin", Action: "order", Outcome: store.Accepted, Status: 201}
		if err := st.CreateContract(ctx, c, fmt.Sprintf("%064x", i+1), &store.Revision{Contract: c.ID, Number: 1, At: now, Record: *c}, e); err != nil {
			t.Fatal(err)
		}
		if err := st.Append(ctx, &store.Entry{At: now, Contract: "IC-0", Actor: "contract", Action: "activation", Outcome: store.Refused,
			Status: 409, Appliance: fmt.Sprintf("A-%08d", i+1), Reason: long}); err != nil {
			t.Fatal(err)
		}
		a := &store.Anomaly{At: now, Contract: "IC-0", Appliance: fmt.Sprintf("A-%08d", i+1), Kind: "identity_conflict", Detail: long}
		a.SetID()
		if err := st.NoteAnomaly(ctx, a); err != nil {
			t.Fatal(err)
		}
	}

	for _, c := range []struct {
		path, field string
		want        int
		big         bool // MaxPage of its items are over 256 KiB
	}{
		{"/v1/contracts", "contracts", n + 1, true},
		{"/v1/contracts/IC-0", "appliances", n, true},
		{"/v1/contracts/IC-0/ledger", "entries", 1 + 3*n, true}, // the order, the activations, the reports, the refusals
		{"/v1/anomalies", "anomalies", n, true},
	} {
		seen := map[string]bool{}
		pages, after, cut := 0, "", false
		for {
			pages++
			if pages > n {
				t.Fatalf("%s: no last page", c.path)
			}
			target := c.path + fmt.Sprintf("?limit=%d", issuer.MaxPage)
			if after != "" {
				target += "&after=" + after
			}
			code, _, body := send(t, srv, "GET", target, admin, "", nil)
			if code != http.StatusOK {
				t.Fatalf("GET %s: %d %s", target, code, body)
			}
			if len(body) > issuer.MaxPageBytes {
				t.Fatalf("GET %s: a page of %d bytes, over %d", target, len(body), issuer.MaxPageBytes)
			}
			var page map[string]json.RawMessage
			json.Unmarshal(body, &page)
			var items []struct{ ID string }
			if err := json.Unmarshal(page[c.field], &items); err != nil || len(items) == 0 {
				t.Fatalf("GET %s: %s is no list of items: %v", target, c.field, err)
			}
			cut = cut || (len(items) < issuer.MaxPage && strings.Contains(string(body), `"next"`))
			for _, it := range items {
				if seen[it.ID] {
					t.Fatalf("GET %s: %s listed twice", target, it.ID)
				}
				seen[it.ID] = true
			}
			after = ""
			if raw, ok := page["next"]; ok {
				json.Unmarshal(raw, &after)
			}
			if after == "" {
				break
			}
		}
		if len(seen) != c.want || pages < 2 || cut != c.big {
			t.Errorf("%s: %d items in %d pages (a page cut below %d: %v); want %d, and a cut page: %v", c.path, len(seen), pages, issuer.MaxPage, cut, c.want, c.big)
		}
	}
}
