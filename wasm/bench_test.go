package wasm

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/tenurehq/tenure/shared/abi"
	"github.com/tenurehq/tenure/shared/engine"
	"github.com/tenurehq/tenure/wasm/internal/guest"
)

// The wasm side of the performance table (make bench, scripts/bench.sh).
// Each benchmark is one row or more; scripts/benchtable holds the budgets
// of DESIGN.md "Budgets" and reads the metrics by the names reported here.

// licensed returns a warm Validator on the real clock over a state holding
// one license valid now, the state directory, and the LRF the license was
// made for.
func licensed(b *testing.B) (*Validator, string, []byte) {
	state := b.TempDir()
	v, lrf := installed(b, state, "", grant(0))
	if ok, err := v.Check(context.Background(), "vpn"); !ok || err != nil {
		b.Fatalf("check vpn: %v, %v", ok, err)
	}
	return v, state, lrf
}

// grant is a license valid from yesterday for a year; i makes its bytes
// differ (its issue time) while its id stays the same.
func grant(i int) guest.Grant {
	now := engine.Normalize(time.Now())
	return guest.Grant{ID: "L-000001", From: now.Add(-engine.Day), Until: now.Add(365 * engine.Day),
		Issued: now.Add(-time.Minute - time.Duration(i)*time.Second)}
}

// BenchmarkReactorSize reports the size of the reactor as built by the tests
// (the release build also strips its symbols), raw and gzip-compressed; an
// iteration is one compression.
func BenchmarkReactorSize(b *testing.B) {
	reactor := module(b, guest.Reactor)
	var n int
	for b.Loop() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(reactor)
		zw.Close()
		n = buf.Len()
	}
	b.ReportMetric(float64(len(reactor)), "bytes")
	b.ReportMetric(float64(n), "gzip-bytes")
}

// BenchmarkCompile is the first compile of the reactor: a runtime with no
// compilation cache, as on the first run after an install.
func BenchmarkCompile(b *testing.B) {
	reactor := module(b, guest.Reactor)
	ctx := context.Background()
	for b.Loop() {
		rt := wazero.NewRuntime(ctx)
		if _, err := rt.CompileModule(ctx, reactor); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		rt.Close(ctx)
		b.StartTimer()
	}
}

// BenchmarkLoad is Open on a module compiled by an earlier process: the
// on-disk compilation cache, not the in-process one, then one instance
// started.
func BenchmarkLoad(b *testing.B) {
	reactor := module(b, guest.Reactor)
	// Compile once so the disk cache holds the module.
	open(b, b.TempDir(), platformA, "")
	state := b.TempDir()
	for b.Loop() {
		b.StopTimer()
		forget()
		b.StartTimer()
		v, err := Open(context.Background(), Options{State: state, Platform: plat(b, platformA), Module: reactor})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		v.Close()
		b.StartTimer()
	}
}

// forget drops the process's runtime, as a new process starts without one.
func forget() {
	compiler.mu.Lock()
	defer compiler.mu.Unlock()
	if compiler.rt != nil {
		compiler.rt.Close(context.Background())
	}
	compiler.rt, compiler.compiled = nil, nil
}

// BenchmarkInstantiate starts one more instance of the compiled reactor
// (_initialize and the ABI check) and reports its linear memory then.
func BenchmarkInstantiate(b *testing.B) {
	rt, m, err := compile(module(b, guest.Reactor))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	state := b.TempDir()
	var size uint32
	for b.Loop() {
		in, err := instantiate(ctx, rt, m, state)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		size = in.memory()
		in.close(ctx)
		b.StartTimer()
	}
	b.ReportMetric(float64(size)/(1<<20), "MiB")
}

// BenchmarkCheck is a feature check on a warm instance of a licensed
// appliance through the Go API, entering the module every time: the number
// the budget "<= 5 µs p50" is about. MiB is the instance's linear memory after the checks: the live
// memory of an instance at work.
func BenchmarkCheck(b *testing.B) { benchCheck(b, false) }

// BenchmarkCheckHeld is the same check answered by the host from the hold
// the module gave (hold.go): once a second the module is entered again, so
// the p50 is the held answer and the mean carries the module's share.
func BenchmarkCheckHeld(b *testing.B) { benchCheck(b, true) }

func benchCheck(b *testing.B, held bool) {
	ctx := context.Background()
	v, _, _ := licensed(b)
	v.noHold = !held
	var lat latencies
	for b.Loop() {
		start := time.Now()
		ok, err := v.Check(ctx, "vpn")
		lat.add(time.Since(start))
		if !ok || err != nil {
			b.Fatalf("check vpn: %v, %v", ok, err)
		}
	}
	lat.report(b)
	if held && v.heldHits == 0 {
		b.Fatal("no check was answered from a hold")
	}
	if !held {
		b.ReportMetric(float64(v.MemorySize())/(1<<20), "MiB")
	}
}

