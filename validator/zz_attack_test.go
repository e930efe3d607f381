package validator

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/tenurehq/tenure/shared/engine"
)

const zzPass = "a long backup passphrase"

func zzCraft(t *testing.T, text, pass string, edit func(*engine.Backup)) string {
	t.Helper()
	b, err := openBackup([]byte(text), pass)
	if err != nil {
		t.Fatal(err)
	}
	edit(b)
	body, err := engine.Encode(engine.TypeBackup, b)
	if err != nil {
		t.Fatal(err)
	}
	r, err := age.NewScryptRecipient(pass)
	if err != nil {
		t.Fatal(err)
	}
	r.SetWorkFactor(10)
	var out bytes.Buffer
	aw := armor.NewWriter(&out)
	w, err := age.Encrypt(aw, r)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(body)
	w.Close()
	aw.Close()
	return out.String()
}

func zzShow(t *testing.T, what string, s *engine.Status) {
	t.Helper()
	t.Logf("%s: state=%s features=%v limits=%v config=%v trial=%v..%v reason=%q", what, s.State, s.Features, s.Limits, s.ConfigChanges, s.Trial.Started, s.Trial.Ends, s.Reason)
}

// A crafted legacy backup (history removed) of the current state: no
// copy kept from before, no key needed.
func TestZZCraftedLegacyBackup(t *testing.T) {
	is, cfg, e, lrf := newAppliance(t)
	l1, sealed := is.license(t, lrf, "IC-1", "2026-01-05", "2027-01-05", "2026-01-05T10:00:00Z", nil)
	cli(t, cfg, e, sealed, 0, "install", "-")
	rel := env{now: "2026-02-01T00:00:00Z", platform: platformA}
	cli(t, cfg, rel, "", 0, "release", l1)
	now := env{now: "2027-08-01T00:00:00Z", platform: platformA}
	zzShow(t, "before", status(t, cfg, now))
	bk := cli(t, cfg, now, zzPass+"\n", 0, "backup", "--passphrase-file", "-").Stdout

	crafted := zzCraft(t, bk, zzPass, func(b *engine.Backup) {
		b.History, b.Facts = "", ""
		b.Receipts = map[string]string{}
		b.Released = map[string]string{}
		b.HighWater = day(t, "2026-01-05T10:00:00Z")
		b.Created = day(t, "2026-01-05T10:00:00Z")
	})
	cfg2 := testConfig(t, cfg.Trust)
	back := env{now: "2026-06-01T00:00:00Z", platform: platformA}
	r := cli(t, cfg2, back, zzPass+"\n"+crafted, 0, "restore", "--passphrase-file", "-")
	t.Logf("restore: %s %s", r.Stdout, r.Stderr)
	zzShow(t, "after (clock 2026-06-01)", status(t, cfg2, back))
	cli(t, cfg2, back, "", 0, "check", "--config-change")

	// Trial regained: Created moved to now, licenses dropped.
	crafted2 := zzCraft(t, bk, zzPass, func(b *engine.Backup) {
		b.History, b.Facts = "", ""
		b.Receipts, b.Released, b.Licenses, b.Trials = map[string]string{}, map[string]string{}, map[string]string{}, map[string]string{}
		b.HighWater = day(t, "2027-08-01T00:00:00Z")
		b.Created = day(t, "2027-08-01T00:00:00Z")
	})
	cfg3 := testConfig(t, cfg.Trust)
	cli(t, cfg3, now, zzPass+"\n"+crafted2, 0, "restore", "--passphrase-file", "-")
	zzShow(t, "after trial craft", status(t, cfg3, now))
	r = cli(t, cfg3, now, "", 0, "request")
	q, _, _ := engine.OpenRequest([]byte(r.Stdout))
	t.Logf("LRF appliance %s seq %d", q.Appliance, q.Sequence)
}

