package web_test

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tenurehq/tenure/issuer"
	"github.com/tenurehq/tenure/issuer/internal/issuertest"
	"github.com/tenurehq/tenure/issuer/internal/signer"
	"github.com/tenurehq/tenure/issuer/internal/store/bolt"
	"github.com/tenurehq/tenure/issuer/web"
	"github.com/tenurehq/tenure/shared/engine"
)

// newIssuer is the real issuer handler over a bbolt store in a temporary
// directory, with a throwaway key.
func newIssuer(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	skey, _, err := engine.GenerateKey(rand.Reader, "tenure-issuer-test")
	if err != nil {
		t.Fatal(err)
	}
	sg, err := signer.Parse(skey)
	if err != nil {
		t.Fatal(err)
	}
	st, err := bolt.Open(filepath.Join(t.TempDir(), "issuer.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	admin := "admin-" + rand.Text()
	h, err := issuer.New(issuer.Config{Store: st, Signers: []note.Signer{sg}, AdminToken: admin})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, admin
}

func send(t *testing.T, method, url string, header map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// checkSecurity checks the headers every answer of the page carries.
func checkSecurity(t *testing.T, what string, h http.Header) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy": web.CSP,
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got, v)
		}
	}
	noCORS(t, what, h)
}

func noCORS(t *testing.T, what string, h http.Header) {
	t.Helper()
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), "access-control-allow-") {
			t.Errorf("%s: answered with %s: %q; the issuer must not open CORS", what, k, h.Values(k))
		}
	}
}

