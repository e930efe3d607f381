package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestExamples runs the two example hosts of examples/ against the reactor
// this test built: the Go program (built with plain go build) and the Node
// host written against the ABI. Both refuse a module that is not pinned,
// and both answer as the tenure CLI does on the same state.
func TestExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the example hosts")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed (Node.js 20 or later)")
	}
	work := t.TempDir()
	// A module and its pin, as `make build` writes them.
	module := filepath.Join(work, "validator-reactor.wasm")
	b, err := os.ReadFile(filepath.Join(built.bin, "tenure-reactor.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(module, b, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	pin := hex.EncodeToString(sum[:])

	state := filepath.Join(work, "state")
	env := append(os.Environ(), `TENURE_PLATFORM={"machine_id":"e2e-examples","mac:eth0":"52:54:00:e2:e2:15"}`,
		"TENURE_NOW=2026-02-01T10:00:00Z", "XDG_CACHE_HOME="+built.cache)
	run := func(want int, name string, extra []string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = append(append([]string{}, env...), extra...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != want {
			t.Fatalf("%s %s: exit %d, want %d\n%s%s", filepath.Base(name), strings.Join(args, " "), code, want, out.String(), errb.String())
		}
		return out.String() + errb.String()
	}
	run(0, filepath.Join(built.bin, "tenure"), nil, "--state", state, "init", "--product", "edge", "--version", "0.40.0")

	// The Go host, built as a user would.
	goHost := filepath.Join(work, "go-host")
	build := exec.Command("go", "build", "-o", goHost, "./examples/go-host")
	build.Dir = built.root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/go-host: %v\n%s", err, out)
	}
	mod := []string{"TENURE_MODULE=" + module}
	if out := run(2, goHost, mod, state, "vpn"); !strings.Contains(out, "not pinned") {
		t.Errorf("the Go host ran an unpinned module: %s", out)
	}
	if out := run(2, goHost, append(mod, "TENURE_MODULE_SHA256="+strings.Repeat("0", 64)), state, "vpn"); !strings.Contains(out, "refusing the validator module") {
		t.Errorf("the Go host ran a module pinned to another hash: %s", out)
	}
	if out := run(0, goHost, append(mod, "TENURE_MODULE_SHA256="+pin), state, "vpn"); !strings.HasPrefix(out, "vpn: allowed (trial: trial ends 2026-03-03") {
		t.Errorf("the Go host answered %q", out)
	}
	if err := os.WriteFile(module+".sha256", []byte(pin+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run(0, goHost, mod, state, "vpn") // the pin beside the module

	// The Node host of the ABI, on the same state.
	host := filepath.Join(built.root, "examples", "node-host", "host.mjs")
	os.Remove(module + ".sha256")
	if out := run(2, node, nil, host, module, state, "status"); !strings.Contains(out, "not pinned") {
		t.Errorf("the Node host ran an unpinned module: %s", out)
	}
	out := run(1, node, []string{"TENURE_MODULE_SHA256=" + pin}, host, module, state, "status", "--json", "--", "check", "vpn", "--", "check", "--limit", "vpn_users", "11")
	var lines []string // the responses; Node's own warnings aside
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "{") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 3 {
		t.Fatalf("the Node host printed %d responses, want 3:\n%s", len(lines), out)
	}
	var resp [3]struct {
		Exit   int
		Stdout string
	}
	for i, l := range lines {
		if err := json.Unmarshal([]byte(l), &resp[i]); err != nil {
			t.Fatalf("response %d is not JSON: %v: %s", i, err, l)
		}
	}
	var st struct{ State string }
	if err := json.Unmarshal([]byte(resp[0].Stdout), &st); err != nil || resp[0].Exit != 0 || st.State != "trial" {
		t.Errorf("status through the Node host: exit %d, %s", resp[0].Exit, resp[0].Stdout)
	}
	if resp[1].Exit != 0 || resp[2].Exit != 1 {
		t.Errorf("checks through the Node host: vpn exit %d, vpn_users 11 exit %d (the trial allows 10)", resp[1].Exit, resp[2].Exit)
	}
	// The CLI agrees with both.
	if cli := run(0, filepath.Join(built.bin, "tenure"), nil, "--state", state, "check", "vpn"); !strings.Contains(cli, "allowed") {
		t.Errorf("tenure check vpn: %s", cli)
	}
}
