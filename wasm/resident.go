package wasm

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/tenurehq/tenure/shared/abi"
)

// The resident host: one process per user that keeps the reactor compiled
// and an instance warm for each state directory, so that a `tenure` command
// costs a connection to it rather than loading the module (DESIGN.md,
// "Budgets"). The first `tenure` call starts it; it serves every state
// directory of its user (one instance each, keyed by device and inode, the
// least recently used closed beyond [MaxResidentStates]), exits after
// [ResidentIdle] without a request, and listens on a socket outside every
// state: $XDG_RUNTIME_DIR/tenure.sock, else /run/tenure.sock, mode 0600.
// Whatever it answers is the module's; a `tenure` that cannot reach it runs
// the module in its own process.

// Environment variables of the resident host.
const (
	// EnvResident is "off" to never use the resident host, "require" to
	// fail rather than run in-process (to see that it works), and "serve"
	// in the resident host's own environment.
	EnvResident = "TENURE_RESIDENT"
	// EnvResidentIdle is how long the resident host waits for a request
	// before it exits, as a Go duration; default [ResidentIdle].
	EnvResidentIdle = "TENURE_RESIDENT_IDLE"
)

// ResidentIdle is how long the resident host lives without a request.
const ResidentIdle = 10 * time.Minute

// MaxResidentStates is how many state directories the resident host keeps
// an instance for.
const MaxResidentStates = 8

// residentProtocol is the version of the frames below; a host that speaks
// another answers a refusal, and the client runs in-process.
const residentProtocol = 1

// maxFrame bounds a frame: a restore is the largest request, and it runs
// in-process; the rest are far smaller.
const maxFrame = 2 << 20

// A residentRequest is one command sent to the resident host.
type residentRequest struct {
	Protocol int    `json:"protocol"`
	Module   string `json:"module"` // the SHA-256 of the reactor the client would run
	State    string `json:"state"`  // absolute
	Dev      uint64 `json:"dev"`
	Ino      uint64 `json:"ino"`
	// Namespace names the client's mount namespace: a host started in
	// another (a service's, with the state read-only) sees other files.
	Namespace string `json:"namespace"`
	// Env is the request's environment: the platform, and the time and
	// version when the client's environment sets them.
	Env   map[string]string `json:"env"`
	Args  []string          `json:"args"`
	Stdin string            `json:"stdin,omitempty"`
}

// A residentResponse is the module's response, or why the resident host
// did not run the command (Refused), in which case the client runs it.
type residentResponse struct {
	abi.Response
	Refused string `json:"refused,omitempty"`
}

// ResidentSocket returns the path of the resident host's socket.
func ResidentSocket() string {
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" && filepath.IsAbs(dir) {
		return filepath.Join(dir, "tenure.sock")
	}
	return "/run/tenure.sock"
}

// residentSocket is [ResidentSocket] when its folder is this user's own and
// private (an XDG_RUNTIME_DIR kept across su names another user's), or /run
// for root: anything else runs in-process.
func residentSocket() (string, error) {
	socket := ResidentSocket()
	if err := privateDir(filepath.Dir(socket)); err != nil {
		return "", err
	}
	return socket, nil
}

// InResident reports whether the words run in the resident host: every
// command but backup and restore, which need hundreds of MiB for scrypt
// and run in a process of their own.
func InResident(words []string) bool {
	return len(words) > 0 && words[0] != "backup" && words[0] != "restore"
}

// errNoResident says the resident host could not be reached, or refused
// the command before running it: running it in-process is safe.
var errNoResident = errors.New("no resident host")

// CallResident runs words on the state through the resident host. An
// error wrapping [ErrNoResident] means nothing ran and the caller may run
// the command itself; any other error means the command may have run.
func CallResident(state string, env map[string]string, words []string, stdin string) (abi.Response, error) {
	abs, err := filepath.Abs(state)
	if err == nil {
		// The state as the module would mount it: the host resolves the
		// path, so a symlink moved later names nothing else.
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return abi.Response{}, fmt.Errorf("%w: %v", errNoResident, err)
	}
	dev, ino, err := dirKey(abs)
	if err != nil {
		return abi.Response{}, fmt.Errorf("%w: %v", errNoResident, err)
	}
	sum, err := moduleID()
	if err != nil {
		return abi.Response{}, fmt.Errorf("%w: %v", errNoResident, err)
	}
	socket, err := residentSocket()
	if err != nil {
		return abi.Response{}, fmt.Errorf("%w: %v", errNoResident, err)
	}
	c, err := net.DialTimeout("unix", socket, time.Second)
	if err != nil {
		return abi.Response{}, fmt.Errorf("%w: %w: %v", errNoResident, ErrResidentDown, err)
	}
	conn := c.(*net.UnixConn)
	defer conn.Close()
	// Only a host of this user's is told anything.
	if err := samePeer(conn); err != nil {
		return abi.Response{}, fmt.Errorf("%w: %v", errNoResident, err)
	}
	req := residentRequest{Protocol: residentProtocol, Module: sum, State: abs, Dev: dev, Ino: ino, Namespace: namespace(),
		Env: env, Args: words, Stdin: stdin}
	// Sending has a deadline; the answer has none, as a command run here
	// waits for the state's lock as long as it takes.
	conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := writeFrame(conn, &req); err != nil {
		return abi.Response{}, fmt.Errorf("%w: %v", errNoResident, err)
	}
	var resp residentResponse
	if err := readFrame(conn, &resp); err != nil {
		return abi.Response{}, fmt.Errorf("the resident host failed during the command: %w", err)
	}
	if resp.Refused != "" {
		return abi.Response{}, fmt.Errorf("%w: %s", errNoResident, resp.Refused)
	}
	return resp.Response, nil
}

