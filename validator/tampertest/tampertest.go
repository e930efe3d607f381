// Package tampertest is the tamper matrix of the validator's state: it
// builds appliance states in every mode, edits their files in every way a
// person with a shell can (delete, empty, truncate, flip a byte, replace
// with another appliance's file, with a symlink, with an older copy, delete
// any subset of a directory), and holds the status after each edit to the
// status before: never better. The validator's own tests run it natively and
// the host's tests run it through the real wasm module, so both answer the
// same.
package tampertest

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tenurehq/tenure/shared/engine"
)

// A Runner runs one validator invocation (the CLI words) over the state
// directory dir, as the command module or a fresh reactor instance does.
type Runner func(dir string, args []string, env map[string]string, stdin string) Result

// Result is what one invocation printed and its exit code.
type Result struct {
	Exit           int
	Stdout, Stderr string
}

// Platforms the scenarios run on.
const (
	PlatformA = `{"machine_id":"m-aaaa","dmi_uuid":"u-aaaa","mac:eth0":"52:54:00:00:00:0a"}`
	PlatformB = `{"machine_id":"m-bbbb","dmi_uuid":"u-bbbb","mac:eth0":"52:54:00:00:00:0b"}`
)

// A Scenario is one appliance state and the instant to judge it at.
type Scenario struct {
	Name    string
	Dir     string
	Env     map[string]string
	Earlier []string // copies of the state along the way, oldest first
}

func envAt(now, platform string) map[string]string {
	return map[string]string{"TENURE_NOW": now, "TENURE_PLATFORM": platform}
}

// builder makes one scenario's state, step by step.
type builder struct {
	t      testing.TB
	run    Runner
	signer note.Signer
	root   string
	sc     *Scenario
	lrf    string
	n      int
}

func (b *builder) do(now string, stdin string, want int, args ...string) Result {
	b.t.Helper()
	r := b.run(b.sc.Dir, args, envAt(now, PlatformA), stdin)
	if r.Exit != want {
		b.t.Fatalf("%s: tenure %s: exit %d, want %d: %s", b.sc.Name, strings.Join(args, " "), r.Exit, want, r.Stderr)
	}
	b.keep()
	return r
}

// keep saves a copy of the state as it is now.
func (b *builder) keep() {
	b.t.Helper()
	dst := filepath.Join(b.root, fmt.Sprintf("%s.%d", b.sc.Name, len(b.sc.Earlier)))
	CopyDir(b.t, b.sc.Dir, dst)
	b.sc.Earlier = append(b.sc.Earlier, dst)
}

// install makes a license for the scenario's appliance, signed by the
// issuer and sealed to it, and installs it.
func (b *builder) install(now, contract, from, until string, edit func(*engine.License)) string {
	b.t.Helper()
	if b.lrf == "" {
		b.lrf = b.do(now, "", 0, "request").Stdout
	}
	req, _, err := engine.OpenRequest([]byte(b.lrf))
	if err != nil {
		b.t.Fatal(err)
	}
	b.n++
	at := func(s string) time.Time {
		v, err := engine.ParseInstant(s)
		if err != nil {
			b.t.Fatal(err)
		}
		return v
	}
	l := &engine.License{ID: fmt.Sprintf("L-%s%02d", strings.ToLower(strings.ReplaceAll(b.sc.Name, "-", ""))[:4], b.n), Contract: contract,
		Revision: b.n, Customer: "ACME", Product: req.Product, Tier: "pro", Kind: engine.KindCommercial, Appliance: req.Appliance,
		Platform: req.Platform, DeviceKeyHash: engine.KeyHash(req.DeviceKey), Features: []string{"scion", "vpn"},
		Limits: map[string]int64{"vpn_users": 250}, From: at(from), Until: at(until), GraceDays: 90, MinVersion: "0.38.0",
		Reason: engine.ReasonInitial, Issued: at(now), Head: req.History.LicenseHead()}
	if edit != nil {
		edit(l)
	}
	signed, err := engine.SignLicense(l, b.signer)
	if err != nil {
		b.t.Fatal(err)
	}
	sealed, err := engine.Seal(signed, req.Recipient)
	if err != nil {
		b.t.Fatal(err)
	}
	b.do(now, string(sealed), 0, "install", "-")
	return l.ID
}

