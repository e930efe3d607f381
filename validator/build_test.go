package validator

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestWasmBuilds builds both mains for wasip1 and checks the reactor exports
// the ABI exactly: other languages embed it by these names and types.
func TestWasmBuilds(t *testing.T) {
	if testing.Short() && os.Getenv("CI") == "" {
		t.Skip("builds two wasm modules; run without -short")
	}
	dir := t.TempDir()
	build := func(out string, args ...string) []byte {
		t.Helper()
		cmd := exec.Command("go", append([]string{"build", "-trimpath", "-o", filepath.Join(dir, out)}, args...)...)
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", out, err, b)
		}
		b, err := os.ReadFile(filepath.Join(dir, out))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	is := newIssuer(t, "tenure-issuer-test")
	command := build("validator.wasm", "-ldflags", "-X github.com/tenurehq/tenure/validator.buildTrust="+base64.StdEncoding.EncodeToString([]byte(is.vkey+"\n")), "./cmd/validator")
	reactor := build("validator-reactor.wasm", "-buildmode=c-shared", "./cmd/validator-reactor")

	exports, err := wasmExports(command)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := exports["_start"]; !ok {
		t.Errorf("the command module does not export _start: %v", exports)
	}
	exports, err = wasmExports(reactor)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"_initialize":        "() -> ()",
		"tenure_abi_version": "() -> (i32)",
		"tenure_alloc":       "(i32) -> (i32)",
		"tenure_free":        "(i32) -> ()",
		"tenure_call":        "(i32 i32) -> (i64)",
	} {
		if got, ok := exports[name]; !ok || got != want {
			t.Errorf("reactor export %s: %q, want %q", name, got, want)
		}
	}
	t.Logf("validator.wasm %d bytes, validator-reactor.wasm %d bytes", len(command), len(reactor))

	t.Run("node", func(t *testing.T) { commandInNode(t, is, filepath.Join(dir, "validator.wasm")) })

	vet := exec.Command("go", "vet", "-tags", "vectors", ".")
	vet.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := vet.CombinedOutput(); err != nil {
		t.Fatalf("the vectors build does not compile: %v\n%s", err, b)
	}
}

// wasmExports reads a module's exported functions and their signatures from
// its type, import, function and export sections.
func wasmExports(mod []byte) (map[string]string, error) {
	if !bytes.HasPrefix(mod, []byte("\x00asm\x01\x00\x00\x00")) {
		return nil, errors.New("not a wasm module")
	}
	r := &wasmReader{b: mod[8:]}
	var types []string
	var funcs []int // type index of each function, imports first
	exports := map[string]string{}
	valType := map[byte]string{0x7f: "i32", 0x7e: "i64", 0x7d: "f32", 0x7c: "f64"}
	for len(r.b) > 0 && r.err == nil {
		id := r.byte()
		sec := &wasmReader{b: r.bytes(r.uint())}
		switch id {
		case 1: // types
			for n := sec.uint(); n > 0 && sec.err == nil; n-- {
				sec.byte() // 0x60
				sig := "("
				for i, k := 0, sec.uint(); i < k; i++ {
					sig += map[bool]string{true: " ", false: ""}[i > 0] + valType[sec.byte()]
				}
				sig += ") -> ("
				for i, k := 0, sec.uint(); i < k; i++ {
					sig += map[bool]string{true: " ", false: ""}[i > 0] + valType[sec.byte()]
				}
				types = append(types, sig+")")
			}
		case 2: // imports
			for n := sec.uint(); n > 0 && sec.err == nil; n-- {
				sec.bytes(sec.uint())
				sec.bytes(sec.uint())
				switch kind := sec.byte(); kind {
				case 0:
					funcs = append(funcs, sec.uint())
				case 1:
					sec.byte()
					sec.limits()
				case 2:
					sec.limits()
				case 3:
					sec.byte()
					sec.byte()
				}
			}
		case 3: // functions
			for n := sec.uint(); n > 0 && sec.err == nil; n-- {
				funcs = append(funcs, sec.uint())
			}
		case 7: // exports
			for n := sec.uint(); n > 0 && sec.err == nil; n-- {
				name := string(sec.bytes(sec.uint()))
				kind, idx := sec.byte(), sec.uint()
				if kind == 0 && idx < len(funcs) && funcs[idx] < len(types) {
					exports[name] = types[funcs[idx]]
				}
			}
		}
		if sec.err != nil {
			return nil, fmt.Errorf("section %d: %w", id, sec.err)
		}
	}
	return exports, r.err
}

