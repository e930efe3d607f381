package wasm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tenurehq/tenure/shared/engine"
)

// Environment variables the module reads; the host fills them in.
const (
	EnvNow        = "TENURE_NOW"
	EnvPlatform   = "TENURE_PLATFORM"
	EnvVersion    = "TENURE_VERSION"
	EnvPassphrase = "TENURE_PASSPHRASE"
)

// Options say which state a [Validator] works on and what it tells the module.
type Options struct {
	// State is the appliance's state directory, mounted as /state. It is
	// made (0700) if missing.
	State string
	// Platform is the platform as raw component values (name to value, such
	// as "machine_id" or "mac:eth0"). Nil means the machine's own [Facts].
	Platform map[string]string
	// Now is the time the module sees instead of the system clock, as
	// RFC 3339 or a date; "" is the system clock. The module's rollback
	// guard applies either way.
	Now string
	// Version is the software version when it changed since init; "" is the
	// version given at init.
	Version string
	// Module is the validator reactor; nil means [LoadModule].
	Module []byte
}

// A Response is what the module printed and its exit code: 0 done or
// allowed, 1 refused or denied, 2 error.
type Response struct {
	Exit   int    `json:"exit"`
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
}

// An Error is a command the module refused (exit 1) or could not run
// (exit 2); Message is what it said.
type Error struct {
	Command string
	Exit    int
	Message string
}

func (e *Error) Error() string { return e.Message }

