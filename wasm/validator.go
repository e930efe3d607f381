package wasm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tenurehq/tenure/shared/engine"
	"github.com/tenurehq/tenure/shared/wire"
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

	env   []envVar  // the environment every request carries, by name
	envJS []byte    // env as the request's JSON object, without its closing brace
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
	v.env = append(v.env, envVar{EnvPlatform, v.platform})
	if v.now != "" {
		v.env = append(v.env, envVar{EnvNow, v.now})
	}
	if v.version != "" {
		v.env = append(v.env, envVar{EnvVersion, v.version})
	}
	slices.SortFunc(v.env, func(a, b envVar) int { return strings.Compare(a.name, b.name) })
	v.envJS = appendEnv(nil, v.env)
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
		v.live, v.buf = nil, reqBuffer{}
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
	v.mu.Lock()
	defer v.mu.Unlock()
	out, err := v.exchange(ctx, args, stdin, extra)
	if err != nil {
		return Response{}, err
	}
	return decodeResponse(out)
}

// exchange sends one request and returns the module's answer, which is only
// valid until the next exchange. The caller holds v.mu.
func (v *Validator) exchange(ctx context.Context, args []string, stdin string, extra map[string]string) ([]byte, error) {
	v.req = v.appendRequest(v.req[:0], args, stdin, extra)
	if cap(v.req) > 64<<10 {
		defer func() { v.req = nil }() // a license or a backup is not kept
	}
	// Every call takes the lock, not only the obvious writers: status and
	// check also move the high-water mark and start a new platform's trial.
	if err := v.lock.lock(); err != nil {
		return nil, err
	}
	defer v.lock.unlock()

	if len(args) > 0 && (args[0] == "backup" || args[0] == "restore") {
		in, err := v.module.start(ctx, v.state)
		if err != nil {
			return nil, err
		}
		defer in.close(ctx)
		return in.invoke(ctx, v.req)
	}
	if v.live == nil {
		in, err := v.module.start(ctx, v.state)
		if err != nil {
			return nil, err
		}
		v.live, v.buf = in, reqBuffer{}
	}
	out, err := v.invokeLive(ctx, v.req)
	if err != nil {
		// A trapped Go runtime cannot be resumed: start afresh next time.
		v.live.close(ctx)
		v.live, v.buf = nil, reqBuffer{}
		return nil, err
	}
	return out, nil
}

// A reqBuffer is a request buffer the live instance gave, kept from call to
// call: a buffer stays the host's until tenure_free, so a warm call needs no
// tenure_alloc and no tenure_free.
type reqBuffer struct {
	ptr, size uint32
}

