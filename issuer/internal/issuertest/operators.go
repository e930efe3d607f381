package issuertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

// The operator routes and the fixes of issue 15, over any store.

// list reads every page of an operator list, limit items a page, and
// returns the items' raw JSON and the number of pages.
func (e *env) list(path, token, field string, limit int) ([]json.RawMessage, int) {
	e.t.Helper()
	var all []json.RawMessage
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	after := ""
	for n := 1; n <= 1000; n++ {
		p := fmt.Sprintf("%s%slimit=%d", path, sep, limit)
		if after != "" {
			p += "&after=" + after
		}
		code, body := e.do("GET", p, token, nil)
		e.want(200, code, body, "GET "+p)
		var page map[string]json.RawMessage
		if err := json.Unmarshal(body, &page); err != nil {
			e.t.Fatal(err)
		}
		var items []json.RawMessage
		if err := json.Unmarshal(page[field], &items); err != nil || items == nil {
			e.t.Fatalf("GET %s: %s is not a list: %s", p, field, body)
		}
		if len(items) > limit {
			e.t.Fatalf("GET %s: %d items, limit %d", p, len(items), limit)
		}
		all = append(all, items...)
		after = ""
		if raw, ok := page["next"]; ok {
			json.Unmarshal(raw, &after)
		}
		if after == "" {
			return all, n
		}
	}
	e.t.Fatalf("GET %s: no last page", path)
	return nil, 0
}

func ids(items []json.RawMessage) []string {
	var out []string
	for _, it := range items {
		var v struct{ ID string }
		json.Unmarshal(it, &v)
		out = append(out, v.ID)
	}
	return out
}

// testContractList: the admin lists every contract page by page, with its
// seats used; a contract's token may not.
func testContractList(t *testing.T, e *env) {
	var want []string
	toks := map[string]string{}
	for i := range 7 {
		id := fmt.Sprintf("IC-%d", 100+i)
		toks[id] = e.order(id, 2)
		want = append(want, id)
	}
	e.mustActivate(toks["IC-103"], "IC-103", newDevice(t, 1).lrf(e), "", "initial", "2026-01-05T00:00:00Z", "2027-01-05T00:00:00Z")
	items, pages := e.list("/v1/contracts", e.admin, "contracts", 3)
	if got := ids(items); !slices.Equal(got, want) || pages != 3 {
		t.Fatalf("contracts (%d pages) = %v, want %v", pages, got, want)
	}
	var c struct {
		ID, Customer, Product, Tier, Kind, Status string
		Appliances, Used                          int
	}
	json.Unmarshal(items[3], &c)
	if c.ID != "IC-103" || c.Used != 1 || c.Appliances != 2 || c.Customer != "ACME Networks" || c.Product != "edge" || c.Tier != "pro" || c.Status != "active" || c.Kind != "commercial" {
		t.Fatalf("contract IC-103 listed as %+v", c)
	}
	code, body := e.do("GET", "/v1/contracts", toks["IC-100"], nil)
	e.want(403, code, body, "contracts with a contract's token")
	for _, q := range []string{"limit=0", "limit=501", "limit=x", "after=bogus", "color=blue"} {
		code, body := e.do("GET", "/v1/contracts?"+q, e.admin, nil)
		e.want(400, code, body, "contracts?"+q)
	}
}

