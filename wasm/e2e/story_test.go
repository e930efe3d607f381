package e2e

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const mod = "github.com/tenurehq/tenure"

// built is what TestMain made: the binaries, and the issuer key the
// validator trusts.
var built struct {
	root  string // the module's source
	bin   string // tenure, tenure-plantlink (built for examples/products/plantlink.product), tenure-issuer, demo
	keys  string // issuer.key, issuer.pass, issuer.pub
	cache string // the compiled module, shared by every run of the test
}

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	flag.Parse()
	dir, err := os.MkdirTemp("", "tenure-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// Every tenure of the tests reaches one resident host of their own,
	// stopped when they end.
	run := filepath.Join(dir, "run")
	if err := os.Mkdir(run, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	os.Setenv("XDG_RUNTIME_DIR", run)
	defer stopResident(run)
	if !testing.Short() {
		if err := build(dir); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
	}
	return m.Run()
}

// build does what scripts/build.sh and scripts/demo.sh do, into dir:
// tenure-issuer, a key from its keygen, the validator reactor trusting that
// key, and tenure embedding that reactor (through -overlay, so nothing is
// written to the source tree) with its SHA-256 fixed in.
func build(dir string) error {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	built.root = root
	built.bin = filepath.Join(dir, "bin")
	built.keys = filepath.Join(dir, "keys")
	built.cache = filepath.Join(dir, "cache")
	run := func(env []string, name string, args ...string) error {
		cmd := exec.Command(name, args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), env...)
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, b)
		}
		return nil
	}
	bin := func(name string) string { return filepath.Join(built.bin, name) }

	if err := run(nil, "go", "build", "-trimpath", "-o", bin("tenure-issuer"), "./issuer/cmd/tenure-issuer"); err != nil {
		return err
	}
	if err := run(nil, bin("tenure-issuer"), "keygen", "--name", "tenure-e2e", "--dir", built.keys); err != nil {
		return err
	}
	trust, err := os.ReadFile(filepath.Join(built.keys, "issuer.pub"))
	if err != nil {
		return err
	}
	// The CLI for the example product, and one for a vendor's own.
	for _, v := range []struct{ cli, product string }{{"tenure", ""}, {"tenure-plantlink", "examples/products/plantlink.product"}} {
		ldflags := "-s -w -X " + mod + "/validator.buildTrust=" + base64.StdEncoding.EncodeToString(trust)
		if v.product != "" {
			p, err := os.ReadFile(filepath.Join(root, v.product))
			if err != nil {
				return err
			}
			ldflags += " -X " + mod + "/validator.buildProduct=" + base64.StdEncoding.EncodeToString(p)
		}
		reactor := bin(v.cli + "-reactor.wasm")
		if err := run([]string{"GOOS=wasip1", "GOARCH=wasm"}, "go", "build", "-trimpath", "-buildmode=c-shared",
			"-ldflags", ldflags, "-o", reactor, "./validator/cmd/validator-reactor"); err != nil {
			return err
		}
		module, err := os.ReadFile(reactor)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(module)
		overlay, err := json.Marshal(map[string]any{"Replace": map[string]string{
			filepath.Join(root, "wasm", "module", "validator-reactor.wasm"): reactor,
		}})
		if err != nil {
			return err
		}
		overlayFile := filepath.Join(dir, v.cli+"-overlay.json")
		if err := os.WriteFile(overlayFile, overlay, 0o600); err != nil {
			return err
		}
		if err := run(nil, "go", "build", "-trimpath", "-overlay", overlayFile,
			"-ldflags", "-s -w -X "+mod+"/wasm.moduleSHA256="+hex.EncodeToString(sum[:]),
			"-o", bin(v.cli), "./wasm/cmd/tenure"); err != nil {
			return err
		}
	}
	return run(nil, "go", "build", "-o", bin("demo"), "./scripts/demo")
}

// A record is one JSON document of the story: an appliance's
// `status --json`, an issuer's answer, or a check's exit code.
type record struct {
	Step      string          `json:"step"`
	Appliance string          `json:"appliance"`
	Now       string          `json:"now"`
	Kind      string          `json:"kind"`
	Doc       json.RawMessage `json:"doc"`
}