// A Validator runs the validator reactor over one state directory. Its
// methods may be called from several goroutines; calls are serialised,
// within the process by a mutex and across processes by a lock on the state
// directory.
type Validator struct {
	mu       sync.Mutex
	state    string
	platform string // the platform as the JSON the module reads
	now      string
	version  string
	module   wazeroModule
	live     *instance
	lock     *dirLock
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
	platform := opts.Platform
	if platform == nil {
		var err error
		if platform, err = Facts(); err != nil {
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
	module := opts.Module
	if module == nil {
		if module, _, err = LoadModule(); err != nil {
			return nil, err
		}
	} else if err := verifyModule(module, "given to wasm.Open"); err != nil {
		return nil, err
	}
	rt, compiled, err := compile(module)
	if err != nil {
		return nil, err
	}
	lock, err := openLock(opts.State)
	if err != nil {
		return nil, err
	}
	v := &Validator{
		state: opts.State, platform: string(pj), now: opts.Now, version: opts.Version,
		module: wazeroModule{rt, compiled}, lock: lock,
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
	if v.live != nil {
		v.live.close(context.Background())
		v.live = nil
	}
	return v.lock.close()
}

// Call runs one command, as the tenure CLI words (without the global
// flags), with stdin as its standard input. A refusal or a denial is a
// Response with exit 1, not an error; the error is for a host failure (a
// module that trapped, a state directory that cannot be locked).
//
// backup and restore run in a throwaway instance, closed afterwards: age's
// scrypt needs 256 MiB at its default work factor, and the live instance
// would keep that memory for good.
func (v *Validator) Call(ctx context.Context, args []string, stdin string) (Response, error) {
	return v.call(ctx, args, stdin, nil)
}

func (v *Validator) call(ctx context.Context, args []string, stdin string, extra map[string]string) (Response, error) {
	env := map[string]string{EnvPlatform: v.platform}
	if v.now != "" {
		env[EnvNow] = v.now
	}
	if v.version != "" {
		env[EnvVersion] = v.version
	}
	for k, val := range extra {
		env[k] = val
	}
	if args == nil {
		args = []string{}
	}
	req, err := json.Marshal(struct {
		Args  []string          `json:"args"`
		Env   map[string]string `json:"env"`
		Stdin string            `json:"stdin"`
	}{args, env, stdin})
	if err != nil {
		return Response{}, fmt.Errorf("failed to encode the request: %w", err)
	}

	v.mu.Lock()
	defer v.mu.Unlock()
	// Every call takes the lock, not only the obvious writers: status and
	// check also move the high-water mark and start a new platform's trial.
	if err := v.lock.lock(); err != nil {
		return Response{}, err
	}
	defer v.lock.unlock()

	in, throwaway := v.live, len(args) > 0 && (args[0] == "backup" || args[0] == "restore")
	if throwaway || in == nil {
		if in, err = v.module.start(ctx, v.state); err != nil {
			return Response{}, err
		}
		if throwaway {
			defer in.close(ctx)
		} else {
			v.live = in
		}
	}
	out, err := in.invoke(ctx, req)
	if err != nil {
		// A trapped Go runtime cannot be resumed: start afresh next time.
		if in == v.live {
			in.close(ctx)
			v.live = nil
		}
		return Response{}, err
	}
	var resp Response
	if err := json.Unmarshal(out, &resp); err != nil {
		return Response{}, fmt.Errorf("the validator module answered something other than a response: %w", err)
	}
	return resp, nil
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

// run calls the module and turns an exit other than 0 into an [*Error].
func (v *Validator) run(ctx context.Context, stdin string, extra map[string]string, args ...string) (string, error) {
	r, err := v.call(ctx, args, stdin, extra)
	if err != nil {
		return "", err
	}
	if r.Exit != 0 {
		return r.Stdout, moduleError(args[0], r)
	}
	return r.Stdout, nil
}

func moduleError(cmd string, r Response) *Error {
	msg := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(r.Stderr), "tenure: "))
	if msg == "" {
		msg = fmt.Sprintf("tenure %s exited %d", cmd, r.Exit)
	}
	return &Error{Command: cmd, Exit: r.Exit, Message: msg}
}

// Init makes the appliance (id, device key, age identity) and starts its
// trial.
func (v *Validator) Init(ctx context.Context, product, version string) error {
	_, err := v.run(ctx, "", nil, "init", "--product", product, "--version", version)
	return err
}

// FirstUse records that the licensed function was first switched on.
func (v *Validator) FirstUse(ctx context.Context) error {
	_, err := v.run(ctx, "", nil, "first-use")
	return err
}

// Request returns a new license request (LRF), armored.
func (v *Validator) Request(ctx context.Context) ([]byte, error) {
	out, err := v.run(ctx, "", nil, "request")
	return []byte(out), err
}

// Install opens, verifies and stores a license; it returns what the module
// said. A refused license is an [*Error] with Exit 1 saying why.
func (v *Validator) Install(ctx context.Context, license []byte) (string, error) {
	return v.run(ctx, string(license), nil, "install", "-")
}

// Status evaluates the appliance now.
func (v *Validator) Status(ctx context.Context) (*engine.Status, error) {
	return v.status(ctx, "status", "--json")
}

// StatusAt evaluates the appliance at exactly t, read-only and with no clock
// floors: a projection ("what happens on 1 February?").
func (v *Validator) StatusAt(ctx context.Context, t time.Time) (*engine.Status, error) {
	return v.status(ctx, "status", "--json", "--at", t.UTC().Format(engine.TimeFormat))
}

func (v *Validator) status(ctx context.Context, args ...string) (*engine.Status, error) {
	out, err := v.run(ctx, "", nil, args...)
	if err != nil {
		return nil, err
	}
	var s engine.Status
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		return nil, fmt.Errorf("the validator module printed a status that does not parse: %w", err)
	}
	return &s, nil
}

// Check reports whether feature may be used now.
func (v *Validator) Check(ctx context.Context, feature string) (bool, error) {
	return v.check(ctx, "check", feature)
}

// CheckLimit reports whether n is within the limit name now.
func (v *Validator) CheckLimit(ctx context.Context, name string, n int64) (bool, error) {
	return v.check(ctx, "check", "--limit", name, strconv.FormatInt(n, 10))
}

// CheckConfigChange reports whether the configuration may change now: not
// in restricted mode.
func (v *Validator) CheckConfigChange(ctx context.Context) (bool, error) {
	return v.check(ctx, "check", "--config-change")
}

func (v *Validator) check(ctx context.Context, args ...string) (bool, error) {
	r, err := v.call(ctx, args, "", nil)
	if err != nil {
		return false, err
	}
	switch r.Exit {
	case 0:
		return true, nil
	case 1:
		return false, nil
	}
	return false, moduleError("check", r)
}

// Release drops the license id and every other license of its contract on
// this appliance and returns the signed release receipt for the vendor.
func (v *Validator) Release(ctx context.Context, id string) ([]byte, error) {
	out, err := v.run(ctx, "", nil, "release", id)
	return []byte(out), err
}

// Backup exports the state, age-encrypted to passphrase, armored.
func (v *Validator) Backup(ctx context.Context, passphrase string) ([]byte, error) {
	out, err := v.run(ctx, "", map[string]string{EnvPassphrase: passphrase}, "backup")
	return []byte(out), err
}

// Restore imports a backup made by [Validator.Backup]. Onto another platform
// it makes a new appliance whose trial starts now; the old licenses stay on
// record as inactive.
func (v *Validator) Restore(ctx context.Context, passphrase string, backup []byte) (string, error) {
	return v.run(ctx, string(backup), map[string]string{EnvPassphrase: passphrase}, "restore")
}
