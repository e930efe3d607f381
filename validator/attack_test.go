package validator

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenurehq/tenure/shared/engine"
)

// Attacks on the state found by review, each kept as a test.

// TestLostFactsAndClockBack: deleting the facts record and setting the
// clock back, then installing a license kept back since long ago, gains
// nothing: the history records each instant the mode may change at as it
// is passed, so the clock can go back only within the mode it is in.
func TestLostFactsAndClockBack(t *testing.T) {
	is, cfg, e, lrf := newAppliance(t)
	_, base := is.license(t, lrf, "IC-1", "2026-01-05", "2027-01-05", day1, nil)
	_, addon := is.license(t, lrf, "IC-2", "2026-01-05", "2026-06-01", day1, func(l *engine.License) {
		l.Kind, l.Features, l.Limits = engine.KindAddon, []string{"peering"}, map[string]int64{"vpn_users": 100}
	})
	_, kept := is.license(t, lrf, "IC-3", "2026-01-06", "2027-01-05", "2026-01-06T10:00:00Z", nil)
	cli(t, cfg, e, base, 0, "install", "-")
	cli(t, cfg, e, addon, 0, "install", "-")
	// The appliance runs through the months: each change of mode is passed.
	for _, now := range []string{"2026-03-01T00:00:00Z", "2026-07-01T00:00:00Z", "2027-02-01T00:00:00Z", "2027-05-01T00:00:00Z"} {
		cli(t, cfg, env{now: now, platform: platformA}, "", 0, "check", "vpn")
	}
	late := env{now: "2027-05-01T00:00:00Z", platform: platformA}
	before := status(t, cfg, late)
	if err := os.Remove(filepath.Join(cfg.Dir, fileFacts)); err != nil {
		t.Fatal(err)
	}
	back := env{now: "2026-02-01T00:00:00Z", platform: platformA}
	for _, when := range []string{"facts deleted, clock back", "a kept-back license installed"} {
		if when != "facts deleted, clock back" {
			cli(t, cfg, back, kept, 0, "install", "-")
		}
		s := status(t, cfg, back)
		if s.ConfigChanges || s.State != engine.ModeRestricted || len(s.Features) > len(before.Features) || s.Limits["vpn_users"] > before.Limits["vpn_users"] {
			t.Fatalf("%s: %s %v %v config %v (%s); before %s %v %v", when, s.State, s.Features, s.Limits, s.ConfigChanges, s.Reason, before.State, before.Features, before.Limits)
		}
		cli(t, cfg, back, "", 1, "check", "peering")
	}
}

// TestFirstWaveRecordPutBack: an appliance record from before the history,
// put back beside the history the migration wrote, is damage; the state is
// never migrated twice.
func TestFirstWaveRecordPutBack(t *testing.T) {
	is := newIssuer(t, "tenure-issuer-test")
	cfg := testConfig(t, is.trust(t, ""))
	fw := newFirstWave(t, cfg, day1)
	l1, s1 := is.license(t, fw.lrf, "IC-1", "2026-01-05", "2027-01-05", day1, nil)
	fw.file(t, dirLicenses+"/"+l1, s1)
	fw.put(t, fileClock, clockRecord{HighWater: day(t, day1)})
	old, err := os.ReadFile(filepath.Join(cfg.Dir, fileAppliance))
	if err != nil {
		t.Fatal(err)
	}
	e := env{now: "2026-02-01T00:00:00Z", platform: platformA}
	status(t, cfg, e) // migrates
	cli(t, cfg, e, "", 0, "release", l1)
	fw.file(t, fileAppliance, string(old))
	fw.put(t, fileClock, clockRecord{HighWater: day(t, day1)})
	s := status(t, cfg, e)
	if s.State != engine.ModeRestricted || !strings.HasPrefix(s.Reason, "state damaged") || len(s.Features) != 0 {
		t.Fatalf("first-wave records put back after the migration: %+v", s)
	}
}

// TestWarmInstanceNotFrozen: putting the generation file back does not
// freeze a warm instance on a state that has moved on, and a symlink added
// under it is refused within a second.
func TestWarmInstanceNotFrozen(t *testing.T) {
	is, cfg, e, lrf := newAppliance(t)
	id, sealed := is.license(t, lrf, "IC-1", "2026-01-05", "2027-01-05", day1, nil)
	cli(t, cfg, e, sealed, 0, "install", "-")
	a := New(cfg)
	defer a.Close()
	expect(t, a.Run(Request{Args: []string{"check", "vpn"}, Env: e.vars()}), 0, nil)
	gen, err := os.ReadFile(filepath.Join(cfg.Dir, fileGeneration))
	if err != nil {
		t.Fatal(err)
	}
	cli(t, cfg, e, "", 0, "release", id)
	if err := os.WriteFile(filepath.Join(cfg.Dir, fileGeneration), gen, 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // a warm instance holds the state to what it read once a second
	expect(t, a.Run(Request{Args: []string{"check", "vpn"}, Env: e.vars()}), 1, nil)
	if err := os.Symlink("/etc/hostname", filepath.Join(cfg.Dir, "incoming")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	r := expect(t, a.Run(Request{Args: []string{"check", "vpn"}, Env: e.vars()}), 2, nil)
	mustContain(t, "a symlink under a warm instance", r.Stderr, "incoming", "symlink")
}

// TestNoWriteOutside: a hard link or a path with .. cannot make the module
// write outside the state, a file to install is never a pipe, and a
// command whose commit point is written exits 0 though the record after it
// failed.
func TestNoWriteOutside(t *testing.T) {
	is, cfg, e, lrf := newAppliance(t)
	outside := filepath.Join(t.TempDir(), "outside")
	if err := os.WriteFile(outside, []byte("do not touch this file, it is outside the state"), 0o600); err != nil {
		t.Fatal(err)
	}
	gen := filepath.Join(cfg.Dir, fileGeneration)
	os.Remove(gen)
	if err := os.Link(outside, gen); err != nil {
		t.Fatal(err)
	}
	r := cli(t, cfg, e, "", 2, "first-use")
	mustContain(t, "a hard-linked generation file", r.Stderr, "hard links")
	if b, _ := os.ReadFile(outside); !strings.HasPrefix(string(b), "do not touch") {
		t.Fatalf("the file outside was written: %q", b)
	}
	os.Remove(gen)
	if err := (&store{dir: cfg.Dir}).write("licenses/../../escaped", []byte("x")); err == nil {
		t.Fatal("a path with .. was written")
	}
	installPipe(t, cfg, e)

	// The facts record fails after the history is written: done, exit 0.
	_, sealed := is.license(t, lrf, "IC-1", "2026-01-05", "2027-01-05", day1, nil)
	cutPower = func(name, step string) error {
		if name == fileFacts && step == "begin" {
			return errors.New("disk full")
		}
		return nil
	}
	r = cli(t, cfg, e, sealed, 0, "install", "-")
	cutPower = nil
	mustContain(t, "an install whose facts write failed", r.Stderr, "warning")
	if s := status(t, cfg, e); s.State != engine.ModeLicensed || strings.HasPrefix(s.Reason, "state") {
		t.Fatalf("after the install: %+v", s)
	}
}
