package validator

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenurehq/tenure/shared/engine"
)

// TestClockResetKept: a reset obtained while the clock was right and kept
// (no request since) takes back none of the time that passed: installed
// months later with the host clock set back, the expired license stays
// expired.
func TestClockResetKept(t *testing.T) {
	is, cfg, e, first := newAppliance(t)
	_, sealed := is.license(t, first, "IC-1", "2026-01-05", "2026-03-01", day1, nil)
	cli(t, cfg, e, sealed, 0, "install", "-")
	d2 := env{now: "2026-01-06T10:00:00Z", platform: platformA}
	lrf := cli(t, cfg, d2, "", 0, "request").Stdout // clock right; created 2026-01-06
	kept := is.reset(t, lrf, "2026-01-06T10:05:00Z", nil)

	late := env{now: "2026-07-01T00:00:00Z", platform: platformA}
	if s := status(t, cfg, late); s.State != engine.ModeRestricted {
		t.Fatalf("after grace: %s", s.State)
	}
	back := env{now: "2026-01-07T00:00:00Z", platform: platformA}
	cli(t, cfg, back, kept, 0, "install", "-")
	if s := status(t, cfg, back); s.State == engine.ModeLicensed || s.State == engine.ModeGrace {
		t.Errorf("a reset kept 6 months brought the expired license back: %s (%s), at %v", s.State, s.Reason, s.At)
	}
}

// TestClockResetKeepsDowngrade: a reset applied after a downgrade does not
// bring back what the downgrade took away.
func TestClockResetKeepsDowngrade(t *testing.T) {
	is, cfg, e, first := newAppliance(t)
	up, sealed := is.license(t, first, "IC-1", "2026-01-05", "2027-01-05", day1, nil) // scion, vpn
	cli(t, cfg, e, sealed, 0, "install", "-")
	d := env{now: "2026-02-01T00:00:00Z", platform: platformA}
	lrf := cli(t, cfg, d, "", 0, "request").Stdout
	kept := is.reset(t, lrf, "2026-02-01T00:05:00Z", nil)
	// The customer downgrades; the same (newest) LRF is activated later.
	later := env{now: "2026-02-15T00:00:00Z", platform: platformA}
	_, down := is.license(t, lrf, "IC-1", "2026-02-15", "2027-01-05", "2026-02-15T00:00:00Z", func(l *engine.License) {
		l.Tier, l.Features, l.Reason, l.Supersedes = "lite", []string{"vpn"}, engine.ReasonDowngrade, []string{up}
	})
	cli(t, cfg, later, down, 0, "install", "-")
	cli(t, cfg, later, "", 1, "check", "scion")
	cli(t, cfg, later, kept, 0, "install", "-")
	if r := Run(cfg, Request{Args: []string{"check", "scion"}, Env: later.vars()}); r.Exit == 0 {
		s := status(t, cfg, later)
		t.Errorf("after the reset the downgraded-away feature is back: %s; %s=%s, %s=%s", r.Stdout,
			up, standing(s, up).Standing, s.Licenses[1].ID, s.Licenses[1].Standing+" "+s.Licenses[1].Reason)
	}
}

// TestClockResetPowerCutTampered: a power cut between the reset's history
// event and its facts record, on a tampered state, leaves the old record
// (one behind, still saying tampered): the reset in the history rules, and
// the state is no longer tampered.
func TestClockResetPowerCutTampered(t *testing.T) {
	is, cfg, e, first := newAppliance(t)
	_, sealed := is.license(t, first, "IC-1", "2026-01-05", "2027-01-05", day1, nil)
	cli(t, cfg, e, sealed, 0, "install", "-")
	facts := filepath.Join(cfg.Dir, fileFacts)
	os.Remove(facts)
	lrf := cli(t, cfg, e, "", 0, "request").Stdout // rewrites the record, still tampered
	old, err := os.ReadFile(facts)
	if err != nil {
		t.Fatal(err)
	}
	reset := is.reset(t, lrf, "2026-01-05T11:00:00Z", nil)
	cutPower = func(name, step string) error {
		if name == fileFacts && step == "begin" {
			return errPowerCut
		}
		return nil
	}
	r := Run(cfg, Request{Args: []string{"install", "-"}, Env: e.vars(), Stdin: reset})
	cutPower = nil
	if b, _ := os.ReadFile(facts); string(b) != string(old) {
		t.Fatal("the cut did not leave the old record")
	}
	s := status(t, cfg, e)
	if strings.HasPrefix(s.Reason, "state tampered") {
		again := Run(cfg, Request{Args: []string{"install", "-"}, Env: e.vars(), Stdin: reset})
		t.Errorf("install (exit %d) cut after the reset event: still %q; installing the reset again: exit %d %s", r.Exit, s.Reason, again.Exit, again.Stderr)
	}
}

