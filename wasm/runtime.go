package wasm

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/tenurehq/tenure/shared/abi"
)

// The process's one wazero runtime, the modules compiled in it, and their
// cache on disk.

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
	if _, ok := exports[abi.FuncInitialize]; !ok {
		if _, ok := exports["_start"]; ok {
			return nil, nil, errors.New("the module is a WASI command (validator.wasm), not the reactor; use validator-reactor.wasm")
		}
		return nil, nil, errors.New("the module exports no _initialize; use validator-reactor.wasm")
	}
	for _, name := range []string{abi.FuncVersion, abi.FuncAlloc, abi.FuncFree, abi.FuncCall} {
		if _, ok := exports[name]; !ok {
			return nil, nil, fmt.Errorf("the module does not export %s; it is not a Tenure validator reactor", name)
		}
	}
	compiler.compiled[sum] = m
	return compiler.rt, m, nil
}

// wazeroModule is a compiled reactor and the runtime it was compiled in.
type wazeroModule struct {
	rt       wazero.Runtime
	compiled wazero.CompiledModule
}

func (m wazeroModule) start(ctx context.Context, state string) (*instance, error) {
	return instantiate(ctx, m.rt, m.compiled, state)
}
