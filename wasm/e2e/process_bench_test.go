package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// processRuns is the least number of timed `tenure check` processes: the
// budget is a median, and a median of a handful says little.
const processRuns = 15

// BenchmarkCheckProcess is `tenure check vpn` as the user runs it, a whole
// process (DESIGN.md "Budgets": <= 50 ms wall, <= 48 MiB peak RSS), on a
// licensed appliance with the compilation cache warm: the real tenure built
// by TestMain, its platform read from this machine, and a resident host of
// its own (XDG_RUNTIME_DIR is a fresh folder; the host is stopped at the
// end). The first call starts the host; the timed calls require it
// (TENURE_RESIDENT=require fails rather than run in-process), so each is
// what a call costs while the host runs.
//
// Each iteration is one process. It reports the median wall time
// (p50-ms), the largest peak RSS of those processes (peak-rss-MiB, from
// wait4's rusage), the resident host's VmRSS and VmHWM after the checks,
// and the same command in-process (TENURE_RESIDENT=off), the fallback when
// no host can be reached: inproc-p50-ms and inproc-rss-MiB.
func BenchmarkCheckProcess(b *testing.B) {
	if testing.Short() {
		b.Skip("builds and runs tenure and tenure-issuer")
	}
	work := b.TempDir()
	run := filepath.Join(work, "run")
	state := filepath.Join(work, "state")
	for _, d := range []string{run, state} {
		if err := os.Mkdir(d, 0o700); err != nil {
			b.Fatal(err)
		}
	}
	env := append(os.Environ(), "XDG_RUNTIME_DIR="+run, "TENURE_STATE="+state, "XDG_CACHE_HOME="+built.cache)
	b.Cleanup(func() { stopResident(run) })

	licenseAppliance(b, work, env)
	// Warm: the first check starts the host (and ran in-process), the next
	// ones give it the compiled module and an instance for this state.
	tenureProcess(b, env, 0, nil, "check", "vpn")
	waitResident(b, run)
	require := append(append([]string{}, env...), "TENURE_RESIDENT=require")
	for range 3 {
		tenureProcess(b, require, 0, nil, "check", "vpn")
	}

	var walls []time.Duration
	var peak int64 // KiB
	check := func() {
		wall, rss := tenureProcess(b, require, 0, nil, "check", "vpn")
		walls = append(walls, wall)
		peak = max(peak, rss)
	}
	for b.Loop() {
		check()
	}
	b.StopTimer()
	for len(walls) < processRuns {
		check()
	}
	rss, hwm := residentMemory(b, run)

	off := append(append([]string{}, env...), "TENURE_RESIDENT=off")
	var inWalls []time.Duration
	var inPeak int64
	for range 5 {
		wall, rss := tenureProcess(b, off, 0, nil, "check", "vpn")
		inWalls = append(inWalls, wall)
		inPeak = max(inPeak, rss)
	}

	b.ReportMetric(float64(len(walls)), "runs")
	b.ReportMetric(median(walls), "p50-ms")
	b.ReportMetric(float64(slices.Max(walls).Microseconds())/1e3, "max-ms")
	b.ReportMetric(float64(peak)/1024, "peak-rss-MiB")
	b.ReportMetric(rss, "resident-rss-MiB")
	b.ReportMetric(hwm, "resident-hwm-MiB")
	b.ReportMetric(median(inWalls), "inproc-p50-ms")
	b.ReportMetric(float64(inPeak)/1024, "inproc-rss-MiB")
}

// licenseAppliance makes the state in env a licensed appliance: the issuer
// TestMain built, serving on loopback with the key the validator trusts,
// orders a contract and answers the appliance's request with a license,
// which the appliance installs. The issuer is stopped before the checks.
func licenseAppliance(b *testing.B, work string, env []string) {
	b.Helper()
	data := filepath.Join(work, "issuer")
	if err := os.Mkdir(data, 0o700); err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"issuer.key", "issuer.pass", "issuer.pub"} {
		bs, err := os.ReadFile(filepath.Join(built.keys, name))
		if err == nil {
			err = os.WriteFile(filepath.Join(data, name), bs, 0o600)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	const admin = "e2e-admin-token-0123456789"
	url, stop, err := startIssuer(data, admin, time.Now().UTC().Format(time.RFC3339), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	call := func(method, path string, body any, want int) map[string]any {
		b.Helper()
		return apiCall(b, url, method, path, admin, body, want)
	}
	call("PUT", "/v1/contracts/IC-BENCH", map[string]any{
		"customer": "ACME Networks", "product": "edge", "tier": "pro", "kind": "commercial",
		"features": []string{"monitoring", "scion", "vpn"}, "limits": map[string]int64{"vpn_users": 100},
		"appliances": 1, "term_months": 12, "change": "order", "status": "active"}, 201)
	tenureProcess(b, env, 0, nil, "init", "--product", "edge", "--version", "0.40.0")
	lrf := tenureOutput(b, env, nil, "request")
	act := call("POST", "/v1/activations", map[string]any{"contract": "IC-BENCH", "request": lrf}, 201)
	license, _ := act["license"].(string)
	tenureProcess(b, env, 0, []byte(license), "install", "-")
	if out := tenureOutput(b, env, nil, "check", "vpn"); !strings.Contains(out, "allowed") || strings.Contains(out, "trial") {
		b.Fatalf("check vpn on the licensed appliance: %q", out)
	}
}

// tenureProcess runs the built tenure with env and returns its wall time
// and peak RSS in KiB, failing unless it exits with want.
func tenureProcess(b *testing.B, env []string, want int, stdin []byte, args ...string) (time.Duration, int64) {
	b.Helper()
	cmd := exec.Command(filepath.Join(built.bin, "tenure"), args...)
	cmd.Env = env
	cmd.Stdin = bytes.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		b.Fatal(err)
	}
	if code != want {
		b.Fatalf("tenure %s: exit %d, want %d\n%s", strings.Join(args, " "), code, want, out.Bytes())
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		b.Fatal("no rusage for the tenure process")
	}
	return wall, ru.Maxrss // KiB on Linux
}

func tenureOutput(b *testing.B, env []string, stdin []byte, args ...string) string {
	b.Helper()
	cmd := exec.Command(filepath.Join(built.bin, "tenure"), args...)
	cmd.Env = env
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("tenure %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return string(out)
}

// waitResident waits for the resident host's socket in dir.
func waitResident(b *testing.B, dir string) {
	b.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "tenure.sock")); err == nil {
			return
		}
		if time.Now().After(deadline) {
			b.Fatal("the first call started no resident host")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// residentMemory reads VmRSS and VmHWM, in MiB, of the resident host whose
// socket is in dir.
func residentMemory(b *testing.B, dir string) (rss, hwm float64) {
	b.Helper()
	lock, err := os.ReadFile(filepath.Join(dir, "tenure.sock.lock"))
	if err != nil {
		b.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(lock)))
	if err != nil {
		b.Fatalf("the resident host's lock file holds %q, not its pid", lock)
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	found := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, _ := strings.Cut(sc.Text(), ":")
		kib, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 64)
		switch {
		case err != nil:
		case name == "VmRSS":
			rss, found = kib/1024, found+1
		case name == "VmHWM":
			hwm, found = kib/1024, found+1
		}
	}
	if found != 2 {
		b.Fatalf("/proc/%d/status has no VmRSS and VmHWM", pid)
	}
	return rss, hwm
}

// median returns the median of ds in milliseconds.
func median(ds []time.Duration) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return float64(m.Microseconds()) / 1e3
}
