package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenurehq/tenure/issuer/internal/issuertest"
)

func clearEnv(t *testing.T) {
	for _, k := range []string{"AWS_LAMBDA_RUNTIME_API", "TENURE_STORE", "TENURE_KEY_FILE", "TENURE_KEY_PASSPHRASE_FILE", "TENURE_ADMIN_TOKEN", "TENURE_NOW", "TENURE_PRODUCTS"} {
		t.Setenv(k, "")
	}
}

func TestKeygen(t *testing.T) {
	clearEnv(t)
	dir := filepath.Join(t.TempDir(), "keys")
	var out, errb bytes.Buffer
	if code := runContext(t.Context(), []string{"keygen", "--name", "tenure-issuer-2026", "--dir", dir}, &out, &errb); code != 0 {
		t.Fatalf("keygen exit %d: %s", code, errb.String())
	}
	for name, mode := range map[string]os.FileMode{"issuer.key": 0o600, "issuer.pass": 0o600, "issuer.pub": 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s has mode %v, want %v", name, fi.Mode().Perm(), mode)
		}
	}
	pub, _ := os.ReadFile(filepath.Join(dir, "issuer.pub"))
	if !strings.Contains(out.String(), strings.TrimSpace(string(pub))) {
		t.Errorf("keygen output %q does not show the verifier key %q", out.String(), pub)
	}
	key, _ := os.ReadFile(filepath.Join(dir, "issuer.key"))
	errb.Reset()
	if code := runContext(t.Context(), []string{"keygen", "--name", "tenure-issuer-2026", "--dir", dir}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "exists") {
		t.Fatalf("second keygen: exit %d, %s", code, errb.String())
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "issuer.key")); !bytes.Equal(again, key) {
		t.Fatal("keygen overwrote the key")
	}
	if code := runContext(t.Context(), []string{"keygen"}, &out, &errb); code != 2 {
		t.Fatalf("keygen without --name: exit %d", code)
	}
}

// serving is a server started by startServe.
type serving struct {
	addr   string
	logs   *issuertest.Output
	cancel context.CancelFunc
	done   chan int
}

// stop shuts the server down and returns its exit code.
func (s *serving) stop() int {
	s.cancel()
	return <-s.done
}

// startServe runs serve on a free port with the data directory dir and
// waits until it listens.
func startServe(t *testing.T, dir string) *serving {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	s := &serving{logs: &issuertest.Output{}, cancel: cancel, done: make(chan int, 1)}
	go func() {
		s.done <- runContext(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data", dir}, io.Discard, s.logs)
	}()
	for deadline := time.Now().Add(30 * time.Second); s.addr == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		sc := bufio.NewScanner(strings.NewReader(s.logs.String()))
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				s.addr = line.Addr
			}
		}
		select {
		case code := <-s.done:
			t.Fatalf("serve exited %d: %s", code, s.logs.String())
		default:
		}
	}
	if s.addr == "" {
		cancel()
		t.Fatalf("serve did not log its address: %s", s.logs.String())
	}
	return s
}