// Deleting the facts record and setting the clock back: the tampered
// restricted mode answers with the features of the old instant.
func TestZZFactsDeleteClockBack(t *testing.T) {
	is, cfg, e, lrf := newAppliance(t)
	_, base := is.license(t, lrf, "IC-1", "2026-01-05", "2027-01-05", "2026-01-05T10:00:00Z", nil)
	_, addon := is.license(t, lrf, "IC-2", "2026-01-05", "2026-06-01", "2026-01-05T10:00:00Z", func(l *engine.License) {
		l.Kind, l.Features, l.Limits = engine.KindAddon, []string{"peering"}, map[string]int64{"vpn_users": 100, "peering_tunnels": 10}
	})
	// A license issued early and kept back (an upgrade of another contract).
	_, held := is.license(t, lrf, "IC-3", "2026-01-05", "2026-12-01", "2026-01-06T10:00:00Z", nil)
	cli(t, cfg, e, base, 0, "install", "-")
	cli(t, cfg, e, addon, 0, "install", "-")
	now := env{now: "2027-05-01T00:00:00Z", platform: platformA}
	zzShow(t, "before", status(t, cfg, now))
	cli(t, cfg, now, "", 1, "check", "peering")

	if err := os.Remove(filepath.Join(cfg.Dir, fileFacts)); err != nil {
		t.Fatal(err)
	}
	back := env{now: "2026-02-01T00:00:00Z", platform: platformA}
	zzShow(t, "facts deleted, clock 2026-02-01", status(t, cfg, back))
	r := Run(cfg, Request{Args: []string{"check", "peering"}, Env: back.vars()})
	t.Logf("check peering: exit %d %s", r.Exit, r.Stdout)
	r = Run(cfg, Request{Args: []string{"check", "--limit", "vpn_users", "350"}, Env: back.vars()})
	t.Logf("check vpn_users 350: exit %d %s", r.Exit, r.Stdout)

	cli(t, cfg, back, held, 0, "install", "-")
	zzShow(t, "after installing the held-back license", status(t, cfg, back))
	r = Run(cfg, Request{Args: []string{"check", "--config-change"}, Env: back.vars()})
	t.Logf("config-change: exit %d", r.Exit)
	// And the clock stays back afterwards.
	zzShow(t, "later, clock 2026-03-01", status(t, cfg, env{now: "2026-03-01T00:00:00Z", platform: platformA}))
}

// Two power cuts, each between the history and the facts record, in two
// commands: the second reads as damage.
func TestZZDoubleCut(t *testing.T) {
	is, cfg, e, lrf := newAppliance(t)
	_, s1 := is.license(t, lrf, "IC-1", "2026-01-05", "2027-01-05", "2026-01-05T10:00:00Z", nil)
	_, s2 := is.license(t, lrf, "IC-2", "2026-01-05", "2027-01-05", "2026-01-05T10:00:00Z", func(l *engine.License) {
		l.Kind, l.Features, l.Limits = engine.KindAddon, []string{"peering"}, map[string]int64{"peering_tunnels": 5}
	})
	cutAfterHistory := func() {
		seen := false
		cutPower = func(name, step string) error {
			if name == fileHistory && step == "renamed" {
				seen = true
			}
			if seen && name == fileFacts && step == "begin" {
				return errPowerCut
			}
			return nil
		}
	}
	cutAfterHistory()
	r := Run(cfg, Request{Args: []string{"install", "-"}, Env: e.vars(), Stdin: s1})
	cutPower = nil
	t.Logf("install 1 (cut): exit %d %s", r.Exit, r.Stderr)
	zzHeads(t, cfg)
	r = cli(t, cfg, e, s1, 0, "install", "-")
	t.Logf("install 1 again: %s", r.Stdout)
	zzHeads(t, cfg)
	cutAfterHistory()
	r = Run(cfg, Request{Args: []string{"install", "-"}, Env: e.vars(), Stdin: s2})
	cutPower = nil
	t.Logf("install 2 (cut): exit %d %s", r.Exit, r.Stderr)
	zzHeads(t, cfg)
	zzShow(t, "after second cut", status(t, cfg, e))
}

// A write failing after the history was written: the command did its job.
func TestZZFactsFailAfterHistory(t *testing.T) {
	is, cfg, e, lrf := newAppliance(t)
	l1, s1 := is.license(t, lrf, "IC-1", "2026-01-05", "2027-01-05", "2026-01-05T10:00:00Z", nil)
	failAfterHistory := func() {
		seen := false
		cutPower = func(name, step string) error {
			if name == fileHistory && step == "renamed" {
				seen = true
			}
			if seen && name == fileFacts && step == "begin" {
				return errPowerCut
			}
			return nil
		}
	}
	for _, args := range [][]string{{"install", "-"}, {"first-use"}, {"release", l1}} {
		failAfterHistory()
		r := Run(cfg, Request{Args: args, Env: e.vars(), Stdin: s1})
		cutPower = nil
		t.Logf("%v: exit %d stdout %d bytes stderr %q", args, r.Exit, len(r.Stdout), r.Stderr)
		s := status(t, cfg, e)
		zzShow(t, "after", s)
		t.Logf("standing %s: %s", l1, standing(s, l1).Standing)
	}
	r := cli(t, cfg, e, "", 0, "first-use")
	t.Logf("first-use again: %s", r.Stdout)
}