// TestClockResetCutBeforeHistory: with the record already a step behind (an
// earlier cut), commit writes the record (with Next) before the history; a
// cut at the history write leaves the reset unapplied, and the record
// written ahead of it still tampered.
func TestClockResetCutBeforeHistory(t *testing.T) {
	is, cfg, e, first := newAppliance(t)
	_, sealed := is.license(t, first, "IC-1", "2026-01-05", "2027-01-05", day1, nil)
	cli(t, cfg, e, sealed, 0, "install", "-")
	os.Remove(filepath.Join(cfg.Dir, fileFacts))
	lrf := cli(t, cfg, e, "", 0, "request").Stdout
	// An earlier cut leaves the record one event behind.
	cutPower = func(name, step string) error {
		if name == fileFacts && step == "begin" {
			return errPowerCut
		}
		return nil
	}
	cli(t, cfg, e, "", 0, "first-use")
	cutPower = func(name, step string) error {
		if name == fileHistory && step == "begin" {
			return errPowerCut
		}
		return nil
	}
	r := Run(cfg, Request{Args: []string{"install", "-"}, Env: e.vars(), Stdin: is.reset(t, lrf, "2026-01-05T11:00:00Z", nil)})
	cutPower = nil
	s := status(t, cfg, e)
	if r.Exit != 0 && !strings.HasPrefix(s.Reason, "state tampered") {
		t.Errorf("install exit %d (%s), yet the state is no longer tampered: %s (%s)", r.Exit, strings.TrimSpace(r.Stderr), s.State, s.Reason)
	}
}

// TestClockResetAfterRestore: a reset for the newest request of a backup
// applies after that backup was restored into an empty directory.
func TestClockResetAfterRestore(t *testing.T) {
	is, cfg, real, lrf := jumped(t)
	bk := cli(t, cfg, real, "a long backup passphrase\n", 0, "backup", "--passphrase-file", "-").Stdout
	fresh := testConfig(t, cfg.Trust)
	cli(t, fresh, real, "a long backup passphrase\n"+bk, 0, "restore", "--passphrase-file", "-")
	cli(t, fresh, real, is.reset(t, lrf, "2026-03-01T00:05:00Z", nil), 0, "install", "-")
	if s := status(t, fresh, real); s.State != engine.ModeLicensed {
		t.Errorf("after restore + reset: %s (%s)", s.State, s.Reason)
	}
}

// TestClockResetRetiredKey: a reset signed after its key's not-after is
// refused, exit 1, nothing changed.
func TestClockResetRetiredKey(t *testing.T) {
	is, cfg, real, lrf := jumped(t)
	cfg.Trust = is.trust(t, " not-after=2026-02-01")
	before := dirState(t, cfg.Dir)
	r := cli(t, cfg, real, is.reset(t, lrf, "2026-03-01T00:05:00Z", nil), 1, "install", "-")
	mustContain(t, "retired key", r.Stderr, "retired", "not-after")
	if dirState(t, cfg.Dir) != before {
		t.Error("a refused reset changed the state")
	}
}

// TestClockResetKeptTrial: a kept reset does not give a trial back.
func TestClockResetKeptTrial(t *testing.T) {
	is, cfg, _, _ := newAppliance(t)
	d2 := env{now: "2026-01-06T10:00:00Z", platform: platformA}
	lrf := cli(t, cfg, d2, "", 0, "request").Stdout
	kept := is.reset(t, lrf, "2026-01-06T10:05:00Z", nil)
	late := env{now: "2026-03-01T00:00:00Z", platform: platformA}
	if s := status(t, cfg, late); s.State != engine.ModeRestricted {
		t.Fatalf("after the trial: %s", s.State)
	}
	back := env{now: "2026-01-07T00:00:00Z", platform: platformA}
	cli(t, cfg, back, kept, 0, "install", "-")
	if s := status(t, cfg, back); s.State == engine.ModeTrial {
		t.Errorf("a kept reset gave the trial back: until %v", s.Until)
	}
}

