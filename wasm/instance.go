package wasm

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/tenurehq/tenure/shared/abi"
)

// One instance of the reactor, and a request in and its response out through
// the ABI's functions.

// maxResponse bounds what the host copies out of the module: a backup is the
// largest response, and the validator bounds backups at 16 MiB.
const maxResponse = 32 << 20

// An instance is one instantiated reactor over one state directory. It is
// never called concurrently: the Go runtime inside is single-threaded.
type instance struct {
	mod                 api.Module
	alloc, free, callFn api.Function
	console             *tail
}

// instantiate starts a reactor with the state directory mounted as /state,
// the real clock and real randomness (wazero's defaults are a fixed clock
// and a fixed random source, which would make every device key the same).
func instantiate(ctx context.Context, rt wazero.Runtime, m wazero.CompiledModule, state string) (*instance, error) {
	console := &tail{}
	cfg := wazero.NewModuleConfig().
		WithName(""). // several instances of one module may live at once
		WithSysWalltime().
		WithSysNanotime().
		WithRandSource(rand.Reader).
		WithFSConfig(wazero.NewFSConfig().WithDirMount(state, "/state")).
		WithStdout(console).
		WithStderr(console).
		WithStartFunctions(abi.FuncInitialize)
	mod, err := rt.InstantiateModule(ctx, m, cfg)
	if err != nil {
		return nil, fmt.Errorf("failed to start the validator module: %w%s", err, console.suffix())
	}
	in := &instance{
		mod:     mod,
		alloc:   mod.ExportedFunction(abi.FuncAlloc),
		free:    mod.ExportedFunction(abi.FuncFree),
		callFn:  mod.ExportedFunction(abi.FuncCall),
		console: console,
	}
	res, err := mod.ExportedFunction(abi.FuncVersion).Call(ctx)
	if err != nil {
		mod.Close(ctx)
		return nil, fmt.Errorf("failed to read the module's ABI version: %w", err)
	}
	if v := int32(res[0]); v != abi.Version {
		mod.Close(ctx)
		return nil, fmt.Errorf("the validator module speaks ABI %d, this host ABI %d; use the validator-reactor.wasm built with this tenure", v, abi.Version)
	}
	return in, nil
}

// invoke writes a request into a buffer of its own, runs it and copies the
// response out (the module's is only valid until the next call).
func (in *instance) invoke(ctx context.Context, req []byte) ([]byte, error) {
	var stack [2]uint64
	ptr, err := in.allocate(ctx, stack[:], uint32(len(req)))
	if err != nil {
		return nil, err
	}
	out, err := in.send(ctx, stack[:], ptr, req)
	if err != nil {
		return nil, err
	}
	out = append([]byte(nil), out...)
	if err := in.release(ctx, stack[:], ptr); err != nil {
		return nil, err
	}
	return out, nil
}

// allocate is tenure_alloc: a buffer of size bytes, the host's until
// [instance.release]. stack holds the call's parameters and results.
func (in *instance) allocate(ctx context.Context, stack []uint64, size uint32) (uint32, error) {
	stack[0] = uint64(size)
	if err := in.alloc.CallWithStack(ctx, stack); err != nil {
		return 0, in.trapped(abi.FuncAlloc, err)
	}
	ptr := uint32(stack[0])
	if ptr == 0 {
		return 0, fmt.Errorf("the validator module could not allocate %d bytes", size)
	}
	return ptr, nil
}

// release is tenure_free: the buffer at ptr goes back to the module.
func (in *instance) release(ctx context.Context, stack []uint64, ptr uint32) error {
	stack[0] = uint64(ptr)
	if err := in.free.CallWithStack(ctx, stack); err != nil {
		return in.trapped(abi.FuncFree, err)
	}
	return nil
}

// send is tenure_call: it writes req into the buffer at ptr, runs it and
// returns the response in the module's memory, valid until the next call.
func (in *instance) send(ctx context.Context, stack []uint64, ptr uint32, req []byte) ([]byte, error) {
	if !in.mod.Memory().Write(ptr, req) {
		return nil, fmt.Errorf("the validator module gave a buffer outside its memory (%#x)", ptr)
	}
	stack[0], stack[1] = uint64(ptr), uint64(len(req))
	if err := in.callFn.CallWithStack(ctx, stack); err != nil {
		return nil, in.trapped(abi.FuncCall, err)
	}
	p, n := uint32(stack[0]>>32), uint32(stack[0])
	if n > maxResponse {
		return nil, fmt.Errorf("the validator module answered %d bytes; the limit is %d", n, maxResponse)
	}
	out, ok := in.mod.Memory().Read(p, n)
	if !ok {
		return nil, fmt.Errorf("the validator module answered outside its memory (%#x+%d)", p, n)
	}
	return out, nil
}

func (in *instance) trapped(fn string, err error) error {
	return fmt.Errorf("the validator module failed in %s: %w%s", fn, err, in.console.suffix())
}

// memory is the size of the instance's linear memory in bytes.
func (in *instance) memory() uint32 { return in.mod.Memory().Size() }

func (in *instance) close(ctx context.Context) { in.mod.Close(ctx) }

// tail keeps the last few KiB the module printed on its own stdout and stderr:
// normally nothing, but a Go panic inside the module lands there, and it is
// what explains a trap.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailSize = 4 << 10

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailSize {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-tailSize:]...)
	}
	return len(p), nil
}

func (t *tail) suffix() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.buf) == 0 {
		return ""
	}
	return "; the module printed:\n" + string(t.buf)
}
