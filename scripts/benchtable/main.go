// Command benchtable reads the output of `go test -bench` and prints the
// performance table of make bench: each row of DESIGN.md "Budgets" with what
// the benchmarks measured, the budget and whether it is met.
//
//	go test -run '^$' -bench . ./validator/ ./wasm/ | tee raw.txt
//	go run ./scripts/benchtable raw.txt > results.md
//
// With -count N each value is the median of the N runs. A row whose
// benchmark did not run says "not run".
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

const usage = `usage: benchtable [RAW]

Reads go test -bench output from RAW (default stdin) and prints the
performance table as Markdown.

Example:
  go test -run '^$' -bench . -count 3 ./wasm/ > raw.txt
  go run ./scripts/benchtable raw.txt
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	in := stdin
	switch {
	case len(args) == 1 && !strings.HasPrefix(args[0], "-"):
		f, err := os.Open(args[0])
		if err != nil {
			fmt.Fprintln(stderr, "benchtable:", err)
			return 1
		}
		defer f.Close()
		in = f
	case len(args) > 0:
		fmt.Fprint(stderr, usage)
		return 2
	}
	res, err := parse(in)
	if err != nil {
		fmt.Fprintln(stderr, "benchtable:", err)
		return 1
	}
	io.WriteString(stdout, table(res))
	return 0
}

// results holds every value reported, by benchmark name (without the
// -GOMAXPROCS suffix) and unit, plus the machine the run names.
type results struct {
	values map[string]map[string][]float64
	cpu    string
	procs  string
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-(\d+))?\s+(\d+)\s+(.*)$`)

func parse(r io.Reader) (*results, error) {
	res := &results{values: map[string]map[string][]float64{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if cpu, ok := strings.CutPrefix(line, "cpu: "); ok {
			res.cpu = cpu
			continue
		}
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if m[2] != "" {
			res.procs = m[2]
		}
		f := strings.Fields(m[4])
		units := res.values[m[1]]
		if units == nil {
			units = map[string][]float64{}
			res.values[m[1]] = units
		}
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("bad value %q in %q", f[i], line)
			}
			units[f[i+1]] = append(units[f[i+1]], v)
		}
	}
	return res, sc.Err()
}

// get returns the median of a benchmark's values in unit.
func (r *results) get(bench, unit string) (float64, bool) {
	vs := slices.Clone(r.values[bench][unit])
	if len(vs) == 0 {
		return 0, false
	}
	slices.Sort(vs)
	if n := len(vs); n%2 == 0 {
		return (vs[n/2-1] + vs[n/2]) / 2, true
	}
	return vs[len(vs)/2], true
}

// A row is one line of the table. value returns the measured value in the
// row's display unit; max (or min) is the budget in that unit, 0 for none.
type row struct {
	what  string
	bench string // the benchmarks, as the table names them
	value func(*results) (float64, bool)
	unit  string
	prec  int // decimals shown
	max   float64
	min   float64
	note  func(*results) string
}

func metric(bench, unit string, scale float64) func(*results) (float64, bool) {
	return func(r *results) (float64, bool) {
		v, ok := r.get(bench, unit)
		return v * scale, ok
	}
}

func ratio(a, b func(*results) (float64, bool)) func(*results) (float64, bool) {
	return func(r *results) (float64, bool) {
		x, ok1 := a(r)
		y, ok2 := b(r)
		if !ok1 || !ok2 || y == 0 {
			return 0, false
		}
		return x / y, true
	}
}

func (row row) format(v float64, prec int) string {
	return strconv.FormatFloat(v, 'f', prec, 64) + " " + row.unit
}

// noteOf formats further values of the run for the note column; a value
// that is missing is left out.
func noteOf(format string, parts ...func(*results) (float64, bool)) func(*results) string {
	return func(r *results) string {
		args := make([]any, len(parts))
		for i, p := range parts {
			v, ok := p(r)
			if !ok {
				return ""
			}
			args[i] = v
		}
		return fmt.Sprintf(format, args...)
	}
}

const (
	ns2us = 1e-3
	ns2ms = 1e-6
	ns2s  = 1e-9
	b2mib = 1.0 / (1 << 20)
)

