package validator

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenurehq/tenure/shared/engine"
)

// jumped makes a licensed appliance whose host clock then ran once at 2099:
// the mark is 2099 and the appliance restricted, back at the real time too.
// It returns the LRF made at the real time afterwards (created 2099).
func jumped(t *testing.T) (is *issuer, cfg *Config, real env, lrf string) {
	t.Helper()
	is, cfg, e, first := newAppliance(t)
	_, sealed := is.license(t, first, "IC-1", "2026-01-05", "2027-01-05", day1, nil)
	cli(t, cfg, e, sealed, 0, "install", "-")
	future := env{now: "2099-06-01T00:00:00Z", platform: platformA}
	cli(t, cfg, future, "", 0, "status") // one run at 2099
	real = env{now: "2026-03-01T00:00:00Z", platform: platformA}
	s := status(t, cfg, real)
	if s.State != engine.ModeRestricted || !s.Clock.RolledBack || !strings.Contains(s.Reason, "clock reset") {
		t.Fatalf("after a run at 2099: %s (%s)", s.State, s.Reason)
	}
	lrf = cli(t, cfg, real, "", 0, "request").Stdout
	req, _, err := engine.OpenRequest([]byte(lrf))
	if err != nil || req.Created.Year() != 2099 {
		t.Fatalf("the LRF after the jump: %v, created %v", err, req.Created)
	}
	return is, cfg, real, lrf
}

func TestClockReset(t *testing.T) {
	is, cfg, real, lrf := jumped(t)
	reset := is.reset(t, lrf, "2026-03-01T00:05:00Z", nil)
	out := cli(t, cfg, real, reset, 0, "install", "-").Stdout
	mustContain(t, "install of the reset", out, "clock reset applied", "2026-03-01T00:05:00Z", "2099-06-01", "licensed")
	s := status(t, cfg, real)
	if s.State != engine.ModeLicensed || s.Clock.HighWater.Year() != 2026 || s.Clock.RolledBack {
		t.Fatalf("after the reset: %s (%s), clock %+v", s.State, s.Reason, s.Clock)
	}
	if l := s.Licenses[0]; l.Standing != engine.StandingActive || l.From.Format("2006-01-02") != "2026-01-05" || l.Until.Format("2006-01-02") != "2027-01-05" {
		t.Fatalf("the license window after the reset: %+v", l)
	}
	if s.Until == nil || s.Until.Format("2006-01-02") != "2027-01-05" {
		t.Fatalf("licensed until %v, want 2027-01-05", s.Until)
	}
	// The next request is dated at the real time: the issuer takes it.
	req, _, err := engine.OpenRequest([]byte(cli(t, cfg, real, "", 0, "request").Stdout))
	if err != nil || req.Created.Year() != 2026 {
		t.Fatalf("the LRF after the reset: %v, created %v", err, req.Created)
	}
	// Applied once: the same reset again changes nothing.
	before := dirState(t, cfg.Dir)
	r := cli(t, cfg, real, reset, 0, "install", "-")
	mustContain(t, "the same reset again", r.Stdout, "already applied")
	if dirState(t, cfg.Dir) != before {
		t.Fatal("the same reset again changed the state")
	}
}

// TestClockResetRefusals: every reset that must not apply is refused with
// exit 1 and leaves the state as it was.
func TestClockResetRefusals(t *testing.T) {
	is, cfg, real, lrf := jumped(t)
	other := newIssuer(t, "tenure-issuer-rogue")
	_, _, _, otherLRF := newAppliance(t)
	before := dirState(t, cfg.Dir)
	refused := func(what, text string, says ...string) {
		t.Helper()
		r := cli(t, cfg, real, text, 1, "install", "-")
		mustContain(t, what, r.Stderr, append([]string{"clock reset refused"}, says...)...)
		if after := dirState(t, cfg.Dir); after != before {
			t.Fatalf("%s: the refused reset changed the state", what)
		}
	}
	mark := "2026-03-01T00:05:00Z"
	refused("another appliance's reset", is.reset(t, otherLRF, mark, nil), "is for appliance")
	refused("a reset for another device key", is.reset(t, lrf, mark, func(r *engine.ClockReset) { r.DeviceKeyHash = strings.Repeat("0", 64) }), "another device key")
	refused("a forged reset", other.reset(t, lrf, mark, nil), "unknown key")
	refused("a nonce never requested", is.reset(t, lrf, mark, func(r *engine.ClockReset) { r.Nonce = "0123456789abcdef0123456789abcdef" }), "did not make")
	refused("another sequence", is.reset(t, lrf, mark, func(r *engine.ClockReset) { r.Sequence += 5 }), "did not make")
	good := is.reset(t, lrf, mark, nil)
	refused("an edited reset", strings.Replace(good, good[60:64], flip(good[60:64]), 1), "")

	// A newer request makes the older one's reset useless.
	newer := cli(t, cfg, real, "", 0, "request").Stdout
	before = dirState(t, cfg.Dir)
	refused("a reset for an older request", good, "older request", "newest")

	// With the host clock still as far ahead as when the request was
	// made, it is refused and not spent.
	latest := is.reset(t, newer, mark, nil)
	ahead := env{now: "2099-06-02T00:00:00Z", platform: platformA}
	r := cli(t, cfg, ahead, latest, 1, "install", "-")
	mustContain(t, "a reset with the host clock at 2099", r.Stderr, "set the host clock right", "not spent")
	cli(t, cfg, real, latest, 0, "install", "-")
	// The same reset again is no change (exit 0), another reset of the
	// same request is refused.
	r = cli(t, cfg, real, latest, 0, "install", "-")
	mustContain(t, "the same reset again", r.Stdout, "already applied", "nothing changed")
	before = dirState(t, cfg.Dir)
	refused("another reset of the same request", is.reset(t, newer, "2026-03-01T00:06:00Z", nil), "answered by another reset")
}

