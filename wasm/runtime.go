package wasm

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// ABIVersion is the reactor ABI this host speaks.
const ABIVersion = 1

// maxResponse bounds what the host copies out of the module: a backup is the
// largest response, and the validator bounds backups at 16 MiB.
const maxResponse = 32 << 20

// compiler is the one wazero runtime of the process and the modules compiled
// in it, by SHA-256: compiling the reactor takes seconds, so every
// [Validator] of a process shares the result.
var compiler struct {
	mu       sync.Mutex
	rt       wazero.Runtime
	compiled map[[32]byte]wazero.CompiledModule
}

// CacheDir is where compiled modules are kept between runs, under the user
// cache directory; "" when there is none (the cache is then off and each
// process compiles the module again).
func CacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "tenure", "wazero")
}

// compile returns the compiled module for b, compiling it once per process.
func compile(b []byte) (wazero.Runtime, wazero.CompiledModule, error) {
	compiler.mu.Lock()
	defer compiler.mu.Unlock()
	// The runtime outlives every call, so it is made with a background
	// context, never a caller's.
	ctx := context.Background()
	if compiler.rt == nil {
		// Not WithCloseOnContextDone: its checks at every function entry and
		// loop made a feature check four times slower. A call therefore
		// runs to its end whatever its context says; only backup and
		// restore take long (seconds, for scrypt).
		cfg := wazero.NewRuntimeConfig()
		if dir := CacheDir(); dir != "" {
			// A cache that cannot be made (a read-only home) is not an
			// error: the module is compiled in memory instead.
			if err := os.MkdirAll(dir, 0o700); err == nil {
				if cache, err := wazero.NewCompilationCacheWithDir(dir); err == nil {
					cfg = cfg.WithCompilationCache(cache)
				}
			}
		}
		rt := wazero.NewRuntimeWithConfig(ctx, cfg)
		if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
			rt.Close(ctx)
			return nil, nil, fmt.Errorf("failed to start the WASI runtime: %w", err)
		}
		compiler.rt = rt
		compiler.compiled = map[[32]byte]wazero.CompiledModule{}
	}
	sum := sha256.Sum256(b)
	if m, ok := compiler.compiled[sum]; ok {
		return compiler.rt, m, nil
	}
	m, err := compiler.rt.CompileModule(ctx, b)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to compile the validator module: %w; is it validator-reactor.wasm?", err)
	}
	exports := m.ExportedFunctions()
	if _, ok := exports["_initialize"]; !ok {
		if _, ok := exports["_start"]; ok {
			return nil, nil, errors.New("the module is a WASI command (validator.wasm), not the reactor; use validator-reactor.wasm")
		}
		return nil, nil, errors.New("the module exports no _initialize; use validator-reactor.wasm")
	}
	for _, name := range []string{"tenure_abi_version", "tenure_alloc", "tenure_free", "tenure_call"} {
		if _, ok := exports[name]; !ok {
			return nil, nil, fmt.Errorf("the module does not export %s; it is not a Tenure validator reactor", name)
		}
	}
	compiler.compiled[sum] = m
	return compiler.rt, m, nil
}

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
		WithStartFunctions("_initialize")
	mod, err := rt.InstantiateModule(ctx, m, cfg)
	if err != nil {
		return nil, fmt.Errorf("failed to start the validator module: %w%s", err, console.suffix())
	}
	in := &instance{
		mod:     mod,
		alloc:   mod.ExportedFunction("tenure_alloc"),
		free:    mod.ExportedFunction("tenure_free"),
		callFn:  mod.ExportedFunction("tenure_call"),
		console: console,
	}
	res, err := mod.ExportedFunction("tenure_abi_version").Call(ctx)
	if err != nil {
		mod.Close(ctx)
		return nil, fmt.Errorf("failed to read the module's ABI version: %w", err)
	}
	if v := int32(res[0]); v != ABIVersion {
		mod.Close(ctx)
		return nil, fmt.Errorf("the validator module speaks ABI %d, this host ABI %d; use the validator-reactor.wasm built with this tenure", v, ABIVersion)
	}
	return in, nil
}

// invoke writes a request into the module, runs it and copies the response
// out (the module's buffer is only valid until the next call).
func (in *instance) invoke(ctx context.Context, req []byte) ([]byte, error) {
	res, err := in.alloc.Call(ctx, uint64(len(req)))
	if err != nil {
		return nil, in.trapped("tenure_alloc", err)
	}
	ptr := uint32(res[0])
	if ptr == 0 {
		return nil, fmt.Errorf("the validator module could not allocate %d bytes", len(req))
	}
	if !in.mod.Memory().Write(ptr, req) {
		return nil, fmt.Errorf("the validator module gave a buffer outside its memory (%#x)", ptr)
	}
	res, err = in.callFn.Call(ctx, uint64(ptr), uint64(len(req)))
	if err != nil {
		return nil, in.trapped("tenure_call", err)
	}
	if _, err := in.free.Call(ctx, uint64(ptr)); err != nil {
		return nil, in.trapped("tenure_free", err)
	}
	p, n := uint32(res[0]>>32), uint32(res[0])
	if n > maxResponse {
		return nil, fmt.Errorf("the validator module answered %d bytes; the limit is %d", n, maxResponse)
	}
	out, ok := in.mod.Memory().Read(p, n)
	if !ok {
		return nil, fmt.Errorf("the validator module answered outside its memory (%#x+%d)", p, n)
	}
	return append([]byte(nil), out...), nil
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

// wazeroModule is a compiled reactor and the runtime it was compiled in.
type wazeroModule struct {
	rt       wazero.Runtime
	compiled wazero.CompiledModule
}

func (m wazeroModule) start(ctx context.Context, state string) (*instance, error) {
	return instantiate(ctx, m.rt, m.compiled, state)
}