// Scenarios builds, under root, the states the matrix edits: a trial, a
// licensed appliance, one in grace, one restricted after grace, one that
// released its seat (which the vendor then gave to another appliance), one
// upgraded then downgraded, a base license with an addon, and one whose
// clock ran to 2099 once and was reset by the vendor. The last
// scenario returned is another appliance's licensed state, whose files
// replace the others' in the matrix.
func Scenarios(t testing.TB, run Runner, signer note.Signer, root string) []Scenario {
	t.Helper()
	var out []Scenario
	add := func(name, at string, steps func(b *builder)) {
		t.Helper()
		sc := &Scenario{Name: name, Dir: filepath.Join(root, name), Env: envAt(at, PlatformA)}
		if err := os.MkdirAll(sc.Dir, 0o700); err != nil {
			t.Fatal(err)
		}
		b := &builder{t: t, run: run, signer: signer, root: root, sc: sc}
		b.do("2026-01-05T10:00:00Z", "", 0, "init", "--product", "edge", "--version", "0.40.0")
		steps(b)
		out = append(out, *sc)
	}
	licensed := func(b *builder) {
		b.do("2026-01-06T09:00:00Z", "", 0, "first-use")
		b.install("2026-01-07T10:00:00Z", "IC-1", "2026-01-06", "2027-01-06", nil)
	}
	add("trial", "2026-01-10T00:00:00Z", func(b *builder) {})
	add("licensed", "2026-03-01T00:00:00Z", licensed)
	add("grace", "2027-02-01T00:00:00Z", licensed)
	add("restricted-after-grace", "2027-05-01T00:00:00Z", licensed)
	add("released", "2026-03-01T00:00:00Z", func(b *builder) {
		licensed(b)
		b.do("2026-02-01T00:00:00Z", "", 0, "release", b.sc.licenseID(t, 1))
	})
	add("upgraded-then-downgraded", "2026-04-01T00:00:00Z", func(b *builder) {
		l1 := b.install("2026-01-07T10:00:00Z", "IC-1", "2026-01-06", "2027-01-06", nil)
		l2 := b.install("2026-02-01T10:00:00Z", "IC-1", "2026-02-01", "2027-01-06", func(l *engine.License) {
			l.Reason, l.Features, l.Limits = engine.ReasonUpgrade, []string{"peering", "scion", "vpn"}, map[string]int64{"vpn_users": 500, "peering_tunnels": 50}
		})
		b.install("2026-03-01T10:00:00Z", "IC-1", "2026-03-01", "2027-01-06", func(l *engine.License) {
			l.Reason, l.Tier, l.Features, l.Limits = engine.ReasonDowngrade, "lite", []string{"scion"}, map[string]int64{"vpn_users": 25}
			l.Supersedes = []string{l1, l2}
		})
	})
	add("base-and-addon", "2026-03-01T00:00:00Z", func(b *builder) {
		licensed(b)
		b.install("2026-01-08T10:00:00Z", "IC-2", "2026-01-08", "2027-01-06", func(l *engine.License) {
			l.Kind, l.Features, l.Limits = engine.KindAddon, []string{"peering"}, map[string]int64{"vpn_users": 100, "peering_tunnels": 10}
		})
	})
	add("clock-reset", "2026-03-01T00:00:00Z", func(b *builder) {
		licensed(b)
		b.do("2099-06-01T00:00:00Z", "", 0, "status") // one run with the clock far ahead
		b.reset("2026-03-01T00:00:00Z", b.do("2026-03-01T00:00:00Z", "", 0, "request").Stdout)
	})
	add("reported", "2026-03-01T00:00:00Z", func(b *builder) {
		licensed(b)
		b.do("2026-02-01T00:00:00Z", "", 0, "check", "--limit", "vpn_users", "70")
		b.do("2026-02-02T00:00:00Z", "", 0, "report")
		b.do("2026-02-03T00:00:00Z", "", 0, "check", "vpn")
	})
	add("other-appliance", "2026-03-01T00:00:00Z", licensed)
	return out
}