func TestServe(t *testing.T) {
	clearEnv(t)
	t.Setenv("TENURE_NOW", "2026-01-05T10:00:00Z")
	dir := filepath.Join(t.TempDir(), "issuer")
	srv := startServe(t, dir)
	addr, logs := srv.addr, srv.logs
	resp, err := http.Get(addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != `{"ok":true}` {
		t.Fatalf("healthz: %d %s", resp.StatusCode, body)
	}
	resp, err = http.Get(addr + "/v1/keys")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	pub, _ := os.ReadFile(filepath.Join(dir, "issuer.pub"))
	if !strings.Contains(string(body), strings.TrimSpace(string(pub))) || !strings.HasPrefix(string(pub), "tenure-dev+") {
		t.Fatalf("keys %s do not list the development key %s", body, pub)
	}

	// The admin token is made once, 0600, and never logged.
	fi, err := os.Stat(filepath.Join(dir, "admin.token"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin.token: %v %v", fi, err)
	}
	token, _ := os.ReadFile(filepath.Join(dir, "admin.token"))
	pass, _ := os.ReadFile(filepath.Join(dir, "issuer.pass"))
	req, _ := http.NewRequest("GET", addr+"/v1/contracts/IC-1", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("admin GET of a missing contract: %d", resp.StatusCode)
	}

	if code := srv.stop(); code != 0 {
		t.Fatalf("serve exited %d after shutdown: %s", code, logs.String())
	}
	l := logs.String()
	for _, secret := range []string{strings.TrimSpace(string(token)), strings.TrimSpace(string(pass)), "PRIVATE+KEY"} {
		if strings.Contains(l, secret) {
			t.Fatalf("a secret is in the logs:\n%s", l)
		}
	}
	if !strings.Contains(l, "admin.token") || !strings.Contains(l, `"status":404`) {
		t.Fatalf("logs lack the token's path or the request line:\n%s", l)
	}

	// A second start reuses the key and the token.
	ctx2, cancel2 := context.WithCancel(t.Context())
	cancel2()
	if code := runContext(ctx2, []string{"serve", "--addr", "127.0.0.1:0", "--data", dir}, io.Discard, io.Discard); code != 0 {
		t.Fatalf("restart: exit %d", code)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "admin.token")); !bytes.Equal(again, token) {
		t.Fatal("restart replaced the admin token")
	}
}

func TestUsage(t *testing.T) {
	clearEnv(t)
	var out, errb bytes.Buffer
	if code := runContext(t.Context(), nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "tenure-issuer serve") {
		t.Fatalf("no args: exit %d, %s", code, errb.String())
	}
	t.Setenv("TENURE_STORE", "mysql:x")
	if code := runContext(t.Context(), []string{"serve", "--data", t.TempDir()}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "bolt:PATH") {
		t.Fatalf("bad store: exit %d, %s", code, errb.String())
	}
}

// call sends body as JSON to a served issuer and returns the status and the
// answer.
func (s *serving) call(t *testing.T, method, path, token string, body any) (int, string) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(method, s.addr+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

const testAdmin = "admin-token-for-the-test-0123456789"

// order creates contract IC-1 on a served issuer and returns its token.
func (s *serving) order(t *testing.T) string {
	t.Helper()
	code, body := s.call(t, "PUT", "/v1/contracts/IC-1", testAdmin, map[string]any{"customer": "ACME", "product": "edge", "tier": "pro",
		"kind": "commercial", "features": []string{"scion", "vpn"}, "limits": map[string]int{"vpn_users": 250}, "appliances": 3,
		"term_months": 12, "change": "order", "status": "active"})
	var created struct{ Token string }
	if code != 201 || json.Unmarshal([]byte(body), &created) != nil || created.Token == "" {
		t.Fatalf("PUT contract: %d %s", code, body)
	}
	return created.Token
}

// activate sends appliance n's first LRF, made at the issuer's clock.
func (s *serving) activate(t *testing.T, token string, n int) (int, string) {
	t.Helper()
	now, err := time.Parse(time.RFC3339, os.Getenv("TENURE_NOW"))
	if err != nil {
		t.Fatal(err)
	}
	return s.call(t, "POST", "/v1/activations", token, map[string]any{"contract": "IC-1", "request": issuertest.FirstLRF(t, n, now)})
}

// clockAckCase runs `tenure-issuer clock-ack` with args and wants the exit
// code; it returns stdout and stderr.
func clockAckCase(t *testing.T, want int, args ...string) (string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	if code := runContext(t.Context(), append([]string{"clock-ack"}, args...), &out, &errb); code != want {
		t.Fatalf("clock-ack %q: exit %d, want %d: %s%s", args, code, want, out.String(), errb.String())
	}
	return out.String(), errb.String()
}

// putBack serves dir at 2026-03-01 to sign a license, then again with the
// clock put back to 2026-02-27: the running server, and the contract's
// token, once an activation has been answered 503 clock-behind.
func putBack(t *testing.T, dir string) (*serving, string) {
	t.Helper()
	t.Setenv("TENURE_NOW", "2026-03-01T10:00:00Z")
	srv := startServe(t, dir)
	token := srv.order(t)
	if code, body := srv.activate(t, token, 1); code != 201 {
		t.Fatalf("activation: %d %s", code, body)
	}
	if code := srv.stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	t.Setenv("TENURE_NOW", "2026-02-27T09:00:00Z")
	srv = startServe(t, dir)
	code, body := srv.activate(t, token, 2)
	if code != 503 || !strings.Contains(body, "/clock-behind") || !strings.Contains(body, "2026-02-27T09:00:00Z") || !strings.Contains(body, "2026-03-01T10:00:00Z") {
		t.Fatalf("activation with the clock put back: %d %s", code, body)
	}
	return srv, token
}

// TestClockAck: an issuer put back more than a day behind the license it
// signed answers activations 503 clock-behind, across a restart, until
// clock-ack accepts its clock on serve's bolt store.
func TestClockAck(t *testing.T) {
	clearEnv(t)
	t.Setenv("TENURE_ADMIN_TOKEN", testAdmin)
	dir := filepath.Join(t.TempDir(), "issuer")
	srv, token := putBack(t, dir)
	if code := srv.stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}

	if _, errb := clockAckCase(t, 2, "--data", dir); !strings.Contains(errb, "--reason") {
		t.Fatalf("clock-ack without a reason: %s", errb)
	}
	if _, errb := clockAckCase(t, 1, "--reason", "NTP fixed", "--data", filepath.Join(t.TempDir(), "nothing")); !strings.Contains(errb, "no issuer database") {
		t.Fatalf("clock-ack without a database: %s", errb)
	}
	if _, errb := clockAckCase(t, 1, "--reason", "two\nlines", "--data", dir); !strings.Contains(errb, "one line") {
		t.Fatalf("clock-ack with a reason of two lines: %s", errb)
	}
	out, errb := clockAckCase(t, 0, "--reason", "NTP was down; the clock is right again", "--data", dir)
	if !strings.Contains(out, "2026-02-27T09:00:00Z") || !strings.Contains(out, "2026-03-01T10:00:00Z") {
		t.Fatalf("clock-ack printed %q, want both times", out)
	}
	if !strings.Contains(errb, `"msg":"issuer clock accepted"`) || !strings.Contains(errb, `"reason":"NTP was down; the clock is right again"`) {
		t.Fatalf("clock-ack logged %q, want the acceptance and its reason", errb)
	}

	srv = startServe(t, dir)
	if code, body := srv.activate(t, token, 3); code != 201 {
		t.Fatalf("activation after clock-ack: %d %s", code, body)
	}
	if code := srv.stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
}