// testLedgerView: a contract's ledger reads oldest first, page by page, for
// its token and the admin, and holds every decision; another contract's
// token gets 403 and an unknown contract 404. Reading it adds nothing.
func testLedgerView(t *testing.T, e *env) {
	tok := e.order("IC-1", 1)
	other := e.order("IC-2", 1)
	d := newDevice(t, 1)
	a := e.mustActivate(tok, "IC-1", d.lrf(e), "", "initial", "2026-01-05T00:00:00Z", "2027-01-05T00:00:00Z")
	code, _, body := e.activate(tok, "IC-1", newDevice(t, 2).lrf(e), "")
	e.want(409, code, body, "activation on a full contract")
	items, _ := e.list("/v1/contracts/IC-1/ledger", tok, "entries", 1)
	admin, _ := e.list("/v1/contracts/IC-1/ledger", e.admin, "entries", 100)
	if len(items) != 3 || len(admin) != 3 {
		t.Fatalf("ledger = %d entries (admin %d), want 3: %s", len(items), len(admin), items)
	}
	var got []string
	for _, it := range items {
		var en struct {
			ID, Action, Outcome, Appliance, License, Detail string
			Status                                          int
		}
		json.Unmarshal(it, &en)
		got = append(got, fmt.Sprintf("%s/%s/%d/%s", en.Action, en.Outcome, en.Status, en.License))
		if en.ID == "" || (en.Action == "activation" && en.Appliance == "") {
			t.Fatalf("ledger entry %s", it)
		}
	}
	if want := []string{"order/accepted/201/", "activation/accepted/201/" + a.ID, "activation/refused/409/"}; !slices.Equal(got, want) {
		t.Fatalf("ledger = %v, want %v", got, want)
	}
	if !strings.Contains(string(items[2]), "1 of 1 taken") {
		t.Fatalf("the refusal's detail does not quote the seats: %s", items[2])
	}
	var accepted struct{ Detail string }
	json.Unmarshal(items[1], &accepted)
	if accepted.Detail != "initial" {
		t.Fatalf("the activation's detail is %q, want its case alone", accepted.Detail)
	}
	code, body = e.do("GET", "/v1/contracts/IC-1/ledger", other, nil)
	e.want(403, code, body, "ledger with another contract's token")
	code, body = e.do("GET", "/v1/contracts/IC-404/ledger", e.admin, nil)
	e.want(404, code, body, "ledger of an unknown contract")
	code, body = e.do("GET", "/v1/contracts/IC-404/ledger", other, nil)
	e.want(403, code, body, "ledger of an unknown contract with a contract's token")
	code, body = e.do("GET", "/v1/contracts/IC-1/ledger?after=bogus", tok, nil)
	e.want(400, code, body, "ledger with a bad cursor")
	// Successful reads are not ledger entries.
	e.do("GET", "/v1/contracts/IC-1", tok, nil)
	e.do("GET", "/v1/contracts/IC-1", e.admin, nil)
	if n := len(e.ledger("IC-1")); n != 3 {
		t.Fatalf("reads added to the ledger: %d entries, want 3", n)
	}
}

// testForbiddenLedger: a contract's token sent to another contract is
// refused 403 and recorded in its own contract's ledger, never in the one
// it tried to reach.
func testForbiddenLedger(t *testing.T, e *env) {
	tokA := e.order("IC-A", 1)
	e.order("IC-B", 1)
	before := len(e.ledger("IC-B"))
	for i := range 5 {
		code, _, body := e.activate(tokA, "IC-B", newDevice(t, 10+i).lrf(e), "")
		e.want(403, code, body, "activation of IC-B with IC-A's token")
	}
	code, body := e.do("GET", "/v1/contracts/IC-B", tokA, nil)
	e.want(403, code, body, "view of IC-B with IC-A's token")
	code, body = e.do("POST", "/v1/contracts/IC-B/token", tokA, map[string]any{})
	e.want(403, code, body, "rotation with a contract's token")
	if n := len(e.ledger("IC-B")); n != before {
		t.Fatalf("IC-B's ledger grew from %d to %d rows by IC-A's refusals", before, n)
	}
	refused := 0
	for _, en := range e.ledger("IC-A") {
		if en.Status == 403 && en.Outcome == store.Refused {
			refused++
		}
	}
	if refused != 7 {
		t.Fatalf("IC-A's ledger records %d refusals 403, want 7", refused)
	}
}

