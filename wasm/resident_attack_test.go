//go:build linux

package wasm

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tenurehq/tenure/shared/abi"
	"github.com/tenurehq/tenure/shared/engine"
	"github.com/tenurehq/tenure/wasm/internal/guest"
)

// Attacks on the resident host (resident.go, resident_linux.go).

// TestResidentAttackStalePath: the host keys a Validator by the device
// and inode the client names, but the Validator mounts the path of the
// first request that opened it, and wazero's directory mount resolves that
// path on every file operation. Once that path names another directory (a
// symlink moved, a directory renamed and made again), a request naming the
// original directory is answered, and written, from the other one, while
// the flock is taken on the original.
func TestResidentAttackStalePath(t *testing.T) {
	startResident(t, time.Minute)
	ctx := context.Background()
	t.Run("symlink moved", func(t *testing.T) {
		a, b := t.TempDir(), t.TempDir()
		link := filepath.Join(t.TempDir(), "state")
		if err := os.Symlink(a, link); err != nil {
			t.Fatal(err)
		}
		if got := residentCall(t, link, day1, "init", "--product", "edge", "--version", "0.40.0"); got.Exit != 0 {
			t.Fatalf("init through the link: %+v", got)
		}
		// The link now names another appliance's (empty) state.
		os.Remove(link)
		if err := os.Symlink(b, link); err != nil {
			t.Fatal(err)
		}
		want, err := open(t, a, platformA, day1).Call(ctx, []string{"status", "--json"}, "")
		if err != nil {
			t.Fatal(err)
		}
		got := residentCall(t, a, day1, "status", "--json")
		if got.Exit != want.Exit || got.Stdout != want.Stdout {
			t.Errorf("status of %s: the resident host answered %d %q%q; the module in process %d %q", a, got.Exit, got.Stdout, got.Stderr, want.Exit, want.Stdout)
		}
		// A write naming a lands in b.
		residentCall(t, a, day1, "init", "--product", "edge", "--version", "0.40.0")
		if entries, _ := os.ReadDir(b); len(entries) > 0 {
			t.Errorf("a request naming %s wrote %d entries into %s, another state", a, len(entries), b)
		}
	})
	t.Run("directory renamed", func(t *testing.T) {
		parent := t.TempDir()
		p := filepath.Join(parent, "state")
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if got := residentCall(t, p, day1, "init", "--product", "edge", "--version", "0.40.0"); got.Exit != 0 {
			t.Fatalf("init: %+v", got)
		}
		// The operator moves the state aside and starts a new one.
		old := filepath.Join(parent, "state.old")
		if err := os.Rename(p, old); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		want, err := open(t, old, platformA, day1).Call(ctx, []string{"status", "--json"}, "")
		if err != nil {
			t.Fatal(err)
		}
		got := residentCall(t, old, day1, "status", "--json")
		if got.Exit != want.Exit || got.Stdout != want.Stdout {
			t.Errorf("status of %s: the resident host answered %d %q%q; the module in process %d %q", old, got.Exit, got.Stdout, got.Stderr, want.Exit, want.Stdout)
		}
	})
}

// TestResidentAttackLockSymlink: ListenResident opens $socket.lock with
// O_CREAT and no O_NOFOLLOW, then truncates it and writes its pid. Whoever
// controls the socket's folder chooses which file that is: root's tenure
// under `su` (which keeps the user's XDG_RUNTIME_DIR) starts its resident
// host in /run/user/UID, and a symlink planted there by that user makes
// root truncate any file. The runtime folder is trusted without checking
// that it is the caller's own (owner, mode 0700).
func TestResidentAttackLockSymlink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "shadow")
	const content = "root:$6$precious:19000:0:99999:7:::\n"
	if err := os.WriteFile(victim, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "tenure.sock")
	if err := os.Symlink(victim, sock+".lock"); err != nil {
		t.Fatal(err)
	}
	ln, closeLn, err := ListenResident(sock, func() error { return nil })
	if err == nil {
		defer closeLn()
		_ = ln
	}
	b, _ := os.ReadFile(victim)
	if string(b) != content {
		t.Fatalf("ListenResident followed a symlink at %s.lock: %s now holds %q (was %q); err %v", sock, victim, b, content, err)
	}
}

