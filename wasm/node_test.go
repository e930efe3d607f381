package wasm

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/tenurehq/tenure/shared/abi"
	"github.com/tenurehq/tenure/shared/engine"
	"github.com/tenurehq/tenure/wasm/internal/guest"
)

// node runs the command module under Node's WASI over state and returns its
// stdout, failing the test unless it exits 0.
func node(t *testing.T, state, now string, words ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is not installed; the WASI cross-runtime test needs it under CI")
		}
		t.Skip("node is not installed")
	}
	module(t, guest.Command)
	args := append([]string{filepath.Join("testdata", "node", "run.mjs"), guests.Paths[guest.Command], state}, words...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), abi.EnvPlatform+"="+platformA, abi.EnvNow+"="+now)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %v: %v\nstdout:\n%s\nstderr:\n%s", words, err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.Bytes()
}

// viaWazero runs the same words through the reactor in wazero.
func viaWazero(t *testing.T, state, now string, words ...string) []byte {
	t.Helper()
	v := open(t, state, platformA, now)
	defer v.Close()
	r, err := v.Call(context.Background(), words, "")
	if err != nil {
		t.Fatal(err)
	}
	if r.Exit != 0 {
		t.Fatalf("wazero %v: exit %d\n%s", words, r.Exit, r.Stderr)
	}
	return []byte(r.Stdout)
}

// TestNode holds the command module under Node's WASI to the reactor under
// wazero: a state made by one is read the same by the other, and the same
// words over copies of one state give the same answers.
func TestNode(t *testing.T) {
	const now = "2026-01-05T10:00:00Z"
	for _, maker := range []string{"node", "wazero"} {
		t.Run("init by "+maker, func(t *testing.T) {
			state := t.TempDir()
			init := []string{"init", "--product", "edge", "--version", "0.40.0"}
			if maker == "node" {
				node(t, state, now, init...)
			} else {
				viaWazero(t, state, now, init...)
			}
			a, b := copyState(t, state), copyState(t, state)
			later := "2026-01-06T12:00:00Z"
			sn, sw := node(t, a, later, "status", "--json"), viaWazero(t, b, later, "status", "--json")
			if !bytes.Equal(sn, sw) {
				t.Fatalf("status --json differs\nnode:\n%s\nwazero:\n%s", sn, sw)
			}
			var s engine.Status
			if err := json.Unmarshal(sn, &s); err != nil || s.State != engine.ModeTrial {
				t.Fatalf("status: %v\n%s", err, sn)
			}
			// The LRFs differ by their nonces (and so their signatures);
			// everything else must be equal, the sequence included.
			rn, rw := request(t, node(t, a, later, "request")), request(t, viaWazero(t, b, later, "request"))
			if rn.Nonce == rw.Nonce {
				t.Errorf("two LRFs share the nonce %s", rn.Nonce)
			}
			rn.Nonce, rw.Nonce = "", ""
			jn, _ := json.Marshal(rn)
			jw, _ := json.Marshal(rw)
			if !bytes.Equal(jn, jw) {
				t.Fatalf("request differs\nnode:   %s\nwazero: %s", jn, jw)
			}
			// Each runtime then reads what the other wrote.
			sn, sw = node(t, b, later, "status", "--json"), viaWazero(t, a, later, "status", "--json")
			if !bytes.Equal(sn, sw) {
				t.Fatalf("status --json over each other's state differs\nnode:\n%s\nwazero:\n%s", sn, sw)
			}
		})
	}
}

func request(t *testing.T, lrf []byte) *engine.Request {
	t.Helper()
	r, _, err := engine.OpenRequest(lrf)
	if err != nil {
		t.Fatalf("the LRF does not open: %v\n%s", err, lrf)
	}
	return r
}

// copyState copies a state directory, so two runtimes start from the same
// appliance.
func copyState(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}