// TestClockResetTamperedSequence: an edited facts record lost the sequence;
// the requests made since skip ahead, past every one the issuer has seen.
func TestClockResetTamperedSequence(t *testing.T) {
	is, cfg, e, first := newAppliance(t)
	_, sealed := is.license(t, first, "IC-1", "2026-01-05", "2027-01-05", day1, nil)
	cli(t, cfg, e, sealed, 0, "install", "-")
	var last uint64
	for range 4 {
		q, _, _ := engine.OpenRequest([]byte(cli(t, cfg, e, "", 0, "request").Stdout))
		last = q.Sequence
	}
	facts := filepath.Join(cfg.Dir, fileFacts)
	b, _ := os.ReadFile(facts)
	b[len(b)/2] ^= 1
	os.WriteFile(facts, b, 0o600)
	lrf := cli(t, cfg, e, "", 0, "request").Stdout
	q, _, _ := engine.OpenRequest([]byte(lrf))
	cli(t, cfg, e, is.reset(t, lrf, "2026-01-05T11:00:00Z", nil), 0, "install", "-")
	n, _, _ := engine.OpenRequest([]byte(cli(t, cfg, e, "", 0, "request").Stdout))
	if n.Sequence <= last {
		t.Errorf("sequences before the tamper up to %d; the request while tampered has %d, the first after the reset %d: the issuer refuses it as a regression", last, q.Sequence, n.Sequence)
	}
}

// TestClockResetPowerCutThenRequest: a power cut between the reset's
// history event and its facts record leaves the record from before the
// reset (high water 2099); the next write of the record does not bring
// 2099 back.
func TestClockResetPowerCutThenRequest(t *testing.T) {
	is, cfg, real, lrf := jumped(t)
	cutPower = func(name, step string) error {
		if name == fileFacts && step == "begin" {
			return errPowerCut
		}
		return nil
	}
	cli(t, cfg, real, is.reset(t, lrf, "2026-03-01T00:05:00Z", nil), 0, "install", "-")
	cutPower = nil
	if s := status(t, cfg, real); s.State != engine.ModeLicensed {
		t.Fatalf("right after the cut: %s", s.State)
	}
	cli(t, cfg, real, "", 0, "request") // any command that rewrites the record
	if s := status(t, cfg, real); s.State != engine.ModeLicensed || s.Clock.HighWater.Year() != 2026 {
		t.Errorf("after one request the clock is poisoned again: %s, high water %v", s.State, s.Clock.HighWater)
	}
}

// TestClockResetRestoreOverOlder: the state reverted to a copy from before
// the reset (a VM snapshot), then the newest backup (holding the reset)
// restored over it: the mark follows the backup's reset.
func TestClockResetRestoreOverOlder(t *testing.T) {
	is, cfg, real, lrf := jumped(t)
	old := t.TempDir()
	copyDir(t, cfg.Dir, old)
	cli(t, cfg, real, is.reset(t, lrf, "2026-03-01T00:05:00Z", nil), 0, "install", "-")
	bk := cli(t, cfg, real, "a long backup passphrase\n", 0, "backup", "--passphrase-file", "-").Stdout
	reverted := testConfig(t, cfg.Trust)
	copyDir(t, old, reverted.Dir)
	r := cli(t, reverted, real, "a long backup passphrase\n"+bk, 0, "restore", "--passphrase-file", "-")
	if s := status(t, reverted, real); s.State != engine.ModeLicensed {
		t.Errorf("restore of the post-reset backup over the pre-reset state: %s, high water %v (%s)", s.State, s.Clock.HighWater, r.Stdout)
	}
}

// TestClockResetText: a reset with CR LF line ends applies; one after a
// blank line, or on a validator built without trusted keys, is refused as a
// clock reset, saying why.
func TestClockResetText(t *testing.T) {
	is, cfg, real, lrf := jumped(t)
	reset := is.reset(t, lrf, "2026-03-01T00:05:00Z", nil)
	untrusted := *cfg
	untrusted.Trust = nil
	r := cli(t, &untrusted, real, reset, 1, "install", "-")
	mustContain(t, "a reset on a validator without trusted keys", r.Stderr, "clock reset refused", "unknown key")
	r = cli(t, cfg, real, "\n"+reset, 1, "install", "-")
	mustContain(t, "a reset after a blank line", r.Stderr, "clock reset refused", "does not start with -----BEGIN TENURE CLOCK-----")
	cli(t, cfg, real, strings.ReplaceAll(reset, "\n", "\r\n"), 0, "install", "-")
}
