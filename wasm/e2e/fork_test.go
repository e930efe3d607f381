package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestForkAfterRelease plays the attack the history exists for, with the
// real binaries: an appliance backs up its state, releases its seat (the
// vendor frees it), and the backup is restored into a fresh state directory
// on the same machine. Offline the restored appliance is licensed again (a
// restore cannot be seen on the appliance alone), but its next LRF carries a
// history that abandoned the release: the issuer refuses it with 409
// history-fork, on bbolt and on DynamoDB, and an admin reallocation naming
// the appliance lifts the refusal.
func TestForkAfterRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs tenure and tenure-issuer")
	}
	t.Run("bolt", func(t *testing.T) { forkAfterRelease(t, nil) })
	t.Run("dynamodb", func(t *testing.T) {
		endpoint := os.Getenv("AWS_ENDPOINT_URL_DYNAMODB")
		if endpoint == "" {
			if os.Getenv("CI") != "" {
				t.Fatal("AWS_ENDPOINT_URL_DYNAMODB is not set: scripts/test.sh starts DynamoDB Local")
			}
			t.Skip("no DynamoDB Local (AWS_ENDPOINT_URL_DYNAMODB); scripts/test.sh starts one")
		}
		table := fmt.Sprintf("tenure-e2e-fork-%d", time.Now().UnixNano())
		env := []string{"TENURE_STORE=dynamodb:" + table}
		cmd := exec.Command(filepath.Join(built.bin, "tenure-issuer"), "create-table", table)
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("create-table: %v\n%s", err, out)
		}
		forkAfterRelease(t, env)
	})
}

func forkAfterRelease(t *testing.T, storeEnv []string) {
	work := t.TempDir()
	data := filepath.Join(work, "issuer")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"issuer.key", "issuer.pass", "issuer.pub"} {
		b, err := os.ReadFile(filepath.Join(built.keys, name))
		if err == nil {
			err = os.WriteFile(filepath.Join(data, name), b, 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	platform := filepath.Join(work, "platform.json")
	if err := os.WriteFile(platform, []byte(`{"machine_id":"e2e-fork-machine","dmi_uuid":"e2e-fork-board","mac:eth0":"52:54:00:e2:e2:01"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	pass := filepath.Join(work, "backup.pass")
	if err := os.WriteFile(pass, []byte("correct horse battery staple\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const admin = "e2e-admin-token-0123456789"
	url := serve(t, data, admin, "2026-01-10T09:00:00Z", storeEnv)

	tenure := func(state, now string, stdin []byte, want int, args ...string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join(built.bin, "tenure"), append([]string{"--state", state, "--platform", platform}, args...)...)
		cmd.Env = append(os.Environ(), "TENURE_NOW="+now, "XDG_CACHE_HOME="+built.cache)
		cmd.Stdin = bytes.NewReader(stdin)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != want {
			t.Fatalf("tenure %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, want, out.String(), errOut.String())
		}
		return out.String()
	}
	call := func(method, path, token string, body any, want int) map[string]any {
		t.Helper()
		return apiCall(t, url, method, path, token, body, want)
	}
	status := func(state, now string) map[string]any {
		t.Helper()
		var s map[string]any
		if err := json.Unmarshal([]byte(tenure(state, now, nil, 0, "status", "--json")), &s); err != nil {
			t.Fatal(err)
		}
		return s
	}

	created := call("PUT", "/v1/contracts/IC-7", admin, map[string]any{
		"customer": "ACME Networks", "product": "edge", "tier": "pro", "kind": "commercial",
		"features": []string{"monitoring", "scion", "vpn"}, "limits": map[string]int64{"vpn_users": 100},
		"appliances": 1, "term_months": 12, "change": "order", "status": "active"}, 201)
	token, _ := created["token"].(string)

	state := filepath.Join(work, "edge-01")
	const day = "2026-01-10T09:00:00Z"
	tenure(state, day, nil, 0, "init", "--product", "edge", "--version", "0.40.0")
	lrf := tenure(state, day, nil, 0, "request")
	act := call("POST", "/v1/activations", token, map[string]any{"contract": "IC-7", "request": lrf}, 201)
	license, _ := act["license"].(string)
	tenure(state, day, []byte(license), 0, "install", "-")
	backup := tenure(state, day, nil, 0, "backup", "--passphrase-file", pass)

	id, _ := act["id"].(string)
	receipt := tenure(state, day, nil, 0, "release", id)
	call("POST", "/v1/releases", token, map[string]any{"receipt": receipt}, 200)

	restored := filepath.Join(work, "edge-01-restored")
	tenure(restored, day, []byte(backup), 0, "restore", "--passphrase-file", pass)
	if s := status(restored, day); s["state"] != "licensed" {
		t.Fatalf("the restored state offline: %v (a restore is not visible on the appliance alone)", s["state"])
	}
	forked := tenure(restored, day, nil, 0, "request")
	p := call("POST", "/v1/activations", token, map[string]any{"contract": "IC-7", "request": forked}, 409)
	if typ, _ := p["type"].(string); !strings.HasSuffix(typ, "/history-fork") {
		t.Fatalf("the forked LRF was refused as %v, want history-fork: %v", typ, p)
	}
	// The vendor decides: a reallocation naming the appliance lifts it.
	appliance, _ := act["appliance"].(string)
	call("POST", "/v1/contracts/IC-7/reallocations", admin, map[string]any{"appliance": appliance, "reason": "restored after a disk failure"}, 200)
	again := tenure(restored, day, nil, 0, "request")
	call("POST", "/v1/activations", token, map[string]any{"contract": "IC-7", "request": again}, 201)
}

// serve runs tenure-issuer serve on a free loopback port until the test
// ends, and returns its URL.
func serve(t *testing.T, data, admin, now string, extra []string) string {
	t.Helper()
	url, stop, err := startIssuer(data, admin, now, extra)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return url
}

// startIssuer runs tenure-issuer serve on a free loopback port with its
// clock at now, and returns its URL and how to stop it.
func startIssuer(data, admin, now string, extra []string) (url string, stop func(), err error) {
	cmd := exec.Command(filepath.Join(built.bin, "tenure-issuer"), "serve", "--addr", "127.0.0.1:0", "--data", data)
	cmd.Env = append(append(os.Environ(), "TENURE_NOW="+now, "TENURE_ADMIN_TOKEN="+admin), extra...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	done := make(chan struct{})
	stop = func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
	}
	addr := make(chan string, 1)
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			var l struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "listening" {
				addr <- l.Addr
			}
		}
		cmd.Wait()
	}()
	select {
	case a := <-addr:
		return a, stop, nil
	case <-done:
		return "", nil, errors.New("tenure-issuer serve exited before it listened")
	case <-time.After(30 * time.Second):
		stop()
		return "", nil, errors.New("tenure-issuer serve did not listen within 30s")
	}
}

// apiCall sends body as JSON to the issuer at url with token, fails tb
// unless the answer has status want, and returns the answer's JSON object.
func apiCall(tb testing.TB, url, method, path, token string, body any, want int) map[string]any {
	tb.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(method, url+path, bytes.NewReader(b))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		tb.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	var out map[string]any
	json.Unmarshal(raw, &out)
	return out
}