type wasmReader struct {
	b   []byte
	err error
}

func (r *wasmReader) byte() byte {
	if len(r.b) == 0 {
		r.err = errors.New("truncated")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *wasmReader) uint() int {
	var v, shift int
	for r.err == nil {
		c := r.byte()
		v |= int(c&0x7f) << shift
		if c < 0x80 {
			break
		}
		shift += 7
	}
	return v
}

func (r *wasmReader) bytes(n int) []byte {
	if n > len(r.b) {
		r.err = errors.New("truncated")
		return nil
	}
	b := r.b[:n]
	r.b = r.b[n:]
	return b
}

func (r *wasmReader) limits() {
	if r.byte()&1 == 1 {
		r.uint()
	}
	r.uint()
}

const nodeRunner = `
const { WASI } = require('node:wasi');
const fs = require('node:fs');
const [wasm, state, ...args] = process.argv.slice(2);
const env = {};
for (const k of ['TENURE_NOW', 'TENURE_PLATFORM', 'TENURE_VERSION']) if (process.env[k]) env[k] = process.env[k];
const wasi = new WASI({ version: 'preview1', args: ['validator', ...args], env, preopens: { '/state': state }, returnOnExit: true });
WebAssembly.compile(fs.readFileSync(wasm))
  .then((m) => WebAssembly.instantiate(m, wasi.getImportObject()))
  .then((i) => { process.exitCode = wasi.start(i); });
`

// commandInNode runs the command module in Node's WASI, a runtime other than
// the Go host's: init, a request, an install from stdin, status and checks,
// against a real preopened directory.
func commandInNode(t *testing.T, is *issuer, wasm string) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is required under CI: ", err)
		}
		t.Skip("node not installed")
	}
	dir := t.TempDir()
	runner := filepath.Join(dir, "run.js")
	if err := os.WriteFile(runner, []byte(nodeRunner), 0o600); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	os.Mkdir(state, 0o700)
	run := func(stdin string, want int, args ...string) string {
		t.Helper()
		cmd := exec.Command(node, append([]string{"--no-warnings", runner, wasm, state}, args...)...)
		cmd.Env = append(os.Environ(), "TENURE_NOW=2026-01-05T10:00:00Z", "TENURE_PLATFORM="+platformA)
		cmd.Stdin = strings.NewReader(stdin)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code := cmd.ProcessState.ExitCode()
		if code != want {
			t.Fatalf("node validator.wasm %s: exit %d (%v), want %d\n%s%s", strings.Join(args, " "), code, err, want, out.String(), errOut.String())
		}
		return out.String()
	}
	run("", 0, "init", "--product", "edge", "--version", "0.40.0")
	lrf := run("", 0, "request")
	id, sealed := is.license(t, lrf, "IC-1", "2026-01-05", "2027-01-05", "2026-01-05T10:00:00Z", nil)
	mustContain(t, "install in node", run(sealed, 0, "install", "-"), "installed license "+id)
	mustContain(t, "status in node", run("", 0, "status", "--json"), `"state": "licensed"`)
	run("", 0, "check", "vpn")
	run("", 1, "check", "peering")
	if entries, _ := os.ReadDir(filepath.Join(state, dirLicenses)); len(entries) != 1 || entries[0].Name() != id {
		t.Fatalf("licenses on disk: %v", entries)
	}
}