// TestResidentAttackForeignServer: the client trusts whatever listens on
// the socket. The host checks its peer's uid (samePeer); the client does
// not check the host's. Root's tenure under `su` (XDG_RUNTIME_DIR kept)
// talks to a server another user runs in /run/user/UID: that user dictates
// root's license answers and reads its platform facts and license bytes.
// Run as root only: the fake server listens as uid 65534.
func TestResidentAttackForeignServer(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set and this test needs root to listen as another user")
		}
		t.Skip("needs root to listen as another user")
	}
	module(t, guest.Reactor)
	run := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", run)
	t.Setenv(EnvModule, guests.Paths[guest.Reactor])
	sock := ResidentSocket()
	fd, err := listenAs(sock, 65534)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), sock)
	ln, err := net.FileListener(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan residentRequest, 1)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			var req residentRequest
			if readFrame(conn, &req) == nil {
				got <- req
				writeFrame(conn, &residentResponse{Response: abi.Response{Exit: 0, Stdout: "allowed: feature vpn (licensed)\n"}})
			}
			conn.Close()
		}
	}()
	// What a client can see of the server: it is uid 65534's.
	probe, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := probe.(*net.UnixConn).SyscallConn()
	var cred *syscall.Ucred
	raw.Control(func(fd uintptr) { cred, _ = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED) })
	probe.Close()
	if cred == nil || cred.Uid != 65534 {
		t.Fatalf("the fake server is not uid 65534's: %+v", cred)
	}
	state := t.TempDir() // never initialised: the module would say exit 2
	r, err := CallResident(state, map[string]string{abi.EnvPlatform: platformA}, []string{"check", "vpn"}, "")
	if err == nil {
		req := <-got
		t.Fatalf("the client took %+v from a server run by uid 65534 (and sent it the platform %s)", r, req.Env[abi.EnvPlatform])
	}
}

// listenAs makes a listening unix socket at path whose credentials (what
// SO_PEERCRED tells a client) are uid's: listen(2) runs on one OS thread
// with that effective uid, set by a raw setresuid, which changes that
// thread only.
func listenAs(path string, uid int) (int, error) {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		const keep = ^uintptr(0)
		if _, _, e := syscall.RawSyscall(syscall.SYS_SETRESUID, keep, uintptr(uid), keep); e != 0 {
			runtime.UnlockOSThread()
			errc <- e
			return
		}
		lerr := syscall.Listen(fd, 8)
		if _, _, e := syscall.RawSyscall(syscall.SYS_SETRESUID, keep, 0, keep); e != 0 {
			errc <- e // the thread stays locked and dies with the goroutine
			return
		}
		runtime.UnlockOSThread()
		errc <- lerr
	}()
	if err := <-errc; err != nil {
		syscall.Close(fd)
		return -1, err
	}
	return fd, nil
}

// TestResidentAttackEvictionBlocksAll: the host closes the least recently
// used Validator beyond MaxResidentStates while holding r.mu, and Close
// waits for that Validator's request in progress. A request waiting on its
// state's flock (another tenure running a restore, an operator's flock)
// then stops the whole host: every other state's requests, and even the
// accept loop (begin takes r.mu), wait for that one flock.
func TestResidentAttackEvictionBlocksAll(t *testing.T) {
	startResident(t, time.Minute)
	a, b := t.TempDir(), t.TempDir()
	for _, dir := range []string{a, b} {
		if got := residentCall(t, dir, day1, "init", "--product", "edge", "--version", "0.40.0"); got.Exit != 0 {
			t.Fatalf("init: %+v", got)
		}
	}
	env := map[string]string{abi.EnvPlatform: platformA, abi.EnvNow: day1}
	// Another process holds a's lock for a while.
	lock, err := os.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	const held = 5 * time.Second
	release := time.AfterFunc(held, func() { syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) })
	defer func() {
		release.Stop()
		syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	}()
	go CallResident(a, env, []string{"check", "vpn"}, "") // waits for the lock
	time.Sleep(300 * time.Millisecond)
	residentCall(t, b, day1, "check", "vpn") // b is now more recent than a
	// Fill the host: a is the least recently used, and the next new state
	// closes it.
	for range MaxResidentStates - 2 {
		CallResident(t.TempDir(), env, []string{"status"}, "")
	}
	go CallResident(t.TempDir(), env, []string{"status"}, "")
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	done := make(chan abi.Response, 1)
	go func() {
		r, _ := CallResident(b, env, []string{"check", "vpn"}, "")
		done <- r
	}()
	select {
	case r := <-done:
		if r.Exit != 0 {
			t.Fatalf("check vpn on b: %+v", r)
		}
	case <-time.After(2 * time.Second):
		r := <-done
		t.Fatalf("check vpn on %s, a state nobody locks, waited %v for the lock on another state (answer %d)", b, time.Since(start).Round(100*time.Millisecond), r.Exit)
	}
}