// invokeLive is [instance.invoke] on the live instance, through the kept
// buffer and without copying the response out: it is read in place, before
// the next call.
func (v *Validator) invokeLive(ctx context.Context, req []byte) (_ []byte, err error) {
	in := v.live
	stack := v.stack[:]
	if v.buf.ptr == 0 || int(v.buf.size) < len(req) {
		if v.buf.ptr != 0 {
			stack[0] = uint64(v.buf.ptr)
			v.buf = reqBuffer{}
			if err := in.free.CallWithStack(ctx, stack); err != nil {
				return nil, in.trapped("tenure_free", err)
			}
		}
		size := max(uint32(len(req)), 1024)
		stack[0] = uint64(size)
		if err := in.alloc.CallWithStack(ctx, stack); err != nil {
			return nil, in.trapped("tenure_alloc", err)
		}
		ptr := uint32(stack[0])
		if ptr == 0 {
			return nil, fmt.Errorf("the validator module could not allocate %d bytes", size)
		}
		if size > 64<<10 {
			// A large buffer is not kept: it is given back after the
			// call.
			defer func() {
				if err == nil && v.buf.ptr == ptr {
					stack[0] = uint64(ptr)
					v.buf = reqBuffer{}
					in.free.CallWithStack(ctx, stack)
				}
			}()
		}
		v.buf = reqBuffer{ptr: ptr, size: size}
	}
	if !in.mod.Memory().Write(v.buf.ptr, req) {
		return nil, fmt.Errorf("the validator module gave a buffer outside its memory (%#x)", v.buf.ptr)
	}
	stack[0], stack[1] = uint64(v.buf.ptr), uint64(len(req))
	if err := in.callFn.CallWithStack(ctx, stack); err != nil {
		return nil, in.trapped("tenure_call", err)
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
	v.mu.Lock()
	defer v.mu.Unlock()
	out, err := v.exchange(ctx, args, "", nil)
	if err != nil {
		return false, err
	}
	switch responseExit(out) {
	case 0:
		return true, nil
	case 1:
		return false, nil
	}
	r, err := decodeResponse(out)
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

// The request and the response JSON are written and read by hand: a warm
// check is a few microseconds of work, and a map, reflection and
// encoding/json's scanner cost more than that. Anything the reader does not
// recognise goes to encoding/json.

// An envVar is one variable of a request's environment.
type envVar struct{ name, value string }

// appendEnv appends the JSON object of env, sorted by name, without its
// closing brace.
func appendEnv(b []byte, env []envVar) []byte {
	b = append(b, '{')
	for i, e := range env {
		if i > 0 {
			b = append(b, ',')
		}
		b = wire.AppendString(b, e.name, false)
		b = append(b, ':')
		b = wire.AppendString(b, e.value, false)
	}
	return b
}

// appendRequest appends the request JSON: what json.Marshal writes for
// {"args", "env", "stdin"} with the env as a map, without its HTML escapes.
func (v *Validator) appendRequest(b []byte, args []string, stdin string, extra map[string]string) []byte {
	b = append(b, `{"args":[`...)
	for i, a := range args {
		if i > 0 {
			b = append(b, ',')
		}
		b = wire.AppendString(b, a, false)
	}
	b = append(b, `],"env":`...)
	if len(extra) == 0 {
		b = append(b, v.envJS...)
	} else {
		env := slices.Clone(v.env)
		for k, val := range extra {
			i := slices.IndexFunc(env, func(e envVar) bool { return e.name == k })
			if i >= 0 {
				env[i].value = val
			} else {
				env = append(env, envVar{k, val})
			}
		}
		slices.SortFunc(env, func(a, b envVar) int { return strings.Compare(a.name, b.name) })
		b = appendEnv(b, env)
	}
	b = append(b, `},"stdin":`...)
	b = wire.AppendString(b, stdin, false)
	return append(b, '}')
}

// responsePrefix is how every response of the reactor starts.
const responsePrefix = `{"exit":`

// responseExit returns the exit code of a response the reactor wrote, or -1
// when it does not start as one.
func responseExit(b []byte) int {
	if len(b) < len(responsePrefix)+2 || string(b[:len(responsePrefix)]) != responsePrefix {
		return -1
	}
	if c, next := b[len(responsePrefix)], b[len(responsePrefix)+1]; c >= '0' && c <= '9' && next == ',' {
		return int(c - '0')
	}
	return -1
}

// decodeResponse reads a response as json.Unmarshal does.
func decodeResponse(b []byte) (Response, error) {
	if r, ok := fastResponse(b); ok {
		return r, nil
	}
	var r Response
	if err := json.Unmarshal(b, &r); err != nil {
		return Response{}, fmt.Errorf("the validator module answered something other than a response: %w", err)
	}
	return r, nil
}

// fastResponse reads {"exit":N,"stdout":"...","stderr":"..."} with no white
// space, N a small number, and strings of valid UTF-8 with escapes other
// than surrogates; ok is false for anything else.
func fastResponse(b []byte) (r Response, ok bool) {
	const stdout, stderr = `,"stdout":`, `,"stderr":`
	if !bytes.HasPrefix(b, []byte(responsePrefix)) {
		return r, false
	}
	i := len(responsePrefix)
	digits := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		r.Exit = r.Exit*10 + int(b[i]-'0')
		digits++
	}
	if digits == 0 || digits > 6 || (digits > 1 && b[len(responsePrefix)] == '0') || !bytes.HasPrefix(b[i:], []byte(stdout)) {
		return r, false
	}
	if r.Stdout, i, ok = wire.ReadString(b, i+len(stdout)); !ok || !bytes.HasPrefix(b[i:], []byte(stderr)) {
		return r, false
	}
	if r.Stderr, i, ok = wire.ReadString(b, i+len(stderr)); !ok || i != len(b)-1 || b[i] != '}' {
		return r, false
	}
	return r, true
}