// TestStory runs the story of `make demo` and checks each step's JSON:
// state, until, features, the reason and window of each license.
func TestStory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds tenure, tenure-issuer and the validator, and plays a year and a half of an appliance's life")
	}
	work := t.TempDir()
	keys := filepath.Join(work, "issuer")
	if err := os.MkdirAll(keys, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"issuer.key", "issuer.pass", "issuer.pub"} {
		b, err := os.ReadFile(filepath.Join(built.keys, name))
		if err == nil {
			err = os.WriteFile(filepath.Join(keys, name), b, 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	transcript := filepath.Join(t.TempDir(), "story.jsonl")
	cmd := exec.CommandContext(t.Context(), filepath.Join(built.bin, "demo"), "--bin", built.bin, "--dir", work, "--transcript", transcript)
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+built.cache)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("the story:\n%s", out.String())
	if err != nil {
		t.Fatalf("the story failed: %v", err)
	}
	if !strings.Contains(out.String(), "gave the expected result") {
		t.Fatal("the story did not say it ended well")
	}

	f, err := os.Open(transcript)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	steps := map[string]record{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("transcript line %q: %v", sc.Text(), err)
		}
		key := r.Step
		if r.Kind == "check" {
			key += "/check"
		}
		steps[key] = r
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}

	const (
		ordered  = `["monitoring","scion","vpn"]`
		upgraded = `["monitoring","peering","scion","vpn"]`
	)
	for _, tc := range []struct {
		step string
		want map[string]string // path (as jsonPath takes it) to the value as JSON prints it, strings bare
	}{
		{"init", map[string]string{"state": "trial", "until": "2026-02-04T10:00:00Z", "features": `["*"]`,
			"limits.vpn_users": "10", "trial.started": "2026-01-05T10:00:00Z", "licenses.len()": "0", "config_changes": "true"}},
		{"order", map[string]string{"contract.id": "IC-1042", "contract.revision": "1", "contract.ordered": "2026-01-06T09:00:00Z"}},
		{"first-use", map[string]string{"state": "trial", "until": "2026-02-04T10:00:00Z", "features": `["*"]`}},
		// The license starts at the first use, before the activation.
		{"activation", map[string]string{"reason": "initial", "from": "2026-01-08T00:00:00Z", "until": "2027-01-08T00:00:00Z"}},
		{"licensed", map[string]string{"state": "licensed", "until": "2027-01-08T00:00:00Z", "features": ordered,
			"limits.vpn_users": "100", "licenses.len()": "1", "licenses.0.standing": "active", "licenses.0.reason": "initial",
			"licenses.0.from": "2026-01-08T00:00:00Z", "licenses.0.until": "2027-01-08T00:00:00Z"}},
		{"licensed/check", map[string]string{"feature": "peering", "exit": "1"}},
		{"projection-grace", map[string]string{"state": "grace", "at": "2027-02-01T00:00:00Z", "until": "2027-04-08T00:00:00Z",
			"features": ordered, "grace.started": "2027-01-08T00:00:00Z", "grace.ends": "2027-04-08T00:00:00Z", "config_changes": "true"}},
		{"projection-restricted", map[string]string{"state": "restricted", "at": "2027-05-01T00:00:00Z", "features": ordered, "config_changes": "false"}},
		{"grace", map[string]string{"state": "grace", "until": "2027-04-08T00:00:00Z", "features": ordered, "licenses.0.standing": "expired",
			"clock.used": "2027-02-15T09:00:00Z"}},
		{"renewal-order", map[string]string{"contract.revision": "2", "contract.change": "renewal"}},
		// A renewal issued in grace takes effect from the start of grace.
		{"renewal-activation", map[string]string{"reason": "renewal", "from": "2027-01-08T00:00:00Z", "until": "2028-01-08T00:00:00Z"}},
		{"renewed", map[string]string{"state": "licensed", "until": "2028-01-08T00:00:00Z", "features": ordered,
			"licenses.len()": "2", "licenses.1.reason": "renewal", "licenses.1.standing": "active",
			"licenses.1.from": "2027-01-08T00:00:00Z", "licenses.1.until": "2028-01-08T00:00:00Z"}},
		{"upgrade-order", map[string]string{"contract.revision": "3", "contract.features": upgraded}},
		{"upgrade-activation", map[string]string{"reason": "upgrade", "from": "2027-06-01T00:00:00Z", "until": "2028-01-08T00:00:00Z"}},
		{"upgraded", map[string]string{"state": "licensed", "until": "2028-01-08T00:00:00Z", "features": upgraded,
			"limits.vpn_users": "250", "limits.peering_tunnels": "100", "licenses.len()": "3", "licenses.2.reason": "upgrade",
			"licenses.2.standing": "active", "licenses.2.from": "2027-06-01T00:00:00Z", "licenses.2.until": "2028-01-08T00:00:00Z"}},
		{"upgraded/check", map[string]string{"feature": "peering", "exit": "0"}},
		// Released licenses count for nothing, not even a grace period.
		{"released", map[string]string{"state": "restricted", "features": "[]", "config_changes": "false",
			"licenses.0.standing": "released", "licenses.1.standing": "released", "licenses.2.standing": "released"}},
		{"release", map[string]string{"released.len()": "3", "appliances_free": "1"}},
		{"new-hardware", map[string]string{"state": "trial", "until": "2027-10-01T09:00:00Z", "features": `["*"]`}},
		// The freed seat keeps its term: never extended.
		{"migration-activation", map[string]string{"reason": "reallocation", "from": "2027-09-01T00:00:00Z", "until": "2028-01-08T00:00:00Z"}},
		{"migrated", map[string]string{"state": "licensed", "until": "2028-01-08T00:00:00Z", "features": upgraded,
			"licenses.len()": "1", "licenses.0.reason": "reallocation", "licenses.0.standing": "active"}},
		{"restored", map[string]string{"state": "trial", "until": "2027-10-31T09:00:00Z", "trial.started": "2027-10-01T09:00:00Z",
			"licenses.len()": "1", "licenses.0.standing": "inactive"}},
		{"reallocation", map[string]string{"released.len()": "1", "appliances_free": "1"}},
		{"restore-activation", map[string]string{"reason": "reallocation", "from": "2027-10-01T00:00:00Z", "until": "2028-01-08T00:00:00Z"}},
		{"restored-licensed", map[string]string{"state": "licensed", "until": "2028-01-08T00:00:00Z", "features": upgraded,
			"licenses.len()": "2", "licenses.0.standing": "inactive", "licenses.1.standing": "active", "licenses.1.reason": "reallocation"}},
	} {
		r, ok := steps[tc.step]
		if !ok {
			t.Errorf("%s: not in the transcript", tc.step)
			continue
		}
		var doc any
		if err := json.Unmarshal(r.Doc, &doc); err != nil {
			t.Errorf("%s: %v", tc.step, err)
			continue
		}
		for path, want := range tc.want {
			if got, err := jsonPath(doc, path); err != nil || got != want {
				t.Errorf("%s: %s = %s (%v), want %s\n%s", tc.step, path, got, err, want, r.Doc)
			}
		}
	}
}

// jsonPath returns the value at a dotted path of keys and list indexes
// (licenses.0.standing; len() counts) as JSON prints it, strings bare.
func jsonPath(v any, path string) (string, error) {
	for _, key := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			if key == "len()" {
				v = float64(len(x))
				continue
			}
			var ok bool
			if v, ok = x[key]; !ok {
				return "", fmt.Errorf("no %q", key)
			}
		case []any:
			if key == "len()" {
				v = float64(len(x))
				continue
			}
			i, err := strconv.Atoi(key)
			if err != nil || i < 0 || i >= len(x) {
				return "", fmt.Errorf("no index %q of %d", key, len(x))
			}
			v = x[i]
		default:
			return "", fmt.Errorf("%q of a %T", key, v)
		}
	}
	if s, ok := v.(string); ok {
		return s, nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}
