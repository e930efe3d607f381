package wasm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/tenurehq/tenure/shared/abi"
)

// Options say which state a [Validator] works on and what it tells the module.
type Options struct {
	// State is the appliance's state directory, mounted as /state. It is
	// made (0700) if missing.
	State string
	// Platform is the platform as raw component values (name to value, such
	// as "machine_id" or "mac:eth0"). Nil means the machine's own [Facts].
	Platform map[string]string
	// Sources says where each component of Platform came from (a file, a
	// variable), for `tenure platform`; the module shows a component
	// without one as from $TENURE_PLATFORM. With a nil Platform, the
	// sources are the files [Facts] read.
	Sources map[string]string
	// Now is the time the module sees instead of the system clock, as
	// RFC 3339 or a date; "" is the system clock. The module's rollback
	// guard applies either way.
	Now string
	// Version is the software version when it changed since init; "" is the
	// version given at init.
	Version string
	// Module is the validator reactor; nil means [LoadModule].
	Module []byte

	// compiled, when set, is the reactor already compiled (the resident
	// host's): Module is then not needed.
	compiled *wazeroModule
}

// A Validator runs the validator reactor over one state directory. Its
// methods may be called from several goroutines; calls are serialised,
// within the process by a mutex and across processes by a lock on the state
// directory.
type Validator struct {
	mu       sync.Mutex
	state    string
	platform string // the platform as the JSON the module reads
	module   wazeroModule
	lock     *dirLock
	env      abi.Env           // the environment every request carries
	sources  map[string]string // what `platform` adds to it: where each component came from

	live *instance // kept from call to call; nil after a trap
	// gen is the state's generation file mapped, and answers the checks'
	// answers the module said hold (hold.go).
	gen      *genMap
	answers  [maxHeld]heldAnswer
	nanswers int
	evict    int  // the next held answer to give way when they are maxHeld
	noHold   bool // every check enters the module (tests, benchmarks)
	heldHits int  // checks answered from a hold (tests)

	req   []byte    // the request being sent
	buf   reqBuffer // the live instance's request buffer
	stack [2]uint64 // parameters and results of the reactor's functions
}

// Open prepares a Validator: it loads and compiles the module (once per
// process; the compiled code is also cached on disk under [CacheDir]),
// collects the platform, and starts one instance of the reactor.
func Open(ctx context.Context, opts Options) (*Validator, error) {
	if opts.State == "" {
		return nil, errors.New("no state directory; pass one (the tenure CLI uses --state, $TENURE_STATE or /var/lib/tenure)")
	}
	if err := os.MkdirAll(opts.State, 0o700); err != nil {
		return nil, fmt.Errorf("failed to make the state directory: %w", err)
	}
	// The state may be reached through a symlink: it is resolved once,
	// here, so the directory mounted, the one locked and the one a
	// resident host keys the instance by stay the same one.
	resolved, err := filepath.EvalSymlinks(opts.State)
	if err != nil {
		return nil, fmt.Errorf("failed to resolve the state directory: %w", err)
	}
	opts.State = resolved
	// The state holds the device key: it is the host's to keep private,
	// since WASI passes no file modes (wazero makes the module's files
	// 0600 and its directories 0700).
	if fi, err := os.Stat(opts.State); err == nil && fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(opts.State, fi.Mode().Perm()&0o700); err != nil {
			return nil, fmt.Errorf("the state directory %s is open to other users (%v) and cannot be made private: %w", opts.State, fi.Mode().Perm(), err)
		}
	}
	platform, sources := opts.Platform, opts.Sources
	if platform == nil {
		var err error
		if platform, sources, err = Facts(opts.State); err != nil {
			return nil, err
		}
	}
	if len(platform) == 0 {
		return nil, errors.New("the platform has no component; pass one such as machine_id (tenure --platform FILE)")
	}
	pj, err := json.Marshal(platform)
	if err != nil {
		return nil, fmt.Errorf("failed to encode the platform: %w", err)
	}
	var wm wazeroModule
	if opts.compiled != nil {
		wm = *opts.compiled
	} else {
		module := opts.Module
		if module == nil {
			if module, _, err = LoadModule(); err != nil {
				return nil, err
			}
		} else if err := verifyModule(module, "given to wasm.Open"); err != nil {
			return nil, err
		}
		if wm.rt, wm.compiled, err = compile(module); err != nil {
			return nil, err
		}
	}
	lock, err := openLock(opts.State)
	if err != nil {
		return nil, err
	}
	env := map[string]string{abi.EnvPlatform: string(pj), abi.EnvHold: "1"}
	if opts.Now != "" {
		env[abi.EnvNow] = opts.Now
	}
	if opts.Version != "" {
		env[abi.EnvVersion] = opts.Version
	}
	v := &Validator{
		state: opts.State, platform: string(pj), module: wm,
		lock: lock, env: abi.NewEnv(env),
	}
	if len(sources) > 0 {
		sj, err := json.Marshal(sources)
		if err != nil {
			lock.close()
			return nil, fmt.Errorf("failed to encode the platform's sources: %w", err)
		}
		v.sources = map[string]string{abi.EnvPlatformSources: string(sj)}
	}
	if v.live, err = v.module.start(ctx, v.state); err != nil {
		lock.close()
		return nil, err
	}
	return v, nil
}

// Close stops the instance and lets go of the state directory.
func (v *Validator) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.dropLive(context.Background())
	v.gen.unmap()
	v.gen = nil
	return v.lock.close()
}

// MemorySize is the size in bytes of the live instance's linear memory.
func (v *Validator) MemorySize() uint32 {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.live == nil {
		return 0
	}
	return v.live.memory()
}