// TestResidentAttackProtocolKeepsHostAlive: a client of another protocol
// (a newer tenure: its module differs too, but the protocol is compared
// first) is refused without retiring the host, and every refusal counts
// as a request for the idle timer. After an upgrade that changes the
// protocol, the old host never exits while tenure is called at least once
// per ResidentIdle, and every call runs in-process for good.
func TestResidentAttackProtocolKeepsHostAlive(t *testing.T) {
	_, done := startResident(t, time.Second)
	state := t.TempDir()
	dev, ino, err := dirKey(state)
	if err != nil {
		t.Fatal(err)
	}
	newer := func() string {
		conn, err := net.DialTimeout("unix", ResidentSocket(), time.Second)
		if err != nil {
			return "down"
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		writeFrame(conn, &residentRequest{Protocol: residentProtocol + 1, Module: strings.Repeat("1", 64), State: state, Dev: dev, Ino: ino,
			Env: map[string]string{abi.EnvPlatform: platformA}, Args: []string{"check", "vpn"}})
		var resp residentResponse
		if err := readFrame(conn, &resp); err != nil {
			return "failed: " + err.Error()
		}
		return resp.Refused
	}
	deadline := time.Now().Add(6 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			done <- err // for the cleanup
			return      // the old host went away: the next call starts the new one
		default:
		}
		last = newer()
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("a host idle for 1s still serves after 6s of clients of protocol %d, every one refused (%q)", residentProtocol+1, last)
}

// TestResidentAttackStaleLockPid: a host that has stopped leaves its pid
// in $socket.lock (closeLn releases the lock but keeps the text). The
// tests' stopResident (wasm/e2e) and the brief's "kill the pid in
// tenure.sock.lock" then signal whatever process has that pid since, here
// the test process itself: wasm/e2e TestResidentHost calls stopResident
// again in its cleanup, after the host it stopped is gone.
func TestResidentAttackStaleLockPid(t *testing.T) {
	sock := filepath.Join(privateTempDir(t), "tenure.sock")
	_, closeLn, err := ListenResident(sock, func() error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	closeLn()
	b, err := os.ReadFile(sock + ".lock")
	if err != nil {
		return // no lock file, no stale pid
	}
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
		t.Fatalf("a stopped host left pid %d in %s.lock (this process: %d); a cleanup that kills it kills another process", pid, sock, os.Getpid())
	}
}

// TestResidentAttackClientGivesUp: a command sent to the host may wait for
// the state's lock (another tenure holds it: a restore's scrypt on a small
// appliance, an operator's flock). The client waits for the answer as long
// as the command takes, as in-process tenure waits for the lock, so a
// report is printed, never made by the host and lost by a client that gave
// up.
func TestResidentAttackClientGivesUp(t *testing.T) {
	startResident(t, 5*time.Minute)
	ctx := context.Background()
	state := t.TempDir()
	v, _ := installed(t, state, "", grant(0))
	if ok, err := v.Check(ctx, "vpn"); !ok || err != nil {
		t.Fatalf("check vpn: %v %v", ok, err)
	}
	env := map[string]string{abi.EnvPlatform: platformA}
	lock, err := os.Open(state)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(3 * time.Second)
		syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	}()
	start := time.Now()
	r, err := CallResident(state, env, []string{"report"}, "")
	if err != nil || r.Exit != 0 {
		t.Fatalf("report while another process held the lock: %+v, %v", r, err)
	}
	if waited := time.Since(start); waited < 2*time.Second {
		t.Fatalf("the report answered after %v, before the lock came free", waited)
	}
	payload, err := engine.Dearmor("TENURE USAGE", []byte(r.Stdout))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(payload), `"vpn"`) {
		t.Fatalf("the report does not hold the period's checks:\n%s", payload)
	}
}

// TestResidentHeldUpSlowClientAndRace: what held up, kept as evidence: a
// connection that never finishes its frame does not hold up another
// client, and a second host cannot take the socket of a running one.
func TestResidentHeldUpSlowClientAndRace(t *testing.T) {
	startResident(t, time.Minute)
	if _, _, err := ListenResident(ResidentSocket(), func() error { return nil }); err == nil {
		t.Fatal("a second resident host took the lock of a running one")
	}
	slow, err := net.Dial("unix", ResidentSocket())
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	slow.Write([]byte{0, 0x20}) // the start of a 2 MiB frame, and nothing more
	state := t.TempDir()
	start := time.Now()
	if got := residentCall(t, state, day1, "init", "--product", "edge", "--version", "0.40.0"); got.Exit != 0 {
		t.Fatalf("init: %+v", got)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("a client waited %v behind a slow one", d)
	}
}