// A warm instance reads through a symlink planted in the state.
func TestZZWarmSymlink(t *testing.T) {
	is, cfg, e, lrf := newAppliance(t)
	_, s1 := is.license(t, lrf, "IC-1", "2026-01-05", "2027-01-05", "2026-01-05T10:00:00Z", nil)
	a := New(cfg)
	defer a.Close()
	r := a.Run(Request{Args: []string{"status", "--json"}, Env: e.vars()})
	t.Logf("warm status: exit %d", r.Exit)
	outside := filepath.Join(t.TempDir(), "outside-license")
	os.WriteFile(outside, []byte(s1), 0o600)
	link := filepath.Join(cfg.Dir, "incoming")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	r = a.Run(Request{Args: []string{"status"}, Env: e.vars()})
	t.Logf("warm status with symlink: exit %d stderr %q", r.Exit, r.Stderr)
	r = a.Run(Request{Args: []string{"check", "vpn"}, Env: e.vars()})
	t.Logf("warm check with symlink: exit %d %q %q", r.Exit, r.Stdout, r.Stderr)
	r = a.Run(Request{Args: []string{"install", link}, Env: e.vars()})
	t.Logf("warm install through symlink: exit %d stdout %q stderr %q", r.Exit, r.Stdout, r.Stderr)
	os.Remove(link)
	zzShow(t, "after removing the link", status(t, cfg, e))
	// A license dir symlink: install via a path through a symlinked dir
	r2 := Run(cfg, Request{Args: []string{"install", link}, Env: e.vars()})
	t.Logf("cold install of missing: exit %d %q", r2.Exit, r2.Stderr)
	_ = strings.Contains
}

func zzHeads(t *testing.T, cfg *Config) {
	t.Helper()
	h, _ := os.ReadFile(filepath.Join(cfg.Dir, fileHistory))
	f, _ := os.ReadFile(filepath.Join(cfg.Dir, fileFacts))
	t.Logf("history lines %d; facts %s", bytes.Count(h, []byte("\n"))-1, strings.SplitN(string(f), "\n", 2)[0])
}

// Putting back the first-wave appliance record (and clock record) after the
// migration: migrated again, from the files as they are now.
func TestZZRemigrate(t *testing.T) {
	is := newIssuer(t, "tenure-issuer-test")
	cfg := testConfig(t, is.trust(t, ""))
	fw := newFirstWave(t, cfg, "2026-01-05T10:00:00Z")
	l1, s1 := is.license(t, fw.lrf, "IC-1", "2026-01-05", "2027-01-05", "2026-01-05T10:00:00Z", nil)
	fw.file(t, dirLicenses+"/"+l1, s1)
	fw.put(t, fileClock, clockRecord{HighWater: day(t, "2026-01-06T00:00:00Z")})
	keep := t.TempDir()
	for _, f := range []string{fileAppliance, fileClock, fileSequence} {
		b, _ := os.ReadFile(filepath.Join(cfg.Dir, f))
		os.WriteFile(filepath.Join(keep, f), b, 0o600)
	}
	e := env{now: "2026-02-01T00:00:00Z", platform: platformA}
	zzShow(t, "migrated", status(t, cfg, e))
	// Platform B ran its trial on a copy... here: a trial on B recorded after the migration.
	eb := env{now: "2026-02-02T00:00:00Z", platform: platformB}
	zzShow(t, "B", status(t, cfg, eb))
	cli(t, cfg, env{now: "2026-03-01T00:00:00Z", platform: platformA}, "", 0, "release", l1)
	now := env{now: "2027-06-01T00:00:00Z", platform: platformA}
	zzShow(t, "released, later", status(t, cfg, now))
	zzShow(t, "B later", status(t, cfg, env{now: "2027-06-01T00:00:00Z", platform: platformB}))

	for _, f := range []string{fileAppliance, fileClock} {
		b, _ := os.ReadFile(filepath.Join(keep, f))
		os.WriteFile(filepath.Join(cfg.Dir, f), b, 0o600)
	}
	zzShow(t, "after putting back appliance+clock, clock 2026-06-01", status(t, cfg, env{now: "2026-06-01T00:00:00Z", platform: platformA}))
	zzShow(t, "B after", status(t, cfg, env{now: "2027-06-01T00:00:00Z", platform: platformB}))
	zzHeads(t, cfg)
}