// TestClockResetSlowSite: a reset carried to the site for weeks applies,
// and the appliance is judged at its own (right) clock.
func TestClockResetSlowSite(t *testing.T) {
	is, cfg, _, lrf := jumped(t)
	weeks := env{now: "2026-03-20T00:00:00Z", platform: platformA}
	r := cli(t, cfg, weeks, is.reset(t, lrf, "2026-03-01T00:05:00Z", nil), 0, "install", "-")
	if s := status(t, cfg, weeks); s.State != engine.ModeLicensed || s.At.Format(engine.TimeFormat) != weeks.now {
		t.Fatalf("after a reset carried for weeks: %s at %v\n%s", s.State, s.At, r.Stderr)
	}
}

// TestClockResetEveryByte: no single changed byte of a reset is applied.
func TestClockResetEveryByte(t *testing.T) {
	is, cfg, real, lrf := jumped(t)
	good := []byte(is.reset(t, lrf, "2026-03-01T00:05:00Z", nil))
	a := New(cfg)
	defer a.Close()
	for i := range good {
		for _, x := range []byte{0x01, 0x20} {
			bad := append([]byte(nil), good...)
			bad[i] ^= x
			r := a.Run(Request{Args: []string{"install", "-"}, Env: real.vars(), Stdin: string(bad)})
			if r.Exit == 0 {
				t.Fatalf("byte %d ^ %#x: the reset was applied:\n%s", i, x, bad)
			}
		}
	}
	if r := a.Run(Request{Args: []string{"install", "-"}, Env: real.vars(), Stdin: string(good)}); r.Exit != 0 {
		t.Fatalf("the reset itself after every flip: exit %d: %s", r.Exit, r.Stderr)
	}
}

// TestClockResetFutureLicense: a license issued by an issuer whose clock
// was far ahead poisons the mark; after a reset it is inactive and no
// longer floors the clock, and the license issued before still counts.
func TestClockResetFutureLicense(t *testing.T) {
	is, cfg, e, first := newAppliance(t)
	_, sealed := is.license(t, first, "IC-1", "2026-01-05", "2027-01-05", day1, nil)
	cli(t, cfg, e, sealed, 0, "install", "-")
	real := env{now: "2026-02-01T00:00:00Z", platform: platformA}
	lrf := cli(t, cfg, real, "", 0, "request").Stdout
	future, sealed := is.license(t, lrf, "IC-2", "2026-02-01", "2027-02-01", "2099-01-01T00:00:00Z", nil)
	cli(t, cfg, real, sealed, 0, "install", "-")
	if s := status(t, cfg, real); s.State != engine.ModeRestricted || s.At.Year() != 2099 {
		t.Fatalf("a license issued in 2099 should have moved the clock there: %s at %v", s.State, s.At)
	}
	lrf = cli(t, cfg, real, "", 0, "request").Stdout
	cli(t, cfg, real, is.reset(t, lrf, "2026-02-01T00:10:00Z", nil), 0, "install", "-")
	s := status(t, cfg, real)
	if s.State != engine.ModeLicensed || s.At.Year() != 2026 {
		t.Fatalf("after the reset: %s at %v (%s)", s.State, s.At, s.Reason)
	}
	if l := standing(s, future); l.Standing != engine.StandingInactive || l.Reason != engine.IssuedInFuture {
		t.Fatalf("the license from the future: %+v", l)
	}
	// Installing it again changes nothing: it never lowers or raises the mark.
	cli(t, cfg, real, sealed, 0, "install", "-")
	if s := status(t, cfg, real); s.At.Year() != 2026 || standing(s, future).Standing != engine.StandingInactive {
		t.Fatalf("after reinstalling the license from the future: %v %+v", s.At, standing(s, future))
	}
}

