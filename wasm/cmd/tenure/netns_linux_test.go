package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenurehq/tenure/shared/engine"
	"github.com/tenurehq/tenure/wasm"
	"github.com/tenurehq/tenure/wasm/internal/guest"
)

// TestNetworkNamespace runs the real tenure in a new network namespace on a
// state licensed outside it, on this machine's own facts: still licensed.
// It then gives the namespace a sysfs of its own, as systemd's
// PrivateNetwork= does, where no NIC can be seen: the license holds where
// three or more classes are readable, and where fewer are, the operator's
// stable identity (TENURE_PLATFORM) holds.
//
// It needs root and unshare(1); CI runs as root, so there a missing piece
// fails the test rather than skipping it.
func TestNetworkNamespace(t *testing.T) {
	need := func(ok bool, what string) {
		t.Helper()
		if ok {
			return
		}
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and %s", what)
		}
		t.Skip(what)
	}
	need(os.Geteuid() == 0, "this test needs root for unshare -n")
	_, err := exec.LookPath("unshare")
	need(err == nil, "this test needs unshare(1) (util-linux)")
	probe, err := exec.Command("unshare", "-n", "true").CombinedOutput()
	need(err == nil, "unshare -n fails here: "+strings.TrimSpace(string(probe)))
	buildModule(t)

	cache := filepath.Join(buildDir, "cache")
	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "XDG_CACHE_HOME=" + cache,
		wasm.EnvModule + "=" + guests.Paths[guest.Reactor], "TENURE_NOW=2026-01-05T10:00:00Z", wasm.EnvResident + "=off"}
	exe := func(env []string, want int, args ...string) string {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = env
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%s: %v", strings.Join(args, " "), err)
		}
		if code != want {
			t.Fatalf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, stdout.String(), stderr.String())
		}
		return stdout.String()
	}
	// licensed makes an appliance in a new state, licensed outside any
	// namespace, and returns the environment its commands run in.
	licensed := func(extra ...string) []string {
		t.Helper()
		env := append(slices.Clone(base), "TENURE_STATE="+t.TempDir())
		env = append(env, extra...)
		exe(env, 0, "tenure", "init", "--product", "edge", "--version", "0.40.0")
		lrf := exe(env, 0, "tenure", "request")
		lic, err := guests.License([]byte(lrf), guest.Grant{ID: "L-000001", From: instant(t, "2026-01-05"), Until: instant(t, "2027-01-05")})
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "L-000001.license")
		if err := os.WriteFile(file, lic, 0o600); err != nil {
			t.Fatal(err)
		}
		exe(env, 0, "tenure", "install", file)
		return env
	}
	state := func(out string) string {
		t.Helper()
		var s engine.Status
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("status --json: %v\n%s", err, out)
		}
		if len(s.Licenses) != 1 {
			t.Fatalf("status: %s", out)
		}
		if s.State != engine.ModeLicensed {
			return string(s.State) + ": " + s.Licenses[0].Reason
		}
		return string(s.State)
	}

	env := licensed() // this machine's own facts
	if got := state(exe(env, 0, "tenure", "status", "--json")); got != "licensed" {
		t.Fatalf("outside a namespace: %s", got)
	}
	var rep engine.PlatformReport
	if err := json.Unmarshal([]byte(exe(env, 0, "tenure", "platform", "--json")), &rep); err != nil {
		t.Fatal(err)
	}
	var classes []string
	nics := false
	for _, c := range rep.Components {
		if !strings.HasPrefix(c.Source, "/") {
			t.Errorf("component %s from %q, not from this machine", c.Name, c.Source)
		}
		if cl := engine.ComponentClass(c.Name); !slices.Contains(classes, cl) {
			classes = append(classes, cl)
		}
		nics = nics || strings.HasPrefix(c.Name, "mac:")
	}
	t.Logf("this machine: classes %v: %s", classes, exe(env, 0, "tenure", "platform"))

	// A new network namespace: only its loopback, so the first wave's
	// host, which asked the kernel for interfaces, saw no NIC here.
	netdev := exe(env, 0, "unshare", "-n", "cat", "/proc/net/dev")
	if n := strings.Count(netdev, ":"); n != 1 || !strings.Contains(netdev, "lo:") {
		t.Fatalf("unshare -n is not a new namespace:\n%s", netdev)
	}
	if got := state(exe(env, 0, "unshare", "-n", "tenure", "status", "--json")); got != "licensed" {
		t.Errorf("in a new network namespace: %s", got)
	}
	exe(env, 0, "unshare", "-n", "tenure", "check", "vpn")

	// A namespace with a sysfs of its own (PrivateNetwork=): no NIC at all.
	private := func(env []string, args ...string) (string, bool) {
		t.Helper()
		script := "mount -t sysfs sysfs /sys || exit 99; ls /sys/class/net >&2; exec " + strings.Join(args, " ")
		cmd := exec.Command("unshare", "-n", "-m", "sh", "-c", script)
		cmd.Env = env
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 99 {
			return stderr.String(), false
		} else if err != nil {
			t.Fatalf("%s: %v\n%s", script, err, stderr.String())
		}
		if strings.TrimSpace(strings.Split(stderr.String(), "\n")[0]) != "lo" {
			t.Fatalf("the private sysfs shows more than the loopback:\n%s", stderr.String())
		}
		return stdout.String(), true
	}
	out, ok := private(env, "tenure", "status", "--json")
	need(ok, "sysfs cannot be mounted in a new mount namespace here: "+out)
	got := state(out)
	holds := len(classes) >= 3 || !nics
	switch {
	case holds && got != "licensed":
		t.Errorf("with a private sysfs and %d classes %v: %s", len(classes), classes, got)
	case !holds && !strings.Contains(got, "bound to another platform"):
		t.Errorf("with a private sysfs and only %d classes %v: %s; want the license bound to another platform", len(classes), classes, got)
	}

	// The operator's stable identity does not care about namespaces.
	env = licensed(`TENURE_PLATFORM={"instance_id":"6f1c2a0e-8d3b-4b7e-9c15-2e4d6a8b0c1f"}`)
	if out, _ := private(env, "tenure", "status", "--json"); state(out) != "licensed" {
		t.Errorf("TENURE_PLATFORM with a private sysfs: %s", state(out))
	}
	if got := state(exe(env, 0, "unshare", "-n", "tenure", "status", "--json")); got != "licensed" {
		t.Errorf("TENURE_PLATFORM in a new network namespace: %s", got)
	}
}

func instant(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := engine.ParseInstant(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