// testTokenRotation: the admin rotates a contract's token; the old one is
// refused at once, the new one works, and the rotation is in the ledger.
func testTokenRotation(t *testing.T, e *env) {
	old := e.order("IC-1", 1)
	code, body := e.do("GET", "/v1/contracts/IC-1", old, nil)
	e.want(200, code, body, "view with the token")
	code, body = e.do("POST", "/v1/contracts/IC-1/token", e.admin, map[string]any{})
	e.want(200, code, body, "rotation")
	var out struct{ Contract, Token string }
	json.Unmarshal(body, &out)
	if out.Contract != "IC-1" || out.Token == "" || out.Token == old {
		t.Fatalf("rotation answered %s", body)
	}
	code, body = e.do("GET", "/v1/contracts/IC-1", old, nil)
	e.want(401, code, body, "view with the rotated token")
	code, body = e.do("GET", "/v1/contracts/IC-1", out.Token, nil)
	e.want(200, code, body, "view with the new token")
	e.mustActivate(out.Token, "IC-1", newDevice(t, 1).lrf(e), "", "initial", "2026-01-05T00:00:00Z", "2027-01-05T00:00:00Z")
	code, body = e.do("POST", "/v1/contracts/IC-404/token", e.admin, map[string]any{})
	e.want(404, code, body, "rotation of an unknown contract")
	code, body = e.do("POST", "/v1/contracts/IC-1/token", e.admin, map[string]any{"token": "mine"})
	e.want(400, code, body, "rotation with a body")
	rotations := 0
	for _, en := range e.ledger("IC-1") {
		if en.Action == "token" && en.Outcome == store.Accepted {
			rotations++
		}
	}
	if rotations != 1 {
		t.Fatalf("ledger records %d rotations, want 1", rotations)
	}
}

// testAnomalyList: a copied state refused again and again is one anomaly
// with a count, not a row each; the list filters by contract.
func testAnomalyList(t *testing.T, e *env) {
	tok := e.order("IC-1", 2)
	e.order("IC-2", 1)
	d := newDevice(t, 1)
	e.mustActivate(tok, "IC-1", d.lrf(e), "", "initial", "2026-01-05T00:00:00Z", "2027-01-05T00:00:00Z")
	copied := newDevice(t, 1) // same id, another device key
	for range 25 {
		code, _, body := e.activate(tok, "IC-1", copied.lrf(e), "")
		e.want(409, code, body, "activation of a copy")
	}
	items, _ := e.list("/v1/anomalies", e.admin, "anomalies", 10)
	if len(items) != 1 {
		t.Fatalf("anomalies = %d, want 1: %s", len(items), items)
	}
	var a struct {
		ID, Contract, Appliance, Kind, Detail string
		Count                                 int
	}
	json.Unmarshal(items[0], &a)
	if a.Kind != "identity_conflict" || a.Count != 25 || a.Contract != "IC-1" || a.Appliance != d.id || a.Detail == "" {
		t.Fatalf("anomaly = %+v", a)
	}
	// The next UTC day starts another.
	e.at("2026-01-06")
	e.activate(tok, "IC-1", copied.lrf(e), "")
	if items, _ := e.list("/v1/anomalies?contract=IC-1", e.admin, "anomalies", 1); len(items) != 2 {
		t.Fatalf("anomalies of IC-1 over two days = %d, want 2", len(items))
	}
	if items, _ := e.list("/v1/anomalies?contract=IC-2", e.admin, "anomalies", 10); len(items) != 0 {
		t.Fatalf("anomalies of IC-2 = %s", items)
	}
	code, body := e.do("GET", "/v1/anomalies", tok, nil)
	e.want(403, code, body, "anomalies with a contract's token")
	code, body = e.do("GET", "/v1/anomalies?contract=IC-404", e.admin, nil)
	e.want(404, code, body, "anomalies of an unknown contract")
}