// reset answers lrf with a clock reset to now, signed by the issuer, and
// installs it.
func (b *builder) reset(now, lrf string) {
	b.t.Helper()
	req, _, err := engine.OpenRequest([]byte(lrf))
	if err != nil {
		b.t.Fatal(err)
	}
	mark, err := engine.ParseInstant(now)
	if err != nil {
		b.t.Fatal(err)
	}
	text, err := engine.SignClockReset(&engine.ClockReset{Appliance: req.Appliance, DeviceKeyHash: engine.KeyHash(req.DeviceKey),
		Nonce: req.Nonce, Sequence: req.Sequence, Mark: mark, Reason: "host clock ran ahead", Issued: mark}, b.signer)
	if err != nil {
		b.t.Fatal(err)
	}
	b.do(now, string(text), 0, "install", "-")
}

// licenseID returns the id of the nth license the scenario installed.
func (sc *Scenario) licenseID(t testing.TB, n int) string {
	return fmt.Sprintf("L-%s%02d", strings.ToLower(strings.ReplaceAll(sc.Name, "-", ""))[:4], n)
}

// An Edit is one change to a state directory.
type Edit struct {
	Name    string
	Apply   func(dir string) error
	Symlink bool // the edit leaves a symlink inside the state: every command refuses it
	Restore bool // the edit puts back a consistent earlier history and record: a restore
}

// Edits lists every edit of the matrix for one scenario; other is another
// appliance's state whose files replace this one's.
func Edits(t testing.TB, sc Scenario, other string) []Edit {
	t.Helper()
	var edits []Edit
	outside := t.TempDir()
	files, dirs := walk(t, sc.Dir)
	for _, f := range files {
		f := f
		orig, err := os.ReadFile(filepath.Join(sc.Dir, f))
		if err != nil {
			t.Fatal(err)
		}
		put := func(b []byte) func(string) error {
			return func(dir string) error { return os.WriteFile(filepath.Join(dir, f), b, 0o600) }
		}
		edits = append(edits,
			Edit{Name: "delete " + f, Apply: func(dir string) error { return os.Remove(filepath.Join(dir, f)) }},
			Edit{Name: "empty " + f, Apply: put(nil)},
			Edit{Name: "truncate " + f, Apply: put(orig[:len(orig)/2])},
		)
		for _, at := range slices.Compact([]int{0, len(orig) / 2, max(0, len(orig)-2)}) {
			if at < len(orig) {
				b := slices.Clone(orig)
				b[at] ^= 0x01
				edits = append(edits, Edit{Name: fmt.Sprintf("flip byte %d of %s", at, f), Apply: put(b)})
			}
		}
		if b, ok := otherFile(other, f); ok {
			edits = append(edits, Edit{Name: "replace " + f + " by another appliance's", Apply: put(b)})
		}
		for i, e := range sc.Earlier {
			if b, err := os.ReadFile(filepath.Join(e, f)); err == nil && !slices.Equal(b, orig) {
				edits = append(edits, Edit{Name: fmt.Sprintf("put back %s as of step %d", f, i), Apply: put(b)})
			}
		}
		target := filepath.Join(outside, strings.ReplaceAll(f, "/", "_"))
		if err := os.WriteFile(target, orig, 0o600); err != nil {
			t.Fatal(err)
		}
		edits = append(edits, Edit{Name: "replace " + f + " by a symlink", Symlink: true, Apply: func(dir string) error {
			p := filepath.Join(dir, f)
			if err := os.Remove(p); err != nil {
				return err
			}
			return os.Symlink(target, p)
		}})
	}
	for _, d := range dirs {
		d := d
		edits = append(edits,
			Edit{Name: "delete directory " + d, Apply: func(dir string) error { return os.RemoveAll(filepath.Join(dir, d)) }},
			Edit{Name: "replace directory " + d + " by a symlink", Symlink: true, Apply: func(dir string) error {
				copyTo := filepath.Join(outside, "dir-"+d)
				CopyDir(t, filepath.Join(sc.Dir, d), copyTo)
				if err := os.RemoveAll(filepath.Join(dir, d)); err != nil {
					return err
				}
				return os.Symlink(copyTo, filepath.Join(dir, d))
			}},
		)
		var names []string
		for _, f := range files {
			if filepath.Dir(f) == d {
				names = append(names, filepath.Base(f))
			}
		}
		for _, subset := range subsets(names) {
			edits = append(edits, Edit{Name: fmt.Sprintf("delete %v from %s", subset, d), Apply: func(dir string) error {
				for _, n := range subset {
					if err := os.Remove(filepath.Join(dir, d, n)); err != nil {
						return err
					}
				}
				return nil
			}})
		}
	}
	// Additions: another appliance's license and first-wave records.
	if b, ok := otherFile(other, "licenses/"); ok {
		edits = append(edits, Edit{Name: "add another appliance's license", Apply: func(dir string) error {
			if err := os.MkdirAll(filepath.Join(dir, "licenses"), 0o700); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, "licenses", "L-added0000"), b, 0o600)
		}})
	}
	for _, name := range []string{"clock", "sequence", "receipts/IC-1.9", "trials/0000000000000000"} {
		name := name
		edits = append(edits, Edit{Name: "add a first-wave " + name, Apply: func(dir string) error {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return err
			}
			return os.WriteFile(p, []byte("{}\nmac 00\n"), 0o600)
		}})
	}
	// An earlier history with its record: a consistent restore.
	for i, e := range sc.Earlier {
		e := e
		edits = append(edits, Edit{Name: fmt.Sprintf("put back history and facts as of step %d", i), Restore: true, Apply: func(dir string) error {
			for _, f := range []string{"history", "facts"} {
				b, err := os.ReadFile(filepath.Join(e, f))
				if err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
					return err
				}
			}
			return nil
		}})
	}
	return edits
}

