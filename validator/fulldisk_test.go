package validator

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestFullAndReadOnlyDisk puts a licensed appliance's state on a real tmpfs
// mount, fills it, then makes it read-only: checks and status keep
// answering from memory with a warning, and the commands that must write
// fail clearly without claiming a job they did not do.
func TestFullAndReadOnlyDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("this test mounts a tmpfs and must run as root under CI")
		}
		t.Skip("mounting a tmpfs needs root")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })

	is := newIssuer(t, "tenure-issuer-test")
	cfg := testConfig(t, is.trust(t, ""))
	cfg.Dir = filepath.Join(mnt, "state")
	if err := os.Mkdir(cfg.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	e := env{now: "2026-01-05T10:00:00Z", platform: platformA}
	cli(t, cfg, e, "", 0, "init", "--product", "edge", "--version", "0.40.0")
	lrf := cli(t, cfg, e, "", 0, "request").Stdout
	_, sealed := is.license(t, lrf, "IC-1", "2026-01-05", "2027-01-05", "2026-01-05T10:00:00Z", nil)
	_, second := is.license(t, lrf, "IC-2", "2026-01-05", "2027-01-05", "2026-01-05T10:00:00Z", nil)
	cli(t, cfg, e, sealed, 0, "install", "-")

	// Fill the disk to the last byte.
	f, err := os.Create(filepath.Join(mnt, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			break
		}
	}
	for n := 1024; n > 0; n /= 2 {
		for {
			if _, err := f.Write(chunk[:n]); err != nil {
				break
			}
		}
	}
	f.Close()

	answers := func(what string) {
		t.Helper()
		// Hours later, so the high-water mark is due to be written.
		later := env{now: "2026-02-01T10:00:00Z", platform: platformA}
		r := cli(t, cfg, later, "", 0, "check", "vpn")
		mustContain(t, what+": check", r.Stdout, "allowed")
		mustContain(t, what+": check's warning", r.Stderr, "warning", "answering from memory")
		if s := status(t, cfg, later); s.State != "licensed" {
			t.Fatalf("%s: status %+v", what, s)
		}
		cli(t, cfg, later, "", 0, "check", "--config-change")
		r = cli(t, cfg, later, second, 2, "install", "-")
		mustContain(t, what+": install", r.Stderr, "the license was not installed")
		r = cli(t, cfg, later, "", 2, "request")
		if r.Stdout != "" || !strings.Contains(r.Stderr, "no request was made") {
			t.Fatalf("%s: a request on a state that cannot be written printed %q: %s", what, r.Stdout, r.Stderr)
		}
	}
	answers("full disk")
	if out, err := exec.Command("mount", "-o", "remount,ro", mnt).CombinedOutput(); err != nil {
		t.Fatalf("remount read-only: %v: %s", err, out)
	}
	answers("read-only disk")
}