// ErrNoResident is what [CallResident] wraps when nothing ran, and
// ErrResidentDown, with it, when no resident host listens: the caller may
// start one.
var (
	ErrNoResident   = errNoResident
	ErrResidentDown = errors.New("not running")
)

// moduleID is the SHA-256 of the reactor this process would run: the one
// the build pinned, else the hash of the module it finds.
func moduleID() (string, error) {
	if moduleSHA256 != "" {
		return moduleSHA256, nil
	}
	b, _, err := LoadModule()
	if err != nil {
		return "", err
	}
	return sha256Hex(b), nil
}

func writeFrame(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(b) > maxFrame {
		return fmt.Errorf("a frame of %d bytes is over %d", len(b), maxFrame)
	}
	frame := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(b)), uint32(len(b)))
	_, err = w.Write(append(frame, b...))
	return err
}

func readFrame(r io.Reader, v any) error {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > maxFrame {
		return fmt.Errorf("a frame of %d bytes is over %d", size, maxFrame)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// A Resident is the resident host's state: the module, and one Validator
// per state directory, the least recently used first.
type Resident struct {
	module wazeroModule // compiled once; the module's bytes are not kept
	sum    string
	idle   time.Duration

	mu     sync.Mutex
	states []*residentState
	last   time.Time // the last request
	busy   int       // requests in progress
	// retired: a client runs another module; the host exits once idle.
	retired bool
}

type residentState struct {
	dev, ino uint64
	v        *Validator
	users    int  // requests using it now; only an unused one is closed
	gone     bool // taken off the list: closed when its last user is done
}

// NewResident prepares a resident host for module (nil: [LoadModule]): it
// compiles the module once, for every state it will serve.
func NewResident(module []byte, idle time.Duration) (*Resident, error) {
	if module == nil {
		var err error
		if module, _, err = LoadModule(); err != nil {
			return nil, err
		}
	}
	rt, compiled, err := compile(module)
	if err != nil {
		return nil, err
	}
	if idle <= 0 {
		idle = ResidentIdle
	}
	r := &Resident{module: wazeroModule{rt, compiled}, sum: sha256Hex(module), idle: idle, last: time.Now()}
	// What compiling left behind (the module's bytes, the decoder's
	// garbage) goes back to the system: the host lives long and small.
	module = nil
	debug.FreeOSMemory()
	return r, nil
}

// Serve answers connections on ln until the host has been idle for its idle
// time or ctx is done; it then closes ln and every instance.
func (r *Resident) Serve(ctx context.Context, ln *net.UnixListener) error {
	defer r.closeAll()
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(min(r.idle/4, 200*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				ln.Close()
				return
			case <-done:
				return
			case <-t.C:
				if r.idleFor() >= r.idle {
					ln.Close()
					return
				}
			}
		}
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		r.begin()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.end()
			r.serveConn(ctx, conn)
		}()
	}
}

func (r *Resident) begin() {
	r.mu.Lock()
	r.busy++
	r.mu.Unlock()
}

func (r *Resident) end() {
	r.mu.Lock()
	r.busy--
	r.mu.Unlock()
}

// used notes a request answered: the idle time starts again. A refused one
// (another module, another protocol) does not keep the host alive.
func (r *Resident) used() {
	r.mu.Lock()
	r.last = time.Now()
	r.mu.Unlock()
}

// retire makes the host exit as soon as no request is in progress.
func (r *Resident) retire() {
	r.mu.Lock()
	r.retired = true
	r.mu.Unlock()
}

// idleFor is how long no request has been in progress.
func (r *Resident) idleFor() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.busy > 0:
		return 0
	case r.retired:
		return r.idle
	}
	return time.Since(r.last)
}

