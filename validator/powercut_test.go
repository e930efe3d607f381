package validator

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenurehq/tenure/shared/engine"
	"github.com/tenurehq/tenure/validator/tampertest"
)

var errPowerCut = errors.New("power cut")

// TestPowerCut cuts the power at every step of every write of install,
// request, release and restore: after each cut the state still opens, no
// license installed before is lost, and running the command again finishes
// the job.
func TestPowerCut(t *testing.T) {
	is, base, e, lrf := newAppliance(t)
	l1, sealed1 := is.license(t, lrf, "IC-1", "2026-01-05", "2027-01-05", "2026-01-05T10:00:00Z", nil)
	l2, sealed2 := is.license(t, lrf, "IC-2", "2026-01-05", "2027-01-05", "2026-01-05T10:00:00Z", func(l *engine.License) {
		l.Kind, l.Features, l.Limits = engine.KindAddon, []string{"peering"}, map[string]int64{"peering_tunnels": 5}
	})
	cli(t, base, e, sealed1, 0, "install", "-")
	if s := status(t, base, e); standing(s, l1).Standing != engine.StandingActive {
		t.Fatalf("%+v", s)
	}
	backup := cli(t, base, e, "a long backup passphrase\n", 0, "backup", "--passphrase-file", "-").Stdout

	withL2 := testConfig(t, base.Trust)
	copyDir(t, base.Dir, withL2.Dir)
	cli(t, withL2, e, sealed2, 0, "install", "-")
	backupL2 := cli(t, withL2, e, "a long backup passphrase\n", 0, "backup", "--passphrase-file", "-").Stdout
	empty := testConfig(t, base.Trust)
	eb := env{now: e.now, platform: platformB}
	counted := testConfig(t, base.Trust)
	copyDir(t, base.Dir, counted.Dir)
	cli(t, counted, e, "", 0, "check", "--limit", "vpn_users", "42")

	for _, tc := range []struct {
		name  string
		from  *Config // the state before the command
		stdin string
		args  []string
		after func(t *testing.T, cfg *Config) // once the command has run to the end
		e     *env                            // where it runs, when not on platform A
	}{
		{"install", base, sealed2, []string{"install", "-"}, func(t *testing.T, cfg *Config) {
			if s := status(t, cfg, e); standing(s, l2).Standing != engine.StandingActive {
				t.Fatalf("%+v", s.Licenses)
			}
		}, nil},
		{"request", base, "", []string{"request"}, nil, nil},
		{"report", counted, "", []string{"report"}, nil, nil},
		{"check-counted", base, "", []string{"check", "--limit", "vpn_users", "42"}, nil, nil},
		{"release", withL2, "", []string{"release", l2}, func(t *testing.T, cfg *Config) {
			if s := status(t, cfg, e); standing(s, l2).Standing != engine.StandingReleased {
				t.Fatalf("%+v", s.Licenses)
			}
		}, nil},
		{"restore", withL2, "a long backup passphrase\n" + backup, []string{"restore", "--passphrase-file", "-"}, nil, nil},
		{"restore-over-older", base, "a long backup passphrase\n" + backupL2, []string{"restore", "--passphrase-file", "-"}, func(t *testing.T, cfg *Config) {
			if s := status(t, cfg, e); standing(s, l2).Standing != engine.StandingActive {
				t.Fatalf("%+v", s.Licenses)
			}
		}, nil},
		{"restore-empty", empty, "a long backup passphrase\n" + backup, []string{"restore", "--passphrase-file", "-"}, func(t *testing.T, cfg *Config) {
			if s := status(t, cfg, e); standing(s, l1).Standing != engine.StandingActive {
				t.Fatalf("%+v", s.Licenses)
			}
		}, nil},
		{"restore-elsewhere", empty, "a long backup passphrase\n" + backup, []string{"restore", "--passphrase-file", "-"}, func(t *testing.T, cfg *Config) {
			if s := status(t, cfg, eb); s.State != engine.ModeTrial || standing(s, l1).Standing != engine.StandingInactive {
				t.Fatalf("%+v", s)
			}
		}, &eb},
		{"trial-on-another-platform", base, "", []string{"status", "--json"}, func(t *testing.T, cfg *Config) {
			if s := status(t, cfg, eb); s.State != engine.ModeTrial || !s.Trial.Started.Equal(mustInstant(t, e.now)) {
				t.Fatalf("%+v", s)
			}
		}, &eb},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := map[string]string{}
			if tc.from != empty {
				before = listed(t, tc.from, e) // on platform A: a status elsewhere would write a trial
			}
			e := e
			if tc.e != nil {
				e = *tc.e
			}
			for n := 1; ; n++ {
				cfg := testConfig(t, base.Trust)
				copyDir(t, tc.from.Dir, cfg.Dir)
				steps, stop := cutFrom(n)
				r := Run(cfg, Request{Args: tc.args, Env: e.vars(), Stdin: tc.stdin})
				stop()
				if steps() < n {
					if r.Exit != 0 {
						t.Fatalf("without a cut: exit %d: %s", r.Exit, r.Stderr)
					}
					t.Logf("%d write steps, each cut survived", n-1)
					return
				}
				if r.Exit == 0 && !strings.Contains(r.Stderr, "power cut") {
					t.Fatalf("cut %d: exit 0 though a write failed", n)
				}
				if tc.from == empty {
					// Cut before its commit point, a restore leaves a
					// directory that is plainly not initialised, and is
					// run again; cut after it, the restore is done.
					s := Run(cfg, Request{Args: []string{"status", "--json"}, Env: e.vars()})
					switch {
					case s.Exit != 0 && !strings.Contains(s.Stderr, "not initialised"):
						t.Fatalf("cut %d: %s", n, s.Stderr)
					case s.Exit != 0:
						cli(t, cfg, e, tc.stdin, 0, tc.args...)
					case strings.Contains(s.Stdout, `"reason": "state`):
						t.Fatalf("cut %d reads as damage: %s", n, s.Stdout)
					}
					tc.after(t, cfg)
					continue
				}
				// After the cut: the state opens, keeps every license, and
				// never reads as damage.
				if s := status(t, cfg, e); strings.HasPrefix(s.Reason, "state") {
					t.Fatalf("cut %d reads as damage: %s", n, s.Reason)
				}
				got := listed(t, cfg, e)
				for id, st := range before {
					if got[id] == "" {
						t.Fatalf("cut %d lost license %s; before %v, after %v", n, id, before, got)
					}
					if st == engine.StandingActive && got[id] != st && tc.e == nil && !(tc.name == "release" && id == l2) {
						t.Fatalf("cut %d changed license %s from %s to %s", n, id, st, got[id])
					}
				}
				// Running it again finishes the job.
				cli(t, cfg, e, tc.stdin, 0, tc.args...)
				if tc.after != nil {
					tc.after(t, cfg)
				}
				if tc.name == "release" {
					rel := cli(t, cfg, e, "", 0, "release", l2).Stdout
					r, _, err := engine.OpenRelease([]byte(rel), func(string) (string, error) { return requestKey(t, lrf), nil })
					if err != nil || !slices.Equal(r.Licenses, []string{l2}) {
						t.Fatalf("cut %d: receipt after recovery: %v %+v", n, err, r)
					}
					next := cli(t, cfg, e, "", 0, "request").Stdout
					if q, _, _ := engine.OpenRequest([]byte(next)); q.Sequence <= r.Sequence {
						t.Fatalf("cut %d: LRF sequence %d after receipt sequence %d", n, q.Sequence, r.Sequence)
					}
				}
			}
		})
	}
}