// BenchmarkCheckReactor is the same check as one tenure_call into the
// instance, without the host's side of Validator.Check (the state lock and
// the request and response JSON): what the module itself costs.
func BenchmarkCheckReactor(b *testing.B) {
	ctx := context.Background()
	v, _, _ := licensed(b)
	req := []byte(`{"args":["check","vpn"],"env":{"TENURE_PLATFORM":` + quote(v.platform) + `},"stdin":""}`)
	var lat latencies
	for b.Loop() {
		start := time.Now()
		out, err := v.live.invoke(ctx, req)
		lat.add(time.Since(start))
		if err != nil || !bytes.HasPrefix(out, []byte(`{"exit":0,`)) {
			b.Fatalf("check vpn: %s, %v", out, err)
		}
	}
	lat.report(b)
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// BenchmarkInstall is verify + open of one license in wasm. Each iteration
// installs other bytes of the license already installed (another issue
// time), so no cache knows them; the history names the file installed under
// that id, so it is refused and nothing is written.
func BenchmarkInstall(b *testing.B) {
	ctx := context.Background()
	v, _, lrf := licensed(b)
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		lic := issue(b, lrf, grant(i))
		b.StartTimer()
		out, err := v.Install(ctx, lic)
		if e, ok := err.(*Error); !ok || e.Exit != 1 || !strings.Contains(e.Message, "another file of license") {
			b.Fatalf("install: %q, %v", out, err)
		}
	}
}

// BenchmarkLargestRequest sends the live instance the largest request it
// accepts: `install -` with stdin filling the request to just under
// abi.MaxRequest (1 MiB), which the module reads and refuses as no license.
// MiB is the instance's linear memory after it, which the budget bounds
// ("live instance memory <= 16 MiB, also after the largest request the
// reactor accepts"); a check after each shows the instance still answers.
func BenchmarkLargestRequest(b *testing.B) {
	ctx := context.Background()
	v, _, _ := licensed(b)
	// The request's JSON around stdin (args, env with the platform) is far
	// under 4 KiB; stdin is ASCII, so it is as long in JSON.
	stdin := strings.Repeat("x", abi.MaxRequest-4096)
	for b.Loop() {
		r, err := v.Call(ctx, []string{"install", "-"}, stdin)
		if err != nil || r.Exit != 1 || strings.Contains(r.Stderr, "1 MiB") {
			b.Fatalf("install of %d bytes: %+v, %v", len(stdin), r, err)
		}
		if ok, err := v.Check(ctx, "vpn"); !ok || err != nil {
			b.Fatalf("check vpn after the largest request: %v, %v", ok, err)
		}
	}
	b.ReportMetric(float64(v.MemorySize())/(1<<20), "MiB")
}

// BenchmarkStatusCommand is `status --json` by the command module in
// wazero, end to end as a new tenure process runs it: the compiled code
// from the disk cache, a new instance, the state read (every license
// opened and verified) and evaluated, the status printed.
func BenchmarkStatusCommand(b *testing.B) {
	ctx := context.Background()
	_, state, _ := licensed(b)
	cmd := module(b, guest.Command)
	cache, err := wazero.NewCompilationCacheWithDir(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	run := func() []byte {
		rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache))
		defer rt.Close(ctx)
		wasi_snapshot_preview1.MustInstantiate(ctx, rt)
		m, err := rt.CompileModule(ctx, cmd)
		if err != nil {
			b.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		cfg := wazero.NewModuleConfig().WithArgs("tenure", "status", "--json").WithEnv(abi.EnvPlatform, platformA).
			WithSysWalltime().WithSysNanotime().WithRandSource(rand.Reader).
			WithFSConfig(wazero.NewFSConfig().WithDirMount(state, "/state")).WithStdout(&stdout).WithStderr(&stderr)
		_, err = rt.InstantiateModule(ctx, m, cfg)
		var exit *sys.ExitError
		if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 0) {
			b.Fatalf("status --json: %v\n%s", err, stderr.Bytes())
		}
		if !bytes.Contains(stdout.Bytes(), []byte(`"state": "licensed"`)) {
			b.Fatalf("status --json printed:\n%s%s", stdout.Bytes(), stderr.Bytes())
		}
		return stdout.Bytes()
	}
	run() // fills the compilation cache, as an earlier run of tenure did
	for b.Loop() {
		run()
	}
}

