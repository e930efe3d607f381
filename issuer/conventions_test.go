package issuer_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tenurehq/tenure/issuer"
	"github.com/tenurehq/tenure/issuer/internal/store/bolt"
	"github.com/tenurehq/tenure/shared/engine"
)

// syncBuffer is a log destination the handler's goroutines share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

// conventionServer is an issuer over bbolt on 127.0.0.1 logging to log, with
// contract IC-1 and its token.
func conventionServer(t *testing.T, log io.Writer) (srv *httptest.Server, admin, tok string) {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "issuer.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	skey, vkey, _ := engine.GenerateKey(rand.Reader, "tenure-issuer-test")
	signer, _ := note.NewSigner(skey)
	admin = "admin-" + strings.Repeat("b", 40)
	h, err := issuer.New(issuer.Config{Store: st, Signers: []note.Signer{signer}, Keys: []string{vkey}, AdminToken: admin,
		Now: func() time.Time { return time.Date(2026, 1, 20, 10, 0, 0, 0, time.UTC) }, Logger: slog.New(slog.NewJSONHandler(log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv = httptest.NewServer(h)
	t.Cleanup(srv.Close)
	code, _, body := send(t, srv, "PUT", "/v1/contracts/IC-1", admin, "application/json", []byte(`{"customer":"ACME","product":"edge","tier":"pro","kind":"commercial","features":["scion"],"limits":{"vpn_users":10},"appliances":1,"term_months":12,"change":"order","status":"active"}`))
	if code != 201 {
		t.Fatalf("order: %d %s", code, body)
	}
	var out struct{ Token string }
	json.Unmarshal(body, &out)
	return srv, admin, out.Token
}

func send(t *testing.T, srv *httptest.Server, method, path, token, ctype string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+"/", rd)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = path // sent as it is: no cleaning, no escaping
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// TestCheckOrder: each check of DESIGN.md's order wins over every later
// one, and every refusal is a problem document, those the mux would answer
// itself included.
func TestCheckOrder(t *testing.T) {
	srv, admin, tok := conventionServer(t, io.Discard)
	long := "/v1/contracts/" + strings.Repeat("x", 9000)
	big := bytes.Repeat([]byte("x"), issuer.MaxBody+1)
	for _, tc := range []struct {
		what                       string
		method, path, token, ctype string
		body                       []byte
		status                     int
		slug                       string
	}{
		{"414 before 413", "PUT", long, "", "text/plain", big, 414, "uri-too-long"},
		{"413 before 405", "DELETE", "/v1/keys", "", "text/plain", big, 413, "too-large"},
		{"405 before 415", "DELETE", "/v1/contracts/IC-1", "", "text/plain", []byte("{}"), 405, "method-not-allowed"},
		{"415 before 401", "POST", "/v1/activations", "", "text/plain", []byte("{}"), 415, "unsupported-type"},
		{"401 before 400", "POST", "/v1/activations", "", "application/json", []byte("{"), 401, "unauthorized"},
		{"400 before 403", "POST", "/v1/contracts/IC-1/token", tok, "application/json", []byte(`{"x":1}`), 400, "malformed"},
		{"403 before 404", "POST", "/v1/contracts/IC-404/token", tok, "application/json", []byte(`{}`), 403, "forbidden"},
		{"404 of a contract", "POST", "/v1/contracts/IC-404/token", admin, "application/json", []byte(`{}`), 404, "not-found"},
		{"a +json type with parameters", "POST", "/v1/contracts/IC-1/token", admin, "application/merge-patch+json; charset=utf-8", []byte(`{}`), 200, ""},
		{"no body is never 415", "GET", "/v1/contracts", admin, "text/plain", nil, 200, ""},
		{"huge number", "PUT", "/v1/contracts/IC-1", admin, "application/json", []byte(`{"customer":"ACME","limits":{"vpn_users":1E+999999999}}`), 400, "malformed"},
		{"an unclean path is no redirect", "GET", "//v1/keys", "", "", nil, 404, "not-found"},
		{"dot segments", "GET", "/v1/../v1/keys", "", "", nil, 404, "not-found"},
	} {
		t.Run(tc.what, func(t *testing.T) {
			code, h, body := send(t, srv, tc.method, tc.path, tc.token, tc.ctype, tc.body)
			if code != tc.status {
				t.Fatalf("%s %.40s: %d, want %d: %.300s", tc.method, tc.path, code, tc.status, body)
			}
			if tc.slug == "" {
				return
			}
			var p struct{ Type, Title, Detail string }
			if err := json.Unmarshal(body, &p); err != nil || p.Type != "https://tenure.dev/problems/"+tc.slug || p.Detail == "" ||
				h.Get("Content-Type") != "application/problem+json" || h.Get("Cache-Control") != "no-store" {
				t.Fatalf("refusal %d is not the problem %s: %s %s", code, tc.slug, h, body)
			}
			if len(body) > 2048 {
				t.Fatalf("refusal of %d bytes echoes the request: %.200s", len(body), body)
			}
			switch code {
			case 401:
				if h.Get("WWW-Authenticate") != "Bearer" {
					t.Fatalf("401 without WWW-Authenticate: Bearer: %v", h)
				}
			case 405:
				if h.Get("Allow") == "" {
					t.Fatal("405 without Allow")
				}
			case 400:
				if tc.what == "huge number" && !strings.Contains(p.Detail, "limits.vpn_users") {
					t.Fatalf("the 400 of a huge number does not name the field: %s", p.Detail)
				}
			}
		})
	}
}

// TestLogBounded: 50 unauthenticated requests with 1 MB paths cost the log
// a few lines, not their paths.
func TestLogBounded(t *testing.T) {
	var log syncBuffer
	srv, _, _ := conventionServer(t, &log)
	before := log.Len()
	path := "/v1/contracts/" + strings.Repeat("a", 1<<20)
	for range 50 {
		code, _, body := send(t, srv, "GET", path, "", "", nil)
		if code != 414 {
			t.Fatalf("1 MB path: %d %.200s", code, body)
		}
	}
	if n := log.Len() - before; n > 50*1024 {
		t.Fatalf("50 requests with 1 MB paths wrote %d bytes of log", n)
	}
	// A path under the limit is logged cut at 256 bytes.
	before = log.Len()
	send(t, srv, "GET", "/v1/"+strings.Repeat("b", 8000), "", "", nil)
	if n := log.Len() - before; n > 1024 {
		t.Fatalf("one 8000-byte path wrote %d bytes of log", n)
	}
}
