//go:build linux

package wasm

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenurehq/tenure/shared/abi"
	"github.com/tenurehq/tenure/wasm/internal/guest"
)

// startResident runs a resident host on a socket of the test's own, for
// the reactor the tests build, until the test ends.
func startResident(t *testing.T, idle time.Duration) (*Resident, chan error) {
	t.Helper()
	module(t, guest.Reactor)
	t.Setenv("XDG_RUNTIME_DIR", privateTempDir(t))
	t.Setenv(EnvModule, guests.Paths[guest.Reactor])
	var r *Resident
	ln, closeLn, err := ListenResident(ResidentSocket(), func() (err error) {
		r, err = NewResident(nil, idle)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-done
		closeLn()
	})
	return r, done
}

func residentCall(t *testing.T, state string, now string, words ...string) abi.Response {
	t.Helper()
	env := map[string]string{abi.EnvPlatform: platformA}
	if now != "" {
		env[abi.EnvNow] = now
	}
	r, err := CallResident(state, env, words, "")
	if err != nil {
		t.Fatalf("tenure %s through the resident host: %v", strings.Join(words, " "), err)
	}
	return r
}

// TestResident: the resident host answers what the module answers in
// process, for every state it serves, one instance per directory however
// it is named, and refuses what it must not run.
func TestResident(t *testing.T) {
	r, _ := startResident(t, time.Minute)
	ctx := context.Background()
	a, b := t.TempDir(), t.TempDir()
	for _, dir := range []string{a, b} {
		if got := residentCall(t, dir, day1, "init", "--product", "edge", "--version", "0.40.0"); got.Exit != 0 {
			t.Fatalf("init: %+v", got)
		}
	}
	// The same answers as a Validator of this process over the same state.
	local := open(t, a, platformA, day1)
	for _, words := range [][]string{{"check", "vpn"}, {"check", "--limit", "vpn_users", "11"}, {"status", "--json"}, {"platform", "--json"}} {
		want, err := local.Call(ctx, words, "")
		if err != nil {
			t.Fatal(err)
		}
		got := residentCall(t, a, day1, words...)
		if got.Exit != want.Exit || got.Stdout != want.Stdout {
			t.Errorf("tenure %s: the resident host answered %d %q, the module in process %d %q", strings.Join(words, " "), got.Exit, got.Stdout, want.Exit, want.Stdout)
		}
	}
	// A symlink to a state is the same state: one instance.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(a, link); err != nil {
		t.Fatal(err)
	}
	residentCall(t, link, day1, "check", "vpn")
	if n := r.States(); n != 2 {
		t.Fatalf("%d instances for two state directories", n)
	}
	// The time each request carries is the one the module sees.
	var st struct{ State string }
	json.Unmarshal([]byte(residentCall(t, b, "2026-03-01", "status", "--json").Stdout), &st)
	if st.State != "restricted" {
		t.Fatalf("at 2026-03-01, after a 30-day trial: %s", st.State)
	}
	// Backup and restore are not for the resident host.
	if _, err := CallResident(a, map[string]string{abi.EnvPlatform: platformA}, []string{"backup", "--passphrase-file", "-"}, ""); !errors.Is(err, ErrNoResident) {
		t.Fatalf("backup through the resident host: %v", err)
	}
	// A client with another module is refused before anything runs.
	moduleSHA256 = strings.Repeat("0", 64)
	_, err := CallResident(a, map[string]string{abi.EnvPlatform: platformA}, []string{"check", "vpn"}, "")
	moduleSHA256 = ""
	if !errors.Is(err, ErrNoResident) || !strings.Contains(err.Error(), "another validator module") {
		t.Fatalf("a client with another module: %v", err)
	}
}

// TestResidentBounds: least recently used states give way beyond the
// bound, and the host exits once idle, removing its socket.
func TestResidentBounds(t *testing.T) {
	r, done := startResident(t, 2*time.Second)
	var dirs []string
	for range MaxResidentStates + 2 {
		dir := t.TempDir()
		dirs = append(dirs, dir)
		if got := residentCall(t, dir, day1, "init", "--product", "edge", "--version", "0.40.0"); got.Exit != 0 {
			t.Fatalf("init: %+v", got)
		}
	}
	if n := r.States(); n != MaxResidentStates {
		t.Fatalf("%d instances kept, want %d", n, MaxResidentStates)
	}
	// The first state was closed; asking again opens it again.
	if got := residentCall(t, dirs[0], day1, "check", "vpn"); got.Exit != 0 {
		t.Fatalf("check on a state closed for room: %+v", got)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the resident host did not exit once idle")
	}
	done <- nil // for the cleanup
	if _, err := os.Stat(ResidentSocket()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the socket is left behind: %v", err)
	}
	if _, err := net.Dial("unix", ResidentSocket()); err == nil {
		t.Fatal("something still listens")
	}
	if _, err := CallResident(dirs[1], map[string]string{abi.EnvPlatform: platformA}, []string{"check", "vpn"}, ""); !errors.Is(err, ErrResidentDown) {
		t.Fatalf("after the host exited: %v", err)
	}
}

// privateTempDir is a temporary folder only its owner may enter, as the
// resident host's socket folder must be.
func privateTempDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}
