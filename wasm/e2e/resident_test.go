package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stopResident stops the resident host whose socket is in dir, if one runs,
// and waits for it to go.
func stopResident(dir string) {
	b, err := os.ReadFile(filepath.Join(dir, "tenure.sock.lock"))
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return
	}
	// Only a resident host: a pid left by one killed may name another
	// process by now.
	if env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid)); err != nil || !bytes.Contains(env, []byte("TENURE_RESIDENT=serve")) {
		return
	}
	syscall.Kill(pid, syscall.SIGTERM)
	for range 100 {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGKILL)
}

// TestResidentHost runs the real tenure: the first call starts the resident
// host and runs in-process; the next ones are answered by the host, with
// the output the module gives in-process; without a host that can start
// (its folder missing), every call runs in-process.
func TestResidentHost(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs tenure")
	}
	run := t.TempDir()
	os.Chmod(run, 0o700) // the socket's folder must be private
	state := t.TempDir()
	env := append(os.Environ(), "XDG_RUNTIME_DIR="+run, "TENURE_STATE="+state, "XDG_CACHE_HOME="+built.cache,
		`TENURE_PLATFORM={"machine_id":"m-resident"}`, "TENURE_RESIDENT_IDLE=20s")
	t.Cleanup(func() { stopResident(run) })
	tenure := func(extra []string, want int, args ...string) (string, string) {
		t.Helper()
		cmd := exec.Command(filepath.Join(built.bin, "tenure"), args...)
		cmd.Env = append(append([]string{}, env...), extra...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != want {
			t.Fatalf("tenure %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, want, stdout.String(), stderr.String())
		}
		return stdout.String(), stderr.String()
	}
	// No host yet: require fails, a plain call runs and starts one.
	tenure([]string{"TENURE_RESIDENT=require"}, 2, "check", "vpn")
	tenure(nil, 0, "init", "--product", "edge", "--version", "0.40.0")
	sock := filepath.Join(run, "tenure.sock")
	deadline := time.Now().Add(60 * time.Second)
	for {
		if fi, err := os.Stat(sock); err == nil {
			if fi.Mode().Perm() != 0o600 {
				t.Fatalf("the socket is %v, want 0600", fi.Mode().Perm())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first call started no resident host")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, args := range [][]string{{"check", "vpn"}, {"check", "--limit", "vpn_users", "11"}, {"status", "--json"}, {"platform"}} {
		want := 0
		if len(args) > 1 && args[1] == "--limit" {
			want = 1
		}
		fromHost, _ := tenure([]string{"TENURE_RESIDENT=require", "TENURE_NOW=2026-12-02T00:00:00Z"}, want, args...)
		inProcess, _ := tenure([]string{"TENURE_RESIDENT=off", "TENURE_NOW=2026-12-02T00:00:00Z"}, want, args...)
		if fromHost != inProcess {
			t.Errorf("tenure %s: the resident host printed\n%s\nin process:\n%s", strings.Join(args, " "), fromHost, inProcess)
		}
	}
	// A folder where no host can listen: every call runs in-process.
	out, _ := tenure([]string{"XDG_RUNTIME_DIR=" + filepath.Join(run, "missing")}, 0, "check", "vpn")
	if !strings.Contains(out, "allowed") {
		t.Fatalf("in-process fallback: %q", out)
	}
	// Stopped, the host takes its socket with it, and the next call runs
	// in-process (and starts another).
	stopResident(run)
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the socket is left after the host stopped: %v", err)
	}
	tenure(nil, 0, "check", "vpn")
}