// BenchmarkStatusNode is the same `status --json` by the command module
// under Node's WASI, end to end: a node process that compiles the module,
// runs it and exits.
func BenchmarkStatusNode(b *testing.B) {
	bin, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			b.Fatal("node is not installed; the Node row of the table needs it under CI")
		}
		b.Skip("node is not installed")
	}
	_, state, _ := licensed(b)
	module(b, guest.Command)
	for b.Loop() {
		cmd := exec.Command(bin, filepath.Join("testdata", "node", "run.mjs"), guests.Paths[guest.Command], state, "status", "--json")
		cmd.Env = append(os.Environ(), abi.EnvPlatform+"="+platformA)
		out, err := cmd.CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte(`"state": "licensed"`)) {
			b.Fatalf("node status --json: %v\n%s", err, out)
		}
	}
}

// TestWarmCheckNoCrypto holds the reactor, run by wazero, to its promise: a
// warm instance answers checks without verifying a signature or decrypting
// anything. A listener counts every call of the functions that do (the
// engine's OpenLicense and OpenRelease, which the validator's CryptoOps
// counts, age's Decrypt and Ed25519's verify); they must be seen while a
// fresh instance reads the state, and never during the checks after.
func TestWarmCheckNoCrypto(t *testing.T) {
	ctx := context.Background()
	state := t.TempDir()
	v, _ := installed(t, state, day1, firstYear(t))
	v.Close()

	counts := &cryptoCounter{calls: map[string]int{}}
	in := listened(t, state, counts)
	call := func(words string) {
		t.Helper()
		args := `"` + strings.ReplaceAll(words, " ", `","`) + `"`
		req := `{"args":[` + args + `],"env":{"TENURE_NOW":"2026-01-06T10:00:00Z","TENURE_PLATFORM":` + quote(platformA) + `}}`
		out, err := in.invoke(ctx, []byte(req))
		if err != nil || !bytes.HasPrefix(out, []byte(`{"exit":0,`)) {
			t.Fatalf("%s: %s, %v", words, out, err)
		}
	}
	call("check vpn")                        // a fresh instance reads the state and opens the license
	for _, fn := range cryptoFunctions[1:] { // OpenRelease aside: no receipt here; mallocgc: reading allocates
		if counts.calls[fn] == 0 {
			t.Errorf("reading the state never called %s: the listener does not see the crypto", fn)
		}
	}
	clear(counts.calls)
	for range 200 {
		call("check vpn")
		call("check --limit vpn_users 250")
		call("check --config-change")
	}
	for fn, n := range counts.calls {
		// Three questions in turn each decode their words anew; the same
		// question again, as a host polling one feature asks it, is
		// answered without one allocation.
		if n != 0 && fn != allocate {
			t.Errorf("600 warm checks called %s %d times", fn, n)
		}
	}
	call("check vpn") // its words decoded once
	clear(counts.calls)
	for range 200 {
		call("check vpn")
	}
	if n := counts.calls[allocate]; n != 0 {
		t.Errorf("200 warm checks of one feature allocated %d times", n)
	}
}

// allocate is the Go runtime's allocator, as the reactor's name section
// names it.
const allocate = "runtime.mallocgc"

// cryptoFunctions are the functions of the reactor (as named in its name
// section) that verify a signature or decrypt.
var cryptoFunctions = []string{
	"github.com_tenurehq_tenure_shared_engine.OpenRelease",
	"github.com_tenurehq_tenure_shared_engine.OpenLicense",
	"filippo.io_age.Decrypt",
	"crypto_internal_fips140_ed25519.verify",
	// Not crypto, but dear in wasm too (about a microsecond and a share of
	// the next collection).
	allocate,
}

type cryptoCounter struct{ calls map[string]int }

func (c *cryptoCounter) NewFunctionListener(def api.FunctionDefinition) experimental.FunctionListener {
	if !slices.Contains(cryptoFunctions, def.Name()) {
		return nil
	}
	name := def.Name()
	return experimental.FunctionListenerFunc(func(context.Context, api.Module, api.FunctionDefinition, []uint64, experimental.StackIterator) {
		c.calls[name]++
	})
}

// latencies collects the time of each iteration, for the percentiles the
// budgets are written in.
type latencies []time.Duration

func (l *latencies) add(d time.Duration) { *l = append(*l, d) }

func (l latencies) report(b *testing.B) {
	if len(l) == 0 {
		return
	}
	slices.Sort(l)
	b.ReportMetric(float64(l[len(l)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(l[len(l)*99/100].Nanoseconds()), "p99-ns")
}