// rows are the table: every row of DESIGN.md "Budgets" with its budget,
// and beside them the figures that explain them (no budget). A budget here
// is DESIGN's; change both together.
var rows = []row{
	{what: "feature check, warm reactor instance (enters the module), p50", bench: "Check",
		value: metric("BenchmarkCheck", "p50-ns", ns2us), unit: "µs", prec: 2, max: 5,
		note: noteOf("mean %.2f µs, p99 %.2f µs", metric("BenchmarkCheck", "ns/op", ns2us), metric("BenchmarkCheck", "p99-ns", ns2us))},
	{what: "feature check answered by the host from the module's hold / native engine (p50)", bench: "CheckHeld ÷ CheckNative",
		value: ratio(metric("BenchmarkCheckHeld", "p50-ns", 1), metric("BenchmarkCheckNative", "p50-ns", 1)), unit: "x", prec: 2, max: 2,
		note: noteOf("held p50 %.3f µs (mean %.3f µs, the module's share included), native p50 %.3f µs",
			metric("BenchmarkCheckHeld", "p50-ns", ns2us), metric("BenchmarkCheckHeld", "ns/op", ns2us), metric("BenchmarkCheckNative", "p50-ns", ns2us))},
	{what: "feature check, one tenure_call, p50", bench: "CheckReactor",
		value: metric("BenchmarkCheckReactor", "p50-ns", ns2us), unit: "µs", prec: 2,
		note: func(*results) string { return "the module alone: no host lock, no host JSON" }},
	{what: "feature check, native engine, p50", bench: "CheckNative",
		value: metric("BenchmarkCheckNative", "p50-ns", ns2us), unit: "µs", prec: 3,
		note: noteOf("mean %.3f µs", metric("BenchmarkCheckNative", "ns/op", ns2us))},
	{what: "`tenure check vpn` as a whole process, cache warm, median wall", bench: "CheckProcess",
		value: metric("BenchmarkCheckProcess", "p50-ms", 1), unit: "ms", prec: 1, max: 50,
		note: noteOf("%.0f runs through the resident host, slowest %.1f ms; in-process (TENURE_RESIDENT=off): median %.0f ms",
			metric("BenchmarkCheckProcess", "runs", 1), metric("BenchmarkCheckProcess", "max-ms", 1), metric("BenchmarkCheckProcess", "inproc-p50-ms", 1))},
	{what: "`tenure check vpn` as a whole process, peak RSS", bench: "CheckProcess",
		value: metric("BenchmarkCheckProcess", "peak-rss-MiB", 1), unit: "MiB", prec: 1, max: 48,
		note: noteOf("the largest of the runs (wait4 rusage); in-process: %.1f MiB", metric("BenchmarkCheckProcess", "inproc-rss-MiB", 1))},
	{what: "resident host RSS with one state", bench: "CheckProcess",
		value: metric("BenchmarkCheckProcess", "resident-rss-MiB", 1), unit: "MiB", prec: 1, max: 64,
		note: noteOf("VmRSS after the checks; VmHWM %.1f MiB", metric("BenchmarkCheckProcess", "resident-hwm-MiB", 1))},
	{what: "install (verify + open) in wasm", bench: "Install",
		value: metric("BenchmarkInstall", "ns/op", ns2ms), unit: "ms", prec: 2, max: 4,
		note: noteOf("%.1fx native", ratio(metric("BenchmarkInstall", "ns/op", 1), metric("BenchmarkInstallNative", "ns/op", 1)))},
	{what: "install (verify + open), native", bench: "InstallNative",
		value: metric("BenchmarkInstallNative", "ns/op", ns2ms), unit: "ms", prec: 2},
	{what: "first compile of the reactor in wazero", bench: "Compile",
		value: metric("BenchmarkCompile", "ns/op", ns2s), unit: "s", prec: 2, max: 8},
	{what: "cached load of the reactor in wazero (Open)", bench: "Load",
		value: metric("BenchmarkLoad", "ns/op", ns2ms), unit: "ms", prec: 1, max: 100,
		note: func(*results) string { return "disk compilation cache + one instance" }},
	{what: "instantiate one more instance", bench: "Instantiate",
		value: metric("BenchmarkInstantiate", "ns/op", ns2ms), unit: "ms", prec: 2,
		note: noteOf("%.1f MiB linear memory when started", metric("BenchmarkInstantiate", "MiB", 1))},
	{what: "reactor size", bench: "ReactorSize",
		value: metric("BenchmarkReactorSize", "bytes", b2mib), unit: "MiB", prec: 2, max: 8,
		note: noteOf("%.2f MiB gzip; test build, unstripped", metric("BenchmarkReactorSize", "gzip-bytes", b2mib))},
	{what: "live instance memory after install and checks", bench: "Check",
		value: metric("BenchmarkCheck", "MiB", 1), unit: "MiB", prec: 1, max: 16,
		note: func(*results) string { return "linear memory of the instance at work" }},
	{what: "live instance memory after the largest request it accepts", bench: "LargestRequest",
		value: metric("BenchmarkLargestRequest", "MiB", 1), unit: "MiB", prec: 1, max: 16,
		note: noteOf("`install -` with a request just under 1 MiB, refused as no license: %.1f ms", metric("BenchmarkLargestRequest", "ns/op", ns2ms))},
	{what: "command module `status --json`, wazero", bench: "StatusCommand",
		value: metric("BenchmarkStatusCommand", "ns/op", ns2ms), unit: "ms", prec: 1,
		note: func(*results) string { return "cached compile, new instance, state read and verified" }},
	{what: "command module `status --json`, Node", bench: "StatusNode",
		value: metric("BenchmarkStatusNode", "ns/op", ns2ms), unit: "ms", prec: 0,
		note: func(*results) string { return "a node process: start, compile, run" }},
	{what: "issuer activations, local server with bbolt, loopback", bench: "Activations",
		value: metric("BenchmarkActivations", "activations/s", 1), unit: "/s", prec: 0, min: 2000,
		note: noteOf("%.0f keep-alive clients; p50 %.1f ms", metric("BenchmarkActivations", "clients", 1), metric("BenchmarkActivations", "p50-ms", 1))},
	{what: "issuer activation latency p99", bench: "Activations",
		value: metric("BenchmarkActivations", "p99-ms", 1), unit: "ms", prec: 1, max: 15},
	{what: "issuer activation p50, grown contract / empty", bench: "ActivationGrowth",
		value: metric("BenchmarkActivationGrowth", "growth-x", 1), unit: "x", prec: 2, max: 1.5,
		note: noteOf("p50 empty %.2f ms, 1,000 licenses %.2f ms, after 1,000 reissues %.2f ms",
			metric("BenchmarkActivationGrowth", "empty-p50-ms", 1), metric("BenchmarkActivationGrowth", "licenses-p50-ms", 1),
			metric("BenchmarkActivationGrowth", "reissues-p50-ms", 1))},
	{what: "issuer list page on the grown contract, largest", bench: "ActivationGrowth",
		value: metric("BenchmarkActivationGrowth", "page-KiB", 1), unit: "KiB", prec: 1, max: 256,
		note: func(*results) string {
			return "first page at ?limit=500 of the contract view, its ledger, the anomalies and the contracts"
		}},
	{what: "issuer on a Lambda Runtime API, cold first invoke", bench: "LambdaCold",
		value: metric("BenchmarkLambdaCold", "ns/op", ns2ms), unit: "ms", prec: 1, max: 30,
		note: noteOf("as the SAM template deploys it: a KMS key (no scrypt at start), DynamoDB (not reached by GET /healthz), its GC settings; process start to first answer: init %.1f ms + first invoke %.1f ms",
			metric("BenchmarkLambdaCold", "init-ms", 1), metric("BenchmarkLambdaCold", "first-invoke-ms", 1))},
	{what: "issuer on a Lambda Runtime API, warm invoke", bench: "LambdaWarm",
		value: metric("BenchmarkLambdaWarm", "ns/op", ns2ms), unit: "ms", prec: 2, max: 2,
		note: noteOf("p99 %.2f ms", metric("BenchmarkLambdaWarm", "p99-ms", 1))},
}

func table(r *results) string {
	var b strings.Builder
	b.WriteString("| what | measured | budget | met | benchmark | note |\n|---|---|---|---|---|---|\n")
	for _, row := range rows {
		measured, budget, met, note := "not run", "—", "—", ""
		switch {
		case row.max > 0:
			budget = "<= " + row.format(row.max, -1)
		case row.min > 0:
			budget = ">= " + row.format(row.min, -1)
		}
		if v, ok := row.value(r); ok {
			measured = row.format(v, row.prec)
			switch {
			case row.max > 0 && v <= row.max, row.min > 0 && v >= row.min:
				met = "yes"
			case row.max > 0 || row.min > 0:
				met = "**no**"
			}
			if row.note != nil {
				note = row.note(r)
			}
		} else if budget != "—" {
			met = "not run"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", row.what, measured, budget, met, row.bench, note)
	}
	if r.cpu != "" {
		fmt.Fprintf(&b, "\n%s, GOMAXPROCS %s.\n", r.cpu, r.procs)
	}
	return b.String()
}
