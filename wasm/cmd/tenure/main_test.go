package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/tenurehq/tenure/shared/engine"
	"github.com/tenurehq/tenure/wasm"
	"github.com/tenurehq/tenure/wasm/internal/guest"
)

func TestMain(m *testing.M) {
	testscript.Main(cleanup{m}, map[string]func(){
		"tenure": func() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// cleanup removes the modules built for the test binary once every test
// that runs them is done.
type cleanup struct{ m *testing.M }

func (c cleanup) Run() int {
	code := c.m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	return code
}

// buildModule builds the reactor once for the test binary, trusting an
// issuer key made on the spot; a failed build fails the test.
func buildModule(t *testing.T) {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "tenure-cli-test-")
		if buildErr == nil {
			guests, buildErr = guest.Build(buildDir, guest.Reactor)
		}
	})
	if buildErr != nil {
		t.Fatalf("the validator module did not build: %v", buildErr)
	}
}

var (
	buildOnce sync.Once
	guests    *guest.Set
	buildErr  error
	buildDir  string
)

// TestScript runs the scripts in testdata/script: the tenure CLI over the
// reactor built for this test binary, with an issuer key made on the spot.
func TestScript(t *testing.T) {
	buildModule(t)
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv(wasm.EnvModule, guests.Paths[guest.Reactor])
			// In process: the test binary is no resident host (wasm/e2e
			// runs the real one).
			env.Setenv(wasm.EnvResident, "off")
			// One compilation cache for every command of the run: the
			// first compiles the module, the rest load it.
			env.Setenv("XDG_CACHE_HOME", filepath.Join(buildDir, "cache"))
			env.Setenv("TENURE_STATE", filepath.Join(env.WorkDir, "state"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"issue":   issueCmd,
			"jsonget": jsongetCmd,
		},
	})
}

// issueCmd plays the issuer: issue [flags] LRF LICENSE reads an LRF and
// writes a license sealed to the appliance that made it.
func issueCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! issue")
	}
	fs := flag.NewFlagSet("issue", flag.ContinueOnError)
	var g guest.Grant
	from := fs.String("from", "2026-01-05", "first day of the window")
	until := fs.String("until", "2027-01-05", "end of the window")
	issued := fs.String("issued", "", "when the license was issued (default: from)")
	features := fs.String("features", "scion,vpn", "comma-separated features")
	limits := fs.String("limits", "vpn_users=250", "comma-separated NAME=N")
	fs.StringVar(&g.ID, "id", "L-000001", "license id")
	fs.StringVar(&g.Contract, "contract", "IC-1042", "contract id")
	fs.StringVar(&g.Tier, "tier", "pro", "tier")
	fs.StringVar(&g.Kind, "kind", engine.KindCommercial, "kind")
	fs.StringVar(&g.Reason, "reason", engine.ReasonInitial, "reason")
	fs.StringVar(&g.MinVersion, "min-version", "", "least software version")
	fs.StringVar(&g.MaxVersion, "max-version", "", "greatest software version")
	fs.BoolVar(&g.Old, "old-key", false, "sign with the retired key (not-after "+guest.OldKeyNotAfter+")")
	fs.BoolVar(&g.Tamper, "tamper", false, "change the license after signing")
	if err := fs.Parse(args); err != nil || fs.NArg() != 2 {
		ts.Fatalf("usage: issue [flags] LRF LICENSE (%v)", err)
	}
	var err error
	for _, d := range []struct {
		s string
		t *time.Time
	}{{*from, &g.From}, {*until, &g.Until}, {*issued, &g.Issued}} {
		if d.s != "" {
			*d.t, err = engine.ParseInstant(d.s)
			ts.Check(err)
		}
	}
	g.Features = strings.Split(*features, ",")
	g.Limits = map[string]int64{}
	for _, kv := range strings.Split(*limits, ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseInt(v, 10, 64)
		ts.Check(err)
		g.Limits[k] = n
	}
	lic, err := guests.License([]byte(ts.ReadFile(fs.Arg(0))), g)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(fs.Arg(1)), lic, 0o600))
}

// jsongetCmd checks a value in the JSON the last command printed:
// jsonget PATH WANT, where PATH is dotted keys and list indexes
// (clock.rolled_back, licenses.0.standing; len() counts: licenses.len()) and WANT is the value as JSON
// prints it, strings without quotes.
func jsongetCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: jsonget PATH WANT")
	}
	var v any
	if err := json.Unmarshal([]byte(ts.ReadFile("stdout")), &v); err != nil {
		ts.Fatalf("stdout is not JSON: %v", err)
	}
	for _, key := range strings.Split(args[0], ".") {
		if key == "len()" {
			switch x := v.(type) {
			case []any:
				v = float64(len(x))
			case map[string]any:
				v = float64(len(x))
			default:
				ts.Fatalf("%s: len() counts a list or an object, not %T", args[0], v)
			}
			continue
		}
		switch x := v.(type) {
		case map[string]any:
			v = x[key]
		case []any:
			i, err := strconv.Atoi(key)
			if err != nil || i < 0 || i >= len(x) {
				ts.Fatalf("%s: no element %s in a list of %d", args[0], key, len(x))
			}
			v = x[i]
		default:
			ts.Fatalf("%s: %s is not inside an object or a list", args[0], key)
		}
	}
	got := fmt.Sprint(v)
	if b, err := json.Marshal(v); err == nil && !isString(v) {
		got = string(b)
	}
	if (got == args[1]) == neg {
		ts.Fatalf("%s is %s; want %s%s", args[0], got, map[bool]string{true: "not "}[neg], args[1])
	}
}

func isString(v any) bool { _, ok := v.(string); return ok }
