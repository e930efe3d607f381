package validator

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tenurehq/tenure/shared/engine"
)

var errPowerCut = errors.New("power cut")

// TestPowerCut cuts the power at every step of every write of install,
// request, release and restore: after each cut the state still opens, no
// license installed before is lost, and running the command again finishes
// the job.
func TestPowerCut(t *testing.T) {
	is := newIssuer(t, "tenure-issuer-test")
	base := testConfig(t, is.trust(t, ""))
	e := env{now: "2026-01-05T10:00:00Z", platform: platformA}
	cli(t, base, e, "", 0, "init", "--product", "edge", "--version", "0.40.0")
	lrf := cli(t, base, e, "", 0, "request").Stdout
	l1, sealed1 := is.license(t, lrf, "IC-1", "2026-01-05", "2027-01-05", "2026-01-05T10:00:00Z", nil)
	l2, sealed2 := is.license(t, lrf, "IC-2", "2026-01-05", "2027-01-05", "2026-01-05T10:00:00Z", func(l *engine.License) {
		l.Kind, l.Features, l.Limits = engine.KindAddon, []string{"peering"}, map[string]int64{"peering_tunnels": 5}
	})
	cli(t, base, e, sealed1, 0, "install", "-")
	if s := status(t, base, e); standing(s, l1).Standing != engine.StandingActive {
		t.Fatalf("%+v", s)
	}
	backup := cli(t, base, e, "pw\n", 0, "backup", "--passphrase-file", "-").Stdout

	withL2 := testConfig(t, base.Trust)
	copyDir(t, base.Dir, withL2.Dir)
	cli(t, withL2, e, sealed2, 0, "install", "-")

	for _, tc := range []struct {
		name  string
		from  *Config // the state before the command
		stdin string
		args  []string
		after func(t *testing.T, cfg *Config) // once the command has run to the end
	}{
		{"install", base, sealed2, []string{"install", "-"}, func(t *testing.T, cfg *Config) {
			if s := status(t, cfg, e); standing(s, l2).Standing != engine.StandingActive {
				t.Fatalf("%+v", s.Licenses)
			}
		}},
		{"request", base, "", []string{"request"}, nil},
		{"release", withL2, "", []string{"release", l2}, func(t *testing.T, cfg *Config) {
			if s := status(t, cfg, e); standing(s, l2).Standing != engine.StandingReleased {
				t.Fatalf("%+v", s.Licenses)
			}
		}},
		{"restore", withL2, "pw\n" + backup, []string{"restore", "--passphrase-file", "-"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := listed(t, tc.from, e)
			for n := 1; ; n++ {
				cfg := testConfig(t, base.Trust)
				copyDir(t, tc.from.Dir, cfg.Dir)
				steps := 0
				cutPower = func(name, step string) error {
					steps++
					if steps >= n {
						return fmt.Errorf("%w at %s/%s", errPowerCut, name, step)
					}
					return nil
				}
				r := Run(cfg, Request{Args: tc.args, Env: e.vars(), Stdin: tc.stdin})
				cutPower = nil
				if steps < n {
					if r.Exit != 0 {
						t.Fatalf("without a cut: exit %d: %s", r.Exit, r.Stderr)
					}
					t.Logf("%d write steps, each cut survived", n-1)
					return
				}
				if r.Exit == 0 && !strings.Contains(r.Stderr, "power cut") {
					t.Fatalf("cut %d: exit 0 though a write failed", n)
				}
				// After the cut: the state opens and keeps every license.
				got := listed(t, cfg, e)
				for id, st := range before {
					if got[id] == "" {
						t.Fatalf("cut %d lost license %s; before %v, after %v", n, id, before, got)
					}
					if st == engine.StandingActive && got[id] != st && !(tc.name == "release" && id == l2) {
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

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
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
