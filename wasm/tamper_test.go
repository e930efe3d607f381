package wasm

import (
	"context"
	"os"
	"testing"

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