// subsets lists every non-empty subset of names deleted together: all of
// them for up to 10 names, else each alone and each prefix and suffix in
// name order.
func subsets(names []string) [][]string {
	slices.Sort(names)
	var out [][]string
	if len(names) <= 10 {
		for mask := 1; mask < 1<<len(names); mask++ {
			var s []string
			for i, n := range names {
				if mask&(1<<i) != 0 {
					s = append(s, n)
				}
			}
			out = append(out, s)
		}
		return out
	}
	for i := range names {
		out = append(out, names[i:i+1], names[:i+1], names[i:])
	}
	return out
}

func otherFile(other, f string) ([]byte, bool) {
	if strings.HasSuffix(f, "/") || strings.HasPrefix(f, "licenses/") {
		entries, err := os.ReadDir(filepath.Join(other, "licenses"))
		if err != nil || len(entries) == 0 {
			return nil, false
		}
		b, err := os.ReadFile(filepath.Join(other, "licenses", entries[0].Name()))
		return b, err == nil
	}
	b, err := os.ReadFile(filepath.Join(other, f))
	return b, err == nil
}

func walk(t testing.TB, root string) (files, dirs []string) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			dirs = append(dirs, rel)
		} else {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files, dirs
}

// CopyDir copies the state directory from into to.
func CopyDir(t testing.TB, from, to string) {
	t.Helper()
	if err := os.RemoveAll(to); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Status runs status --json and decodes it; ok is false when the command
// refused to answer.
func Status(t testing.TB, run Runner, dir string, env map[string]string) (*engine.Status, Result, bool) {
	t.Helper()
	r := run(dir, []string{"status", "--json"}, env, "")
	if r.Exit != 0 {
		return nil, r, false
	}
	var s engine.Status
	if err := json.Unmarshal([]byte(r.Stdout), &s); err != nil {
		t.Fatalf("status --json is not a status: %v\n%s", err, r.Stdout)
	}
	return &s, r, true
}

// NotBetter reports how got is better than base, in DESIGN's order: no state
// higher in restricted < grace < licensed, no trial regained or extended,
// no feature or limit gained, configuration changes not allowed again.
func NotBetter(base, got *engine.Status) error {
	rank := map[string]int{engine.ModeRestricted: 0, engine.ModeGrace: 1, engine.ModeLicensed: 2}
	switch {
	case got.State == engine.ModeTrial && base.State != engine.ModeTrial:
		return fmt.Errorf("a trial regained (%s before)", base.State)
	case got.State == engine.ModeTrial && got.Trial.Ends.After(base.Trial.Ends):
		return fmt.Errorf("the trial extended to %s from %s", got.Trial.Ends, base.Trial.Ends)
	case got.State != engine.ModeTrial && base.State != engine.ModeTrial && rank[got.State] > rank[base.State]:
		return fmt.Errorf("state %s, %s before", got.State, base.State)
	case got.ConfigChanges && !base.ConfigChanges:
		return fmt.Errorf("configuration changes allowed again")
	}
	all := func(fs []string) bool { return len(fs) == 1 && fs[0] == "*" }
	if !all(base.Features) {
		if all(got.Features) {
			return fmt.Errorf("every feature, %v before", base.Features)
		}
		for _, f := range got.Features {
			if !slices.Contains(base.Features, f) {
				return fmt.Errorf("feature %s gained (%v before)", f, base.Features)
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got.Limits)) {
		if got.Limits[k] > base.Limits[k] {
			return fmt.Errorf("limit %s %d, %d before", k, got.Limits[k], base.Limits[k])
		}
	}
	return nil
}

// Run runs the matrix: every edit of every scenario, each on a fresh copy
// of the state, and fails the test where an edit made the status better.
// Symlinks must be refused by name. The scenarios run in parallel, so run
// must be safe for concurrent use (and report a host failure as an exit
// code outside 0..2 rather than through a testing.T). It returns how many
// edits it tried.
func Run(t *testing.T, run Runner, scenarios []Scenario) int {
	t.Helper()
	other := scenarios[len(scenarios)-1].Dir
	var tried atomic.Int64
	t.Run("edits", func(t *testing.T) {
		for _, sc := range scenarios[:len(scenarios)-1] {
			t.Run(sc.Name, func(t *testing.T) {
				t.Parallel()
				tried.Add(int64(runScenario(t, run, sc, other)))
			})
		}
	})
	return int(tried.Load())
}

func runScenario(t *testing.T, run Runner, sc Scenario, other string) int {
	base, r, ok := Status(t, run, sc.Dir, sc.Env)
	if !ok {
		t.Fatalf("%s: the untouched state does not answer: %+v", sc.Name, r)
	}
	edits := Edits(t, sc, other)
	dir := filepath.Join(t.TempDir(), "state")
	for _, e := range edits {
		CopyDir(t, sc.Dir, dir)
		if err := e.Apply(dir); err != nil {
			t.Fatalf("%s: %s: %v", sc.Name, e.Name, err)
		}
		got, r, ok := Status(t, run, dir, sc.Env)
		switch {
		case r.Exit > 2 || r.Exit < 0:
			t.Fatalf("%s: %s: the host failed: %s", sc.Name, e.Name, r.Stderr)
		case e.Symlink:
			if ok || r.Exit != 2 || !strings.Contains(r.Stderr, "symlink") {
				t.Errorf("%s: %s: not refused: %+v", sc.Name, e.Name, r)
			}
		case !ok:
			if r.Exit != 2 {
				t.Errorf("%s: %s: status exit %d: %s", sc.Name, e.Name, r.Exit, r.Stderr)
			}
		case e.Restore:
			// A consistent earlier history with its record is a restore:
			// not detectable here, seen by the issuer at the next
			// exchange (DESIGN, Known limits).
		default:
			if err := NotBetter(base, got); err != nil {
				t.Errorf("%s: %s: %v\nbefore: %s %v %v\nafter:  %s %v %v (%s)", sc.Name, e.Name, err,
					base.State, base.Features, base.Limits, got.State, got.Features, got.Limits, got.Reason)
			}
			if !base.ConfigChanges && run(dir, []string{"check", "--config-change"}, sc.Env, "").Exit == 0 {
				t.Errorf("%s: %s: check --config-change allowed again", sc.Name, e.Name)
			}
		}
	}
	return len(edits)
}