// TestClockResetBeforeActivation: an appliance whose clock jumped during its
// trial, before any license, gets its trial back from the reset; its first
// use stamped in 2099 is capped at the mark.
func TestClockResetBeforeActivation(t *testing.T) {
	_, cfg, e, _ := newAppliance(t)
	is := newIssuer(t, "tenure-issuer-test")
	cfg.Trust = is.trust(t, "")
	future := env{now: "2099-01-01T00:00:00Z", platform: platformA}
	cli(t, cfg, future, "", 0, "first-use")
	real := env{now: "2026-01-10T00:00:00Z", platform: platformA}
	if s := status(t, cfg, real); s.State != engine.ModeRestricted {
		t.Fatalf("after a trial run at 2099: %s", s.State)
	}
	lrf := cli(t, cfg, real, "", 0, "request").Stdout
	cli(t, cfg, real, is.reset(t, lrf, "2026-01-10T00:01:00Z", nil), 0, "install", "-")
	s := status(t, cfg, real)
	if s.State != engine.ModeTrial || s.Trial.Started.Format(engine.TimeFormat) != e.now {
		t.Fatalf("after the reset: %s, trial %+v (%s)", s.State, s.Trial, s.Reason)
	}
	req, _, err := engine.OpenRequest([]byte(cli(t, cfg, real, "", 0, "request").Stdout))
	if err != nil || req.FirstUse == nil || req.FirstUse.Format(engine.TimeFormat) != "2026-01-10T00:01:00Z" {
		t.Fatalf("first use after the reset: %v %v", err, req.FirstUse)
	}
}

// TestClockResetTampered: a facts record that failed its check leaves the
// appliance restricted whatever is installed, until a reset answers a
// request made since.
func TestClockResetTampered(t *testing.T) {
	is, cfg, e, first := newAppliance(t)
	_, sealed := is.license(t, first, "IC-1", "2026-01-05", "2027-01-05", day1, nil)
	cli(t, cfg, e, sealed, 0, "install", "-")
	if err := os.Remove(filepath.Join(cfg.Dir, fileFacts)); err != nil {
		t.Fatal(err)
	}
	if s := status(t, cfg, e); !strings.HasPrefix(s.Reason, "state tampered") || !strings.Contains(s.Reason, "clock reset") {
		t.Fatalf("deleted facts: %s", s.Reason)
	}
	lrf := cli(t, cfg, e, "", 0, "request").Stdout
	cli(t, cfg, e, is.reset(t, lrf, "2026-01-05T11:00:00Z", nil), 0, "install", "-")
	if s := status(t, cfg, e); s.State != engine.ModeLicensed {
		t.Fatalf("after the reset: %s (%s)", s.State, s.Reason)
	}
}

// TestClockResetPowerCut: a power cut between the reset's history event and
// its facts record leaves the record one event behind, holding 2099; the
// history's reset still rules the clock.
func TestClockResetPowerCut(t *testing.T) {
	is, cfg, real, lrf := jumped(t)
	facts := filepath.Join(cfg.Dir, fileFacts)
	old, err := os.ReadFile(facts)
	if err != nil {
		t.Fatal(err)
	}
	cli(t, cfg, real, is.reset(t, lrf, "2026-03-01T00:05:00Z", nil), 0, "install", "-")
	if err := os.WriteFile(facts, old, 0o600); err != nil {
		t.Fatal(err)
	}
	s := status(t, cfg, real)
	if s.State != engine.ModeLicensed || s.At.Year() != 2026 || strings.Contains(s.Reason, "tampered") {
		t.Fatalf("with the record from before the reset: %s at %v (%s)", s.State, s.At, s.Reason)
	}
}

// TestClockResetWarmInstance: an instance that saw 2099 in memory takes the
// reset another process applied, and does not write 2099 back.
func TestClockResetWarmInstance(t *testing.T) {
	is, cfg, real, lrf := jumped(t)
	warm := New(cfg)
	defer warm.Close()
	future := env{now: "2099-06-01T00:00:00Z", platform: platformA}
	expect(t, warm.Run(Request{Args: []string{"status"}, Env: future.vars()}), 0, nil)
	cli(t, cfg, real, is.reset(t, lrf, "2026-03-01T00:05:00Z", nil), 0, "install", "-")
	r := expect(t, warm.Run(Request{Args: []string{"status", "--json"}, Env: real.vars()}), 0, nil)
	if !strings.Contains(r.Stdout, `"state": "licensed"`) {
		t.Fatalf("the warm instance after the reset: %s", r.Stdout)
	}
	if s := status(t, cfg, real); s.State != engine.ModeLicensed || s.Clock.HighWater.Year() != 2026 {
		t.Fatalf("after the warm instance ran: %s, high water %v", s.State, s.Clock.HighWater)
	}
}

// dirState is every file of a state directory and its bytes, as one string.
func dirState(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == fileGeneration {
			return err
		}
		data, err := os.ReadFile(p)
		b.WriteString(p + "\n" + string(data) + "\n")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// flip changes every letter of s to another one.
func flip(s string) string {
	b := []byte(s)
	for i := range b {
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
	}
	return string(b)
}
