package issuer_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tenurehq/tenure/issuer"
	"github.com/tenurehq/tenure/issuer/internal/signer"
	"github.com/tenurehq/tenure/issuer/internal/store/bolt"
	"github.com/tenurehq/tenure/shared/engine"
)

// source is an admin token source whose answer the test sets, counting its
// calls.
type source struct {
	mu    sync.Mutex
	token string
	err   error
	calls int
	delay time.Duration // how long a read takes
}

func (s *source) read(context.Context) (string, error) {
	time.Sleep(s.delay)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	return s.token, s.err
}

func (s *source) set(token string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token, s.err = token, err
}

func (s *source) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// TestAdminTokenSource: the admin token is read on the first request whose
// token is no contract's, never at start nor for public routes or contract
// tokens; a failed read answers 503 admin-token-unavailable and is tried
// again on the next such request; a read token is kept.
func TestAdminTokenSource(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "issuer.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	skey, _, err := engine.GenerateKey(rand.Reader, "tenure-issuer-test")
	if err != nil {
		t.Fatal(err)
	}
	sg, err := signer.Parse(skey)
	if err != nil {
		t.Fatal(err)
	}
	signers := []note.Signer{sg}

	// A contract made through an issuer with a plain admin token, on the
	// store the issuer under test shares.
	plain := "admin-" + rand.Text()
	h, err := issuer.New(issuer.Config{Store: st, Signers: signers, AdminToken: plain})
	if err != nil {
		t.Fatal(err)
	}
	first := httptest.NewServer(h)
	defer first.Close()
	contract := `{"customer":"ACME Networks","product":"edge","tier":"pro","kind":"commercial",` +
		`"features":["vpn"],"limits":{"vpn_users":250},"appliances":2,"term_months":12,"change":"order","status":"active"}`
	code, body := call(t, first.URL, "PUT", "/v1/contracts/IC-1042", plain, contract)
	var created struct{ Token string }
	if code != http.StatusCreated || json.Unmarshal(body, &created) != nil || created.Token == "" {
		t.Fatalf("creating the contract: %d %s", code, body)
	}

	if _, err := issuer.New(issuer.Config{Store: st, Signers: signers, AdminToken: plain, AdminTokenSource: (&source{}).read}); err == nil {
		t.Errorf("New took both an admin token and a source")
	}

	src := &source{err: errors.New("AccessDeniedException: not allowed")}
	h, err = issuer.New(issuer.Config{Store: st, Signers: signers, AdminTokenSource: src.read})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	want := func(step string, code int, body []byte, status int, slug string, calls int) {
		t.Helper()
		var p struct{ Type, Detail string }
		if code != status {
			t.Errorf("%s: %d %s, want %d", step, code, body, status)
		} else if slug != "" && (json.Unmarshal(body, &p) != nil || p.Type != "https://tenure.dev/problems/"+slug) {
			t.Errorf("%s: %s, want a problem of type %s", step, body, slug)
		}
		if got := src.count(); got != calls {
			t.Errorf("%s: the source was called %d times in all, want %d", step, got, calls)
		}
	}

	// Nothing at start, nothing for public routes, a contract token or no
	// token at all.
	if n := src.count(); n != 0 {
		t.Errorf("New read the admin token (%d calls); it must wait for an admin request", n)
	}
	code, body = call(t, srv.URL, "GET", "/v1/keys", "", "")
	want("GET /v1/keys", code, body, http.StatusOK, "", 0)
	code, body = call(t, srv.URL, "GET", "/v1/contracts/IC-1042", created.Token, "")
	want("a contract token while the secret cannot be read", code, body, http.StatusOK, "", 0)
	code, body = call(t, srv.URL, "GET", "/v1/contracts", "", "")
	want("no token", code, body, http.StatusUnauthorized, "unauthorized", 0)

	// The source fails: 503, and each admin request tries again.
	code, body = call(t, srv.URL, "GET", "/v1/contracts", plain, "")
	want("an admin request while the read fails", code, body, http.StatusServiceUnavailable, "admin-token-unavailable", 1)
	var p struct{ Detail string }
	json.Unmarshal(body, &p)
	for _, s := range []string{"TENURE_ADMIN_TOKEN_SECRET", "secretsmanager:GetSecretValue", "ssm:GetParameter", "next admin request"} {
		if !strings.Contains(p.Detail, s) {
			t.Errorf("the 503 detail does not say %q: %s", s, p.Detail)
		}
	}
	if strings.Contains(p.Detail, "AccessDenied") {
		t.Errorf("the 503 detail hands the source's error to a caller who may not be staff: %s", p.Detail)
	}
	src.set("   \n", nil)
	code, body = call(t, srv.URL, "GET", "/v1/contracts", plain, "")
	want("an empty secret", code, body, http.StatusServiceUnavailable, "admin-token-unavailable", 2)
	code, body = call(t, srv.URL, "GET", "/v1/contracts/IC-1042", created.Token, "")
	want("a contract token after failed reads", code, body, http.StatusOK, "", 2)

	// The secret is readable now: the next admin request reads it, and
	// it is kept (a trailing newline, as `echo` leaves it, is no part of
	// the token).
	src.set(plain+"\n", nil)
	code, body = call(t, srv.URL, "GET", "/v1/contracts", plain, "")
	want("an admin request once the secret is readable", code, body, http.StatusOK, "", 3)
	src.set("", errors.New("must not be read again"))
	code, body = call(t, srv.URL, "GET", "/v1/anomalies", plain, "")
	want("a second admin request", code, body, http.StatusOK, "", 3)
	code, body = call(t, srv.URL, "GET", "/v1/contracts", "not-the-admin-token", "")
	want("an unknown token once the admin token is known", code, body, http.StatusUnauthorized, "unauthorized", 3)
	code, body = call(t, srv.URL, "GET", "/v1/contracts", created.Token, "")
	want("a contract token on an admin route", code, body, http.StatusForbidden, "forbidden", 3)
}

// TestAdminTokenSourceOnce: requests that arrive together while the token
// is unread share one read.
func TestAdminTokenSourceOnce(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "issuer.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	skey, _, err := engine.GenerateKey(rand.Reader, "tenure-issuer-test")
	if err != nil {
		t.Fatal(err)
	}
	sg, err := signer.Parse(skey)
	if err != nil {
		t.Fatal(err)
	}
	src := &source{token: "admin-" + rand.Text(), delay: 50 * time.Millisecond}
	h, err := issuer.New(issuer.Config{Store: st, Signers: []note.Signer{sg}, AdminTokenSource: src.read})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Go(func() { codes[i], _ = call(t, srv.URL, "GET", "/v1/contracts", src.token, "") })
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Errorf("request %d: %d, want 200", i, c)
		}
	}
	if n := src.count(); n != 1 {
		t.Errorf("8 concurrent admin requests read the token %d times, want once", n)
	}
}

func call(t *testing.T, base, method, path, token, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