func (r *Resident) serveConn(ctx context.Context, conn *net.UnixConn) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute))
	if err := samePeer(conn); err != nil {
		writeFrame(conn, &residentResponse{Refused: err.Error()})
		return
	}
	var req residentRequest
	if err := readFrame(conn, &req); err != nil {
		writeFrame(conn, &residentResponse{Refused: "malformed request: " + err.Error()})
		return
	}
	// The command may wait for the state's lock: no deadline while it runs.
	conn.SetDeadline(time.Time{})
	resp := r.answer(ctx, &req)
	if resp.Refused == "" {
		r.used()
	}
	writeFrame(conn, resp)
}

// answer runs one request, or says why it did not.
func (r *Resident) answer(ctx context.Context, req *residentRequest) *residentResponse {
	switch {
	case req.Protocol != residentProtocol:
		r.retire()
		return &residentResponse{Refused: fmt.Sprintf("the resident host speaks protocol %d, the client %d", residentProtocol, req.Protocol)}
	case req.Module != r.sum:
		// A client with another module is a tenure upgraded since this host
		// started: it exits once idle, and the next call starts the new one.
		r.retire()
		return &residentResponse{Refused: "the resident host runs another validator module (" + r.sum + ")"}
	case !filepath.IsAbs(req.State) || !InResident(req.Args):
		return &residentResponse{Refused: "not a command for the resident host"}
	case req.Namespace != namespace():
		return &residentResponse{Refused: "the resident host runs in another mount namespace"}
	}
	dev, ino, err := dirKey(req.State)
	if err != nil || dev != req.Dev || ino != req.Ino {
		return &residentResponse{Refused: "the state directory is not the one the client named"}
	}
	v, done, fresh, err := r.validator(ctx, req)
	if err != nil {
		return &residentResponse{Refused: err.Error()}
	}
	resp, err := v.callEnv(ctx, req.Args, req.Stdin, req.Env)
	done()
	if fresh {
		// A new instance's start and first reading of its state leave
		// garbage the size of its memory: give it back at once.
		debug.FreeOSMemory()
	}
	if err != nil {
		return &residentResponse{Response: abi.Response{Exit: 2, Stderr: "tenure: " + err.Error() + "\n"}}
	}
	return &residentResponse{Response: resp}
}

// validator returns the Validator of the request's state, opening it (and
// closing the least recently used one no request is using, beyond the
// bound) when there is none, or when the path it was opened with no longer
// names the directory. The caller gives it back with done.
func (r *Resident) validator(ctx context.Context, req *residentRequest) (v *Validator, done func(), fresh bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var closing []*Validator
	defer func() {
		// Closed outside the lock: a Close waits for the instance's call.
		for _, v := range closing {
			go v.Close()
		}
	}()
	for i, st := range r.states {
		if st.dev != req.Dev || st.ino != req.Ino {
			continue
		}
		if dev, ino, err := dirKey(st.v.state); err == nil && dev == st.dev && ino == st.ino {
			r.states = append(append(r.states[:i:i], r.states[i+1:]...), st)
			st.users++
			return st.v, r.release(st), false, nil
		}
		// Its path names another directory now (renamed, replaced): a
		// new instance over the path the request names.
		r.states = append(r.states[:i:i], r.states[i+1:]...)
		st.gone = true
		if st.users == 0 {
			closing = append(closing, st.v)
		}
		break
	}
	plat, err := ParsePlatform([]byte(req.Env[abi.EnvPlatform]))
	if err != nil {
		return nil, nil, false, err
	}
	if v, err = Open(ctx, Options{State: req.State, Platform: plat, compiled: &r.module}); err != nil {
		return nil, nil, false, err
	}
	for i := 0; len(r.states) >= MaxResidentStates && i < len(r.states); {
		if st := r.states[i]; st.users == 0 {
			closing = append(closing, st.v)
			r.states = append(r.states[:i:i], r.states[i+1:]...)
			continue
		}
		i++
	}
	st := &residentState{dev: req.Dev, ino: req.Ino, v: v, users: 1}
	r.states = append(r.states, st)
	return v, r.release(st), true, nil
}

// release returns the function that gives st back after a request.
func (r *Resident) release(st *residentState) func() {
	return func() {
		r.mu.Lock()
		st.users--
		closeIt := st.gone && st.users == 0
		r.mu.Unlock()
		if closeIt {
			st.v.Close()
		}
	}
}

// States is how many state directories the host keeps an instance for.
func (r *Resident) States() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.states)
}

func (r *Resident) closeAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.states {
		s.v.Close()
	}
	r.states = nil
}

// callEnv is Call with the request's environment: the platform, time and
// version the client sends replace the ones the Validator was opened with.
func (v *Validator) callEnv(ctx context.Context, args []string, stdin string, env map[string]string) (Response, error) {
	extra := map[string]string{abi.EnvNow: "", abi.EnvVersion: ""}
	for _, name := range []string{abi.EnvPlatform, abi.EnvNow, abi.EnvVersion, abi.EnvPlatformSources} {
		if value, ok := env[name]; ok {
			extra[name] = value
		}
	}
	return v.call(ctx, args, stdin, extra)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