// TestCSP checks the policy itself: nothing inline, nothing from another
// origin, no framing.
func TestCSP(t *testing.T) {
	directives := map[string]string{}
	for _, d := range strings.Split(web.CSP, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		if _, dup := directives[name]; dup {
			t.Errorf("directive %s given twice", name)
		}
		directives[name] = value
	}
	for name, want := range map[string]string{
		"default-src":     "'none'",
		"script-src":      "'self'",
		"style-src":       "'self'",
		"connect-src":     "'self'",
		"frame-ancestors": "'none'",
		"base-uri":        "'none'",
		"form-action":     "'none'",
	} {
		if got := directives[name]; got != want {
			t.Errorf("%s %q, want %q", name, got, want)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "unsafe-hashes", "*", "http:", "https:", "blob:"} {
		if strings.Contains(web.CSP, bad) {
			t.Errorf("the policy allows %s: %s", bad, web.CSP)
		}
	}
}

// TestPage serves the page through the issuer's own handler.
func TestPage(t *testing.T) {
	srv, _ := newIssuer(t)
	bodies := map[string]string{}
	for _, tc := range []struct {
		path, contentType string
	}{
		{"/", "text/html; charset=utf-8"},
		{"/app.js", "text/javascript; charset=utf-8"},
		{"/app.css", "text/css; charset=utf-8"},
	} {
		resp, body := send(t, "GET", srv.URL+tc.path, map[string]string{"Origin": "https://elsewhere.example"}, "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", tc.path, resp.StatusCode, body)
		}
		if got := resp.Header.Get("Content-Type"); got != tc.contentType {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, got, tc.contentType)
		}
		if got := resp.Header.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache (revalidate)", tc.path, got)
		}
		checkSecurity(t, "GET "+tc.path, resp.Header)
		etag := resp.Header.Get("ETag")
		if etag == "" {
			t.Fatalf("GET %s: no ETag", tc.path)
		}
		again, rest := send(t, "GET", srv.URL+tc.path, map[string]string{"If-None-Match": etag}, "")
		if again.StatusCode != http.StatusNotModified || rest != "" {
			t.Errorf("GET %s with its ETag: %d (%d bytes), want 304 and no body", tc.path, again.StatusCode, len(rest))
		}
		head, rest := send(t, "HEAD", srv.URL+tc.path, nil, "")
		if head.StatusCode != http.StatusOK || rest != "" || head.Header.Get("Content-Type") != tc.contentType {
			t.Errorf("HEAD %s: %d %q (%d bytes)", tc.path, head.StatusCode, head.Header.Get("Content-Type"), len(rest))
		}
		bodies[tc.path] = body
	}

	html := bodies["/"]
	// The page links its assets by content hash; such a link may be cached
	// for good.
	for _, asset := range []string{"app.js", "app.css"} {
		m := regexp.MustCompile(regexp.QuoteMeta(asset) + `\?v=([0-9a-f]{16})"`).FindStringSubmatch(html)
		if m == nil {
			t.Fatalf("the page does not link %s by its hash", asset)
		}
		resp, _ := send(t, "GET", srv.URL+"/"+asset+"?v="+m[1], nil, "")
		if got := resp.Header.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
			t.Errorf("GET /%s?v=HASH: Cache-Control %q, want a year, immutable", asset, got)
		}
		if `"`+m[1]+`"` != resp.Header.Get("ETag") {
			t.Errorf("the page links %s as %s; its ETag is %s", asset, m[1], resp.Header.Get("ETag"))
		}
		resp, _ = send(t, "GET", srv.URL+"/"+asset+"?v=0000000000000000", nil, "")
		if got := resp.Header.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("GET /%s with an old hash: Cache-Control %q, want no-cache", asset, got)
		}
	}

	// Nothing inline the policy would block, nothing from elsewhere.
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]`), // a script with a body
		regexp.MustCompile(`(?i)<style`),
		regexp.MustCompile(`(?i)\sstyle=`),
		regexp.MustCompile(`(?i)\son[a-z]+=`),
		regexp.MustCompile(`(?i)javascript:`),
	} {
		if m := bad.FindString(html); m != "" {
			t.Errorf("the page has %q, which the policy blocks", m)
		}
	}
	for _, tag := range regexp.MustCompile(`(?i)<script[^>]*>`).FindAllString(html, -1) {
		if !strings.Contains(tag, ` src="`) {
			t.Errorf("the page has an inline script %s", tag)
		}
	}
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	for path, body := range bodies {
		for _, m := range external.FindAllString(body, -1) {
			if m != "http://www.w3.org" { // the SVG namespace, never fetched
				t.Errorf("%s refers to %s: the page must work where only the issuer is reachable", path, m)
			}
		}
		for _, bad := range []string{"@import", "url(", "localStorage", "document.cookie", "innerHTML", "eval("} {
			if strings.Contains(body, bad) {
				t.Errorf("%s uses %s", path, bad)
			}
		}
	}
	for _, id := range []string{`id="contract"`, `id="token" name="token" type="password"`, `id="lrf"`, `id="effective"`, `type="date"`,
		`id="receipt"`, `id="contract-error"`, `id="token-error"`, `id="lrf-error"`, `id="effective-error"`, `id="receipt-error"`,
		`id="c-ledger"`, `id="ledger-more"`, `id="report"`, `id="report-text"`, `id="report-error"`, `id="c-usage"`} {
		if !strings.Contains(html, id) {
			t.Errorf("the page has no %s", id)
		}
	}
	for _, call := range []string{`'v1/activations'`, `'v1/releases'`, `'v1/reports'`, `'v1/contracts/'`, `'/ledger?limit='`, `sessionStorage`} {
		if !strings.Contains(bodies["/app.js"], call) {
			t.Errorf("app.js does not use %s", call)
		}
	}

	// The rest of the tree is the API's: a problem, not the page.
	for _, path := range []string{"/index.html", "/app.js/x", "/web.go"} {
		resp, body := send(t, "GET", srv.URL+path, nil, "")
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("GET %s: %d %q %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
	resp, body := send(t, "POST", srv.URL+"/", nil, "")
	if resp.StatusCode == http.StatusOK || strings.Contains(body, "<html") {
		t.Errorf("POST / answered the page: %d", resp.StatusCode)
	}
}

// TestHandler serves the page without the issuer.
func TestHandler(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/", http.StatusOK},
		{"HEAD", "/app.css", http.StatusOK},
		{"GET", "/favicon.ico", http.StatusNotFound},
		{"POST", "/", http.StatusMethodNotAllowed},
		{"DELETE", "/app.js", http.StatusMethodNotAllowed},
	} {
		resp, _ := send(t, tc.method, srv.URL+tc.path, nil, "")
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
		}
		checkSecurity(t, tc.method+" "+tc.path, resp.Header)
		if tc.status == http.StatusMethodNotAllowed && resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s: Allow %q", tc.method, tc.path, resp.Header.Get("Allow"))
		}
	}
}

