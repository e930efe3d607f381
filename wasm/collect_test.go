package wasm

import (
	"bytes"
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/tenurehq/tenure/shared/abi"
	"github.com/tenurehq/tenure/wasm/internal/guest"
)

// TestNoCollectionLeftMarking: a request that allocates much (the largest
// the reactor takes) often starts a collection in the module, and in a
// reactor nothing runs between calls to finish it; the warm checks after it
// must not run with the write barriers of a collection still marking (they
// made every check about a third slower). The module is compiled once more
// here with a listener that counts the calls of the runtime's write
// barriers.
func TestNoCollectionLeftMarking(t *testing.T) {
	state := t.TempDir()
	v, _ := installed(t, state, "", grant(0))
	platform := v.platform
	v.Close()

	var counting atomic.Bool
	var barriers atomic.Int64
	in := listened(t, state, barrierCounter{&counting, &barriers})
	ctx := context.Background()

	env := `"env":{"TENURE_PLATFORM":` + quote(platform) + `}`
	check := []byte(`{"args":["check","vpn"],` + env + `}`)
	large := []byte(`{"args":["install","-"],` + env + `,"stdin":"` + strings.Repeat("x", abi.MaxRequest-4096) + `"}`)
	for round := range 12 {
		out, err := in.invoke(ctx, large)
		if err != nil || !bytes.HasPrefix(out, []byte(`{"exit":1,`)) {
			t.Fatalf("round %d: install of the largest request: %.200s, %v", round, out, err)
		}
		counting.Store(true)
		for range 20 {
			if out, err := in.invoke(ctx, check); err != nil || !bytes.HasPrefix(out, []byte(`{"exit":0,`)) {
				t.Fatalf("round %d: check vpn: %s, %v", round, out, err)
			}
		}
		counting.Store(false)
		if n := barriers.Swap(0); n > 0 {
			t.Fatalf("round %d: 20 warm checks after the largest request ran %d write barriers: a collection was left marking", round, n)
		}
	}
}

// listened starts the reactor over state, compiled in a runtime of its own
// with the listeners f makes, and closes it when t ends.
func listened(t *testing.T, state string, f experimental.FunctionListenerFactory) *instance {
	t.Helper()
	ctx := experimental.WithFunctionListenerFactory(context.Background(), f)
	rt := wazero.NewRuntime(ctx)
	t.Cleanup(func() { rt.Close(context.Background()) })
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	m, err := rt.CompileModule(ctx, module(t, guest.Reactor))
	if err != nil {
		t.Fatal(err)
	}
	in, err := instantiate(ctx, rt, m, state)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.close(context.Background()) })
	return in
}

// barrierCounter counts the calls of the runtime's write barriers while
// counting is set.
type barrierCounter struct {
	counting *atomic.Bool
	n        *atomic.Int64
}

func (b barrierCounter) NewFunctionListener(def api.FunctionDefinition) experimental.FunctionListener {
	if !strings.Contains(def.DebugName(), "gcWriteBarrier") {
		return nil
	}
	return b
}

func (b barrierCounter) Before(context.Context, api.Module, api.FunctionDefinition, []uint64, experimental.StackIterator) {
	if b.counting.Load() {
		b.n.Add(1)
	}
}

func (barrierCounter) After(context.Context, api.Module, api.FunctionDefinition, []uint64) {}

func (barrierCounter) Abort(context.Context, api.Module, api.FunctionDefinition, error) {}
