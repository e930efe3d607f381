package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestResidentAttackInheritedNamespace: the resident host is started by
// whichever tenure call finds none, and keeps that caller's mount
// namespace, cgroup and limits for every later client. A hardened service
// that only checks licenses (its unit has the state read-only, as
// ProtectSystem/ReadOnlyPaths make it) starts it; a read-only bind mount
// keeps the directory's device and inode, so the host's dev/ino check
// passes; from then on the operator's writing commands, run outside that
// service, are answered "cannot be written" by the host, where the module
// in-process does them.
func TestResidentAttackInheritedNamespace(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs tenure")
	}
	need := func(ok bool, what string) {
		t.Helper()
		switch {
		case ok:
		case os.Getenv("CI") != "":
			t.Fatalf("CI is set and %s", what)
		default:
			t.Skip(what)
		}
	}
	need(os.Geteuid() == 0, "this test needs root for a mount namespace")
	_, err := exec.LookPath("unshare")
	need(err == nil, "this test needs unshare(1)")
	run := t.TempDir()
	os.Chmod(run, 0o700) // the socket's folder must be private
	state := t.TempDir()
	bin := filepath.Join(built.bin, "tenure")
	env := append(os.Environ(), "XDG_RUNTIME_DIR="+run, "TENURE_STATE="+state, "XDG_CACHE_HOME="+built.cache,
		`TENURE_PLATFORM={"machine_id":"m-namespace"}`, "TENURE_RESIDENT_IDLE=30s")
	t.Cleanup(func() { stopResident(run) })
	exit := func(cmd *exec.Cmd) (int, string) {
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), out.String()
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, out.String()
	}
	tenure := func(extra string, args ...string) (int, string) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(append([]string{}, env...), extra)
		return exit(cmd)
	}
	if code, out := tenure("TENURE_RESIDENT=off", "init", "--product", "edge", "--version", "0.40.0"); code != 0 {
		t.Fatalf("init: %d %s", code, out)
	}
	// The service's first check runs in-process and starts the host, in
	// its namespace.
	svc := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c",
		`mount --bind -o ro "$TENURE_STATE" "$TENURE_STATE" && exec "$0" check vpn`, bin)
	svc.Env = env
	if code, out := exit(svc); code != 0 {
		t.Fatalf("the service's check: %d %s", code, out)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(run, "tenure.sock")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no resident host started")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The operator, in the host's own namespace, makes a license request:
	// the host refuses it (another namespace), and it runs in-process.
	if code, out := tenure("TENURE_RESIDENT=require", "request"); code != 2 || !strings.Contains(out, "another mount namespace") {
		t.Fatalf("a request from another namespace, resident required: exit %d\n%s", code, out)
	}
	got, gotOut := tenure("TENURE_RESIDENT=", "request")
	want, wantOut := tenure("TENURE_RESIDENT=off", "request")
	if got != want {
		t.Fatalf("tenure request through the resident host: exit %d\n%s\nin process: exit %d (%d bytes of LRF)", got, gotOut, want, len(wantOut))
	}
}