// TestAPINoCORS: the API answers browsers of other origins without a single
// Access-Control-Allow-* header, so their pages cannot read it (or send it
// tokens with custom headers), whatever the request.
func TestAPINoCORS(t *testing.T) {
	srv, admin := newIssuer(t)
	const origin = "https://evil.example"
	contract := `{"customer":"ACME Networks","product":"edge","tier":"pro","kind":"commercial","features":["scion","vpn"],` +
		`"limits":{"vpn_users":250},"appliances":1,"term_months":12,"change":"order","status":"active"}`
	resp, body := send(t, "PUT", srv.URL+"/v1/contracts/IC-7001", map[string]string{"Authorization": "Bearer " + admin, "Origin": origin, "Content-Type": "application/json"}, contract)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT contract: %d %s", resp.StatusCode, body)
	}
	noCORS(t, "PUT /v1/contracts/IC-7001", resp.Header)
	var created struct{ Token string }
	if err := json.Unmarshal([]byte(body), &created); err != nil || created.Token == "" {
		t.Fatalf("PUT contract: %s", body)
	}
	bearer := "Bearer " + created.Token

	for _, tc := range []struct {
		method, path, auth, body string
		status                   int
	}{
		{"GET", "/v1/keys", "", "", http.StatusOK},
		{"GET", "/healthz", "", "", http.StatusOK},
		{"GET", "/v1/contracts/IC-7001", bearer, "", http.StatusOK},
		{"GET", "/v1/contracts/IC-7001", "", "", http.StatusUnauthorized},
		{"POST", "/v1/activations", bearer, `{"contract":"IC-7001","request":"not an LRF"}`, http.StatusBadRequest},
		{"POST", "/v1/releases", bearer, `{"receipt":"not a receipt"}`, http.StatusBadRequest},
		{"POST", "/v1/contracts/IC-7001/reallocations", "Bearer " + admin, `{"appliance":"A-0000000","reason":"test"}`, http.StatusNotFound},
	} {
		what := tc.method + " " + tc.path
		h := map[string]string{"Origin": origin}
		if tc.auth != "" {
			h["Authorization"] = tc.auth
		}
		if tc.body != "" {
			h["Content-Type"] = "application/json"
		}
		resp, body := send(t, tc.method, srv.URL+tc.path, h, tc.body)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d, want %d: %s", what, resp.StatusCode, tc.status, body)
		}
		noCORS(t, what, resp.Header)

		// The preflight a browser sends before a cross-origin call with a
		// token gets no grant either.
		pre, _ := send(t, "OPTIONS", srv.URL+tc.path, map[string]string{
			"Origin": origin, "Access-Control-Request-Method": tc.method,
			"Access-Control-Request-Headers": "authorization, content-type",
		}, "")
		if pre.StatusCode >= 200 && pre.StatusCode < 300 {
			t.Errorf("OPTIONS %s: %d, want a refusal", tc.path, pre.StatusCode)
		}
		noCORS(t, "OPTIONS "+tc.path, pre.Header)
	}
}

// TestClockAheadAdvice: the issuer refuses an LRF from an appliance whose
// clock ran ahead with the problem type the page keys its advice on, and
// the page advises a clock reset from the vendor for that type (the browser
// test shows it on the page).
func TestClockAheadAdvice(t *testing.T) {
	srv, admin := newIssuer(t)
	contract := `{"customer":"ACME Networks","product":"edge","tier":"pro","kind":"commercial","features":["scion","vpn"],` +
		`"limits":{"vpn_users":250},"appliances":1,"term_months":12,"change":"order","status":"active"}`
	resp, body := send(t, "PUT", srv.URL+"/v1/contracts/IC-7001", map[string]string{"Authorization": "Bearer " + admin, "Content-Type": "application/json"}, contract)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT contract: %d %s", resp.StatusCode, body)
	}
	var created struct{ Token string }
	json.Unmarshal([]byte(body), &created)

	lrf := issuertest.FirstLRF(t, 1, time.Now().AddDate(70, 0, 0))
	req, _ := json.Marshal(map[string]string{"contract": "IC-7001", "request": lrf})
	resp, body = send(t, "POST", srv.URL+"/v1/activations", map[string]string{"Authorization": "Bearer " + created.Token, "Content-Type": "application/json"}, string(req))
	var p struct{ Type, Detail string }
	if resp.StatusCode != http.StatusUnprocessableEntity || json.Unmarshal([]byte(body), &p) != nil || !strings.HasSuffix(p.Type, "/clock-ahead") {
		t.Fatalf("an LRF from the future: %d %s, want 422 of type .../clock-ahead", resp.StatusCode, body)
	}
	_, js := send(t, "GET", srv.URL+"/app.js", nil, "")
	m := regexp.MustCompile(`\['clock-ahead', '([^']|\\')*Ask the vendor for a clock reset`).FindString(js)
	if m == "" {
		t.Fatal("app.js gives no advice for a problem of type clock-ahead")
	}
}