// listed returns each license's standing; the status must work.
func listed(t *testing.T, cfg *Config, e env) map[string]string {
	t.Helper()
	s := status(t, cfg, e)
	m := map[string]string{}
	for _, l := range s.Licenses {
		m[l.ID] = l.Standing
	}
	return m
}

func requestKey(t *testing.T, lrf string) string {
	r, _, err := engine.OpenRequest([]byte(lrf))
	if err != nil {
		t.Fatal(err)
	}
	return r.DeviceKey
}

func copyDir(t *testing.T, from, to string) { tampertest.CopyDir(t, from, to) }

// TestPowerCutSmallWrites cuts the power at every step of the writes that
// hold no license: init (whose appliance record is the commit point),
// first-use, and the high-water mark a later status moves. After each cut
// the state opens, and running the command again finishes the job.
func TestPowerCutSmallWrites(t *testing.T) {
	is := newIssuer(t, "tenure-issuer-test")
	e := env{now: "2026-01-05T10:00:00Z", platform: platformA}
	later := env{now: "2026-03-06T10:00:00Z", platform: platformA}
	initialised := testConfig(t, is.trust(t, ""))
	cli(t, initialised, e, "", 0, "init", "--product", "edge", "--version", "0.40.0")

	for _, tc := range []struct {
		name  string
		from  *Config // nil: an empty state directory
		e     env
		args  []string
		after func(t *testing.T, cfg *Config)
	}{
		{"init", nil, e, []string{"init", "--product", "edge", "--version", "0.40.0"}, func(t *testing.T, cfg *Config) {
			s := status(t, cfg, e)
			if s.State != engine.ModeTrial || !s.Trial.Started.Equal(mustInstant(t, e.now)) {
				t.Fatalf("after init: %+v", s)
			}
		}},
		{"first-use", initialised, e, []string{"first-use"}, func(t *testing.T, cfg *Config) {
			r, _, err := engine.OpenRequest([]byte(cli(t, cfg, e, "", 0, "request").Stdout))
			if err != nil || r.FirstUse == nil || !r.FirstUse.Equal(mustInstant(t, e.now)) {
				t.Fatalf("after first-use: the LRF's first use is %v (%v)", r.FirstUse, err)
			}
		}},
		{"high-water", initialised, later, []string{"status", "--json"}, func(t *testing.T, cfg *Config) {
			// The clock set back after the later run: evaluated at the mark.
			s := status(t, cfg, e)
			if !s.Clock.RolledBack || !s.Clock.Used.Equal(mustInstant(t, later.now)) {
				t.Fatalf("after the high-water write, a clock set back gives %+v", s.Clock)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for n := 1; ; n++ {
				cfg := testConfig(t, initialised.Trust)
				if tc.from != nil {
					copyDir(t, tc.from.Dir, cfg.Dir)
				}
				steps, stop := cutFrom(n)
				r := Run(cfg, Request{Args: tc.args, Env: tc.e.vars()})
				stop()
				if steps() < n {
					if r.Exit != 0 {
						t.Fatalf("without a cut: exit %d: %s", r.Exit, r.Stderr)
					}
					tc.after(t, cfg)
					t.Logf("%d write steps, each cut survived", n-1)
					return
				}
				// After the cut the state opens: initialised, or (init cut
				// before its commit point) plainly not, saying so.
				s := Run(cfg, Request{Args: []string{"status", "--json"}, Env: tc.e.vars()})
				if s.Exit != 0 && !(tc.from == nil && strings.Contains(s.Stderr, "init")) {
					t.Fatalf("cut %d: the state does not open: exit %d: %s", n, s.Exit, s.Stderr)
				}
				// Running it again finishes the job (init once it committed
				// says so, and the state is whole).
				again := Run(cfg, Request{Args: tc.args, Env: tc.e.vars()})
				if again.Exit != 0 && !(tc.from == nil && s.Exit == 0 && strings.Contains(again.Stderr, "already initialised")) {
					t.Fatalf("cut %d: running %v again: exit %d: %s", n, tc.args, again.Exit, again.Stderr)
				}
				tc.after(t, cfg)
			}
		})
	}
}

func mustInstant(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}
