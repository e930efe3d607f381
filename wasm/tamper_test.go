package wasm

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenurehq/tenure/shared/abi"
	"github.com/tenurehq/tenure/validator/tampertest"
	"github.com/tenurehq/tenure/wasm/internal/guest"
)

// TestTamperMatrix runs the validator's tamper matrix (package tampertest)
// through the real reactor, a fresh instance for every invocation so each
// reads the edited state from scratch: every edit of every file of an
// appliance's state leaves its status no better than before.
func TestTamperMatrix(t *testing.T) {
	reactor := module(t, guest.Reactor)
	ctx := context.Background()
	run := func(dir string, args []string, env map[string]string, stdin string) tampertest.Result {
		p, err := ParsePlatform([]byte(env["TENURE_PLATFORM"]))
		if err != nil {
			return tampertest.Result{Exit: -1, Stderr: err.Error()}
		}
		v, err := Open(ctx, Options{State: dir, Platform: p, Now: env["TENURE_NOW"], Module: reactor})
		if err != nil {
			return tampertest.Result{Exit: -1, Stderr: err.Error()}
		}
		defer v.Close()
		r, err := v.Call(ctx, args, stdin)
		if err != nil {
			return tampertest.Result{Exit: -1, Stderr: err.Error()}
		}
		return tampertest.Result{Exit: r.Exit, Stdout: r.Stdout, Stderr: r.Stderr}
	}
	root := t.TempDir()
	scenarios := tampertest.Scenarios(t, run, guests.Signer, root)
	n := tampertest.Run(t, run, scenarios)
	t.Logf("%d edits tried over %d scenarios through the reactor", n, len(scenarios)-1)
}

// TestPrivateState: the host narrows a state directory others could read.
func TestPrivateState(t *testing.T) {
	state := t.TempDir()
	if err := os.Chmod(state, 0o755); err != nil {
		t.Fatal(err)
	}
	open(t, state, platformA, day1)
	fi, err := os.Stat(state)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("the state directory is %v after Open (%v), want 0700", fi.Mode().Perm(), err)
	}
}

// TestReactorBounds: the live instance refuses a request over 1 MiB, a
// request with data after its JSON and one that is not UTF-8, each with
// exit 2 and before it touches the state; and a file named outside /state
// is refused with what to do instead.
func TestReactorBounds(t *testing.T) {
	ctx := context.Background()
	state := t.TempDir()
	v := open(t, state, platformA, day1)
	if err := v.Init(ctx, "edge", "0.40.0"); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(filepath.Join(state, "history"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := v.Call(ctx, []string{"install", "-"}, strings.Repeat("x", abi.MaxRequest))
	if err != nil || r.Exit != 2 || !strings.Contains(r.Stderr, "1 MiB") {
		t.Fatalf("a request over 1 MiB: %+v, %v", r, err)
	}
	for _, req := range []string{
		`{"args":["first-use"],"env":{"TENURE_PLATFORM":"{\"machine_id\":\"m\"}"}} {"args":["status"]}`,
		"{\"args\":[\"first-use\",\"\xff\"]}",
	} {
		out, err := v.invokeLive(ctx, []byte(req))
		if err != nil || abi.ResponseExit(out) != 2 {
			t.Fatalf("request %q: %s, %v", req, out, err)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(state, "history")); !bytes.Equal(after, before) {
		t.Fatal("a refused request changed the history")
	}
	r, err = v.Call(ctx, []string{"install", "/etc/hostname"}, "")
	if err != nil || r.Exit != 1 || !strings.Contains(r.Stderr, "the module sees only /state") || !strings.Contains(r.Stderr, "install -") {
		t.Fatalf("install of a file outside /state: %+v, %v", r, err)
	}
}