// testContractViewPages: GET /v1/contracts/{id} pages appliances by id,
// with the licenses of the appliances on the page.
func testContractViewPages(t *testing.T, e *env) {
	tok := e.order("IC-1", 5)
	for i := range 5 {
		e.mustActivate(tok, "IC-1", newDevice(t, 5-i).lrf(e), "", "initial", "2026-01-05T00:00:00Z", "2027-01-05T00:00:00Z")
	}
	var appliances, licenses []string
	after := ""
	for n := 0; ; n++ {
		if n > 5 {
			t.Fatal("contract view: no last page")
		}
		path := "/v1/contracts/IC-1?limit=2"
		if after != "" {
			path += "&after=" + after
		}
		code, body := e.do("GET", path, tok, nil)
		e.want(200, code, body, "GET "+path)
		var v struct {
			Contract   struct{ ID string }
			Appliances []struct{ ID string }
			Licenses   []struct{ ID, Appliance string }
			Next       string
		}
		json.Unmarshal(body, &v)
		if v.Contract.ID != "IC-1" || len(v.Appliances) > 2 || len(v.Licenses) != len(v.Appliances) {
			t.Fatalf("page %s", body)
		}
		for i, a := range v.Appliances {
			appliances = append(appliances, a.ID)
			if v.Licenses[i].Appliance != a.ID {
				t.Fatalf("page %s lists the license of another appliance", body)
			}
			licenses = append(licenses, v.Licenses[i].ID)
		}
		if after = v.Next; after == "" {
			break
		}
	}
	if want := []string{"A-00000001", "A-00000002", "A-00000003", "A-00000004", "A-00000005"}; !slices.Equal(appliances, want) {
		t.Fatalf("appliances = %v, want %v", appliances, want)
	}
	code, body := e.do("GET", "/v1/contracts/IC-1?limit=501", tok, nil)
	e.want(400, code, body, "contract view with limit 501")
}

// testFreedSeatRace: 20 appliances activate at once on 20 freed seats; a
// free seat is never refused.
func testFreedSeatRace(t *testing.T, e *env) {
	const n = 20
	tok := e.order("IC-1", n)
	held := make([]*device, n)
	lics := make([]string, n)
	for i := range n {
		held[i] = newDevice(t, 1+i)
		lics[i] = e.mustActivate(tok, "IC-1", held[i].lrf(e), "", "initial", "2026-01-05T00:00:00Z", "2027-01-05T00:00:00Z").ID
	}
	for i, d := range held {
		code, body := e.do("POST", "/v1/releases", tok, map[string]any{"receipt": d.receipt(e, "IC-1", []string{lics[i]})})
		e.want(200, code, body, "release")
	}
	lrfs := make([]string, n)
	for i := range n {
		lrfs[i] = newDevice(t, 100+i).lrf(e)
	}
	codes := make([]int, n)
	bodies := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _, bodies[i] = e.activate(tok, "IC-1", lrfs[i], "")
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusCreated {
			t.Errorf("activation %d on a freed seat: %d %s", i, c, bodies[i])
		}
	}
	if c, _ := e.store.Contract(t.Context(), "IC-1"); c.Used != n {
		t.Fatalf("seats used = %d, want %d", c.Used, n)
	}
}

// testReissueStored: fresh LRFs from a bound appliance with nothing new
// get the stored license back (200, same id and bytes), never another.
func testReissueStored(t *testing.T, e *env) {
	tok := e.order("IC-1", 1)
	d := newDevice(t, 1)
	first := e.mustActivate(tok, "IC-1", d.lrf(e), "", "initial", "2026-01-05T00:00:00Z", "2027-01-05T00:00:00Z")
	for range 5 {
		code, a, body := e.activate(tok, "IC-1", d.lrf(e), "")
		e.want(200, code, body, "reissue")
		if a.ID != first.ID || a.License != first.License || a.Reason != "reissue" {
			t.Fatalf("reissue answered %s %s, want the stored %s", a.ID, a.Reason, first.ID)
		}
	}
	lics, _, err := e.store.Licenses(t.Context(), "IC-1", "", 100)
	if err != nil || len(lics) != 1 {
		t.Fatalf("licenses after reissues = %d, %v; want 1", len(lics), err)
	}
	// Another recipient (the appliance's age identity was made again)
	// gets a license of its own, once.
	d.identity = newDevice(t, 2).identity
	code, a, body := e.activate(tok, "IC-1", d.lrf(e), "")
	e.want(201, code, body, "reissue to another recipient")
	code, b, body := e.activate(tok, "IC-1", d.lrf(e), "")
	e.want(200, code, body, "reissue to that recipient again")
	if a.Reason != "reissue" || b.ID != a.ID {
		t.Fatalf("reissues to a new recipient: %s %s then %s", a.ID, a.Reason, b.ID)
	}
}
