package validator

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenurehq/tenure/shared/engine"
)

// The native side of the performance table (make bench): the same calls the
// wasm package's benchmarks make through the reactor, run by this package
// compiled for the host, so the table can show what wasm costs.

// licensedAppliance makes a state with one license valid now, on the real
// clock, and returns a warm appliance over it, the issuer and the LRF the
// license was made for.
func licensedAppliance(b *testing.B) (*Appliance, *issuer, string, env) {
	is := newIssuer(b, "tenure-issuer-test")
	cfg := &Config{Dir: b.TempDir(), Trust: is.trust(b, ""), Product: edge(b)}
	e := env{platform: platformA}
	run := func(stdin string, args ...string) Response {
		r := Run(cfg, Request{Args: args, Env: e.vars(), Stdin: stdin})
		if r.Exit != 0 {
			b.Fatalf("tenure %v: exit %d: %s", args, r.Exit, r.Stderr)
		}
		return r
	}
	run("", "init", "--product", "edge", "--version", "0.40.0")
	lrf := run("", "request").Stdout
	now := engine.Normalize(time.Now())
	_, sealed := is.license(b, lrf, "IC-1", now.Add(-engine.Day).Format(engine.TimeFormat),
		now.Add(365*engine.Day).Format(engine.TimeFormat), now.Add(-time.Minute).Format(engine.TimeFormat), nil)
	run(sealed, "install", "-")
	a := New(cfg)
	b.Cleanup(func() { a.Close() })
	if r := a.Run(Request{Args: []string{"check", "vpn"}, Env: e.vars()}); r.Exit != 0 {
		b.Fatalf("check vpn: %+v", r)
	}
	return a, is, lrf, e
}

// BenchmarkCheckNative is a feature check on a warm appliance: the native
// side of the reactor's BenchmarkCheck.
func BenchmarkCheckNative(b *testing.B) {
	a, _, _, e := licensedAppliance(b)
	req := Request{Args: []string{"check", "vpn"}, Env: e.vars()}
	before := a.CryptoOps()
	var lat latencies
	for b.Loop() {
		start := time.Now()
		r := a.Run(req)
		lat.add(time.Since(start))
		if r.Exit != 0 {
			b.Fatalf("check vpn: %+v", r)
		}
	}
	lat.report(b)
	if n := a.CryptoOps() - before; n != 0 {
		b.Fatalf("warm checks did %d crypto operations", n)
	}
}

// BenchmarkInstallNative opens and verifies one license per iteration: the
// native side of the reactor's BenchmarkInstall. Each iteration installs
// other bytes of the license already installed, so it is opened and
// verified (no cache knows the bytes) and then refused, since the history
// names the file installed under that id: nothing is written.
func BenchmarkInstallNative(b *testing.B) {
	a, is, lrf, e := licensedAppliance(b)
	now := engine.Normalize(time.Now())
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		issued := now.Add(-time.Duration(i) * time.Second).Format(engine.TimeFormat)
		is.n = 0 // the same license id every time
		_, sealed := is.license(b, lrf, "IC-1", now.Add(-engine.Day).Format(engine.TimeFormat),
			now.Add(365*engine.Day).Format(engine.TimeFormat), issued, nil)
		ops := a.CryptoOps()
		b.StartTimer()
		r := a.Run(Request{Args: []string{"install", "-"}, Env: e.vars(), Stdin: sealed})
		b.StopTimer()
		if r.Exit != 1 || !strings.Contains(r.Stderr, "another file of license") || a.CryptoOps() != ops+1 {
			b.Fatalf("install: %+v, %d crypto operations", r, a.CryptoOps()-ops)
		}
		b.StartTimer()
	}
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
