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
	for _, k := range []string{"AWS_LAMBDA_RUNTIME_API", "TENURE_STORE", "TENURE_KEY_FILE", "TENURE_KEY_PASSPHRASE_FILE", "TENURE_ADMIN_TOKEN", "TENURE_NOW"} {
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
