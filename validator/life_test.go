package validator

import (
	"slices"
	"strings"
	"testing"

	"github.com/tenurehq/tenure/shared/engine"
)

// TestLife plays an appliance's whole life through Run, as a host would.
func TestLife(t *testing.T) {
	is := newIssuer(t, "tenure-issuer-test")
	cfg := testConfig(t, is.trust(t, ""))
	at := func(now string) env { return env{now: now, platform: platformA} }

	out := cli(t, cfg, at("2026-01-05T10:00:00Z"), "", 0, "init", "--product", "edge", "--version", "0.40.0").Stdout
	mustContain(t, "init", out, "initialised appliance A-", "trial until 2026-02-04T10:00:00Z")
	cli(t, cfg, at("2026-01-05T10:00:00Z"), "", 2, "init", "--product", "edge", "--version", "0.40.0")

	s := status(t, cfg, at("2026-01-05T11:00:00Z"))
	if s.State != engine.ModeTrial || !slices.Equal(s.Features, []string{"*"}) || s.Limits["vpn_users"] != 10 || !s.ConfigChanges {
		t.Fatalf("after init: %+v", s)
	}
	cli(t, cfg, at("2026-01-05T11:00:00Z"), "", 0, "check", "peering")
	cli(t, cfg, at("2026-01-05T11:00:00Z"), "", 1, "check", "--limit", "vpn_users", "11")
	cli(t, cfg, at("2026-01-05T11:00:00Z"), "", 2, "check", "teleport")

	mustContain(t, "first-use", cli(t, cfg, at("2026-01-06T08:00:00Z"), "", 0, "first-use").Stdout, "recorded at 2026-01-06T08:00:00Z")
	mustContain(t, "first-use again", cli(t, cfg, at("2026-01-07T08:00:00Z"), "", 0, "first-use").Stdout, "already recorded at 2026-01-06T08:00:00Z")

	lrf1 := cli(t, cfg, at("2026-01-07T09:00:00Z"), "", 0, "request").Stdout
	lrf2 := cli(t, cfg, at("2026-01-07T09:05:00Z"), "", 0, "request").Stdout
	r1, _, err := engine.OpenRequest([]byte(lrf1))
	if err != nil {
		t.Fatal(err)
	}
	r2, _, err := engine.OpenRequest([]byte(lrf2))
	if err != nil {
		t.Fatal(err)
	}
	if r1.Sequence != 1 || r2.Sequence != 2 || r1.Mode != engine.ModeTrial || r1.FirstUse == nil ||
		!r1.TrialStart.Equal(day(t, "2026-01-05T10:00:00Z")) || r1.Version != "0.40.0" || len(r1.Installed) != 0 {
		t.Fatalf("LRFs: %+v / %+v", r1, r2)
	}

	l1, sealed1 := is.license(t, lrf2, "IC-1042", "2026-01-07", "2027-01-07", "2026-01-07T09:30:00Z", nil)
	mustContain(t, "install", cli(t, cfg, at("2026-01-07T10:00:00Z"), sealed1, 0, "install", "-").Stdout, "installed license "+l1, "licensed")
	mustContain(t, "install again", cli(t, cfg, at("2026-01-07T10:00:00Z"), sealed1, 0, "install", "-").Stdout, "already installed")

	s = status(t, cfg, at("2026-01-08T00:00:00Z"))
	if s.State != engine.ModeLicensed || !slices.Equal(s.Features, []string{"scion", "vpn"}) || s.Until == nil ||
		!s.Until.Equal(day(t, "2027-01-07")) || standing(s, l1).Standing != engine.StandingActive {
		t.Fatalf("licensed: %+v", s)
	}
	cli(t, cfg, at("2026-01-08T00:00:00Z"), "", 0, "check", "vpn")
	cli(t, cfg, at("2026-01-08T00:00:00Z"), "", 1, "check", "peering")
	cli(t, cfg, at("2026-01-08T00:00:00Z"), "", 0, "check", "--limit", "vpn_users", "250")
	cli(t, cfg, at("2026-01-08T00:00:00Z"), "", 1, "check", "--limit", "vpn_users", "251")
	human := cli(t, cfg, at("2026-01-08T00:00:00Z"), "", 0, "status").Stdout
	mustContain(t, "status", human, "state:      licensed", "features:   scion, vpn", l1)

	// --at looks ahead without moving the high-water mark.
	s = status(t, cfg, at("2026-01-08T00:00:00Z"), "--at", "2027-02-01")
	if s.State != engine.ModeGrace || s.Grace == nil || !s.Grace.Ends.Equal(day(t, "2027-04-07")) || !slices.Equal(s.Features, []string{"scion", "vpn"}) {
		t.Fatalf("--at in grace: %+v", s)
	}
	s = status(t, cfg, at("2026-01-08T00:00:00Z"), "--at", "2027-06-01")
	if s.State != engine.ModeRestricted || s.ConfigChanges {
		t.Fatalf("--at in restricted: %+v", s)
	}
	if s = status(t, cfg, at("2026-01-08T00:00:00Z")); s.Clock.HighWater.After(day(t, "2026-01-09")) {
		t.Fatalf("--at moved the high-water mark: %+v", s.Clock)
	}

	// Restricted for real: configuration frozen, features from the grace set.
	late := at("2027-05-01T00:00:00Z")
	if s = status(t, cfg, late); s.State != engine.ModeRestricted {
		t.Fatalf("restricted: %+v", s)
	}
	cli(t, cfg, late, "", 1, "check", "--config-change")
	cli(t, cfg, late, "", 0, "check", "scion")
	cli(t, cfg, late, "", 1, "check", "peering")
	lrf3 := cli(t, cfg, late, "", 0, "request").Stdout
	r3, _, _ := engine.OpenRequest([]byte(lrf3))
	if r3.Mode != engine.ModeRestricted || r3.Sequence != 3 || !slices.Equal(r3.Installed, []string{l1}) {
		t.Fatalf("LRF in restricted: %+v", r3)
	}
	l2, sealed2 := is.license(t, lrf3, "IC-1042", "2027-01-07", "2028-01-07", "2027-05-01T00:00:00Z", func(l *engine.License) { l.Reason = engine.ReasonRenewal })
	cli(t, cfg, late, sealed2, 0, "install", "-")
	cli(t, cfg, late, "", 0, "check", "--config-change")
	if s = status(t, cfg, late); s.State != engine.ModeLicensed || !s.Until.Equal(day(t, "2028-01-07")) {
		t.Fatalf("renewed: %+v", s)
	}

	// Release drops the whole contract and prints one receipt, the same each time.
	rel := cli(t, cfg, at("2027-05-02T00:00:00Z"), "", 0, "release", l1)
	receipt, _, err := engine.OpenRelease([]byte(rel.Stdout), func(string) (string, error) { return r1.DeviceKey, nil })
	if err != nil {
		t.Fatalf("receipt does not verify: %v\n%s", err, rel.Stdout)
	}
	if receipt.Contract != "IC-1042" || !slices.Equal(receipt.Licenses, []string{l1, l2}) || receipt.Sequence != 4 || receipt.Appliance != r1.Appliance {
		t.Fatalf("receipt: %+v", receipt)
	}
	if again := cli(t, cfg, at("2027-05-03T00:00:00Z"), "", 0, "release", l2).Stdout; again != rel.Stdout {
		t.Fatalf("release again printed another receipt:\n%s\n%s", again, rel.Stdout)
	}
	s = status(t, cfg, at("2027-05-03T00:00:00Z"))
	if s.State != engine.ModeRestricted || standing(s, l1).Standing != engine.StandingReleased || standing(s, l2).Standing != engine.StandingReleased {
		t.Fatalf("after release: %+v", s)
	}
	r := cli(t, cfg, at("2027-05-03T00:00:00Z"), sealed1, 1, "install", "-")
	mustContain(t, "reinstall released", r.Stderr, "was released")

	// Backup, then restore on the same platform (its NIC replaced): everything resumes.
	bk := cli(t, cfg, at("2027-05-04T00:00:00Z"), "a long pass phrase\n", 0, "backup", "--passphrase-file", "-").Stdout
	mustContain(t, "backup", bk, "-----BEGIN AGE ENCRYPTED FILE-----")
	same := testConfig(t, cfg.Trust)
	cli(t, same, env{now: "2027-05-05T00:00:00Z", platform: platformA2}, "wrong\n"+bk, 1, "restore", "--passphrase-file", "-")
	cli(t, same, env{now: "2027-05-05T00:00:00Z", platform: platformA2}, "a long pass phrase\n"+bk, 0, "restore", "--passphrase-file", "-")
	s2 := status(t, same, env{now: "2027-05-05T00:00:00Z", platform: platformA2})
	if s2.State != engine.ModeRestricted || standing(s2, l2).Standing != engine.StandingReleased || !s2.Trial.Started.Equal(r1.TrialStart) {
		t.Fatalf("restored on the same platform: %+v", s2)
	}
	if again := cli(t, same, env{now: "2027-05-05T00:00:00Z", platform: platformA2}, "", 0, "release", l1).Stdout; again != rel.Stdout {
		t.Fatal("the restored appliance lost its receipt")
	}
	lrf4 := cli(t, same, env{now: "2027-05-05T00:00:00Z", platform: platformA2}, "", 0, "request").Stdout
	r4, _, _ := engine.OpenRequest([]byte(lrf4))
	if r4.Appliance != r1.Appliance || r4.DeviceKey != r1.DeviceKey || r4.Sequence != 5 || r4.FirstUse == nil {
		t.Fatalf("restored LRF: %+v", r4)
	}

	// Restore on another platform: a new appliance, a fresh trial, the old licenses inactive.
	other := testConfig(t, cfg.Trust)
	eb := env{now: "2027-05-06T12:00:00Z", platform: platformB}
	cli(t, other, eb, "", 2, "status")
	out = cli(t, other, eb, "a long pass phrase\n"+bk, 0, "restore", "--passphrase-file", "-").Stdout
	mustContain(t, "restore elsewhere", out, "as new appliance A-", "bound to another platform")
	s3 := status(t, other, eb)
	if s3.State != engine.ModeTrial || !s3.Trial.Started.Equal(day(t, "2027-05-06T12:00:00Z")) || len(s3.Licenses) != 2 {
		t.Fatalf("restored elsewhere: %+v", s3)
	}
	for _, l := range s3.Licenses {
		if l.Standing != engine.StandingInactive || !strings.HasPrefix(l.Reason, "bound to another platform") || l.Contract != "IC-1042" {
			t.Errorf("old license on the new appliance: %+v", l)
		}
	}
	lrf5 := cli(t, other, eb, "", 0, "request").Stdout
	r5, _, _ := engine.OpenRequest([]byte(lrf5))
	if r5.Appliance == r1.Appliance || r5.DeviceKey == r1.DeviceKey || r5.Recipient == r1.Recipient || r5.Sequence != 1 || len(r5.Installed) != 0 || r5.FirstUse != nil {
		t.Fatalf("new appliance's LRF: %+v", r5)
	}
	// A license for the new appliance installs beside the old ones.
	l3, sealed3 := is.license(t, lrf5, "IC-1042", "2027-05-06", "2028-01-07", "2027-05-06T13:00:00Z", func(l *engine.License) { l.Reason = engine.ReasonReallocation })
	cli(t, other, eb, sealed3, 0, "install", "-")
	if s3 = status(t, other, eb); s3.State != engine.ModeLicensed || standing(s3, l3).Standing != engine.StandingActive {
		t.Fatalf("new appliance licensed: %+v", s3)
	}
	// And restoring another appliance's backup over it is refused.
	r = cli(t, other, eb, "a long pass phrase\n"+bk, 1, "restore", "--passphrase-file", "-")
	mustContain(t, "restore over another appliance", r.Stderr, "this state holds appliance")
}

// TestClockRollback: setting the clock back gains nothing.
func TestClockRollback(t *testing.T) {
	is := newIssuer(t, "tenure-issuer-test")
	cfg := testConfig(t, is.trust(t, ""))
	cli(t, cfg, env{now: "2026-01-05T10:00:00Z", platform: platformA}, "", 0, "init", "--product", "edge", "--version", "0.40.0")
	// Within the hour the mark stays in memory only; a later run writes it.
	status(t, cfg, env{now: "2026-03-01T00:00:00Z", platform: platformA})
	s := status(t, cfg, env{now: "2025-03-01T00:00:00Z", platform: platformA})
	want := day(t, "2026-03-01T00:00:00Z")
	if !s.Clock.RolledBack || !s.At.Equal(want) || !s.Clock.Used.Equal(want) || s.State != engine.ModeRestricted {
		t.Fatalf("rolled back: %+v", s)
	}
	mustContain(t, "warnings", strings.Join(s.Warnings, "\n"), "behind the latest time")
	cli(t, cfg, env{now: "2025-03-01T00:00:00Z", platform: platformA}, "", 1, "check", "--config-change")

	// In a warm instance the mark moves in memory on every call.
	a := New(cfg)
	run := func(now string, args ...string) Response {
		return a.Run(Request{Args: args, Env: env{now: now, platform: platformA}.vars()})
	}
	run("2026-03-01T00:30:00Z", "check", "vpn")
	if r := run("2026-03-01T00:10:00Z", "status", "--json"); !strings.Contains(r.Stdout, `"high_water": "2026-03-01T00:30:00Z"`) {
		t.Fatalf("in-memory high-water mark:\n%s", r.Stdout)
	}
}

func TestRefusals(t *testing.T) {
	is, cfg, e, lrf := newAppliance(t)

	otherCfg := testConfig(t, cfg.Trust)
	cli(t, otherCfg, env{now: e.now, platform: platformB}, "", 0, "init", "--product", "edge", "--version", "0.40.0")
	otherLRF := cli(t, otherCfg, env{now: e.now, platform: platformB}, "", 0, "request").Stdout
	_, forOther := is.license(t, otherLRF, "IC-1", "2026-01-05", "2027-01-05", "2026-01-05T10:00:00Z", nil)

	_, good := is.license(t, lrf, "IC-1", "2026-01-05", "2027-01-05", "2026-01-05T10:00:00Z", nil)
	b := []byte(good)
	i := strings.Index(good, "\n") + 30
	b[i] ^= 'A' ^ 'B'
	if b[i] == good[i] {
		b[i] = 'Q'
	}
	tampered := string(b)

	_, newer := is.license(t, lrf, "IC-1", "2026-01-05", "2027-01-05", "2026-01-05T10:00:00Z", func(l *engine.License) { l.MinVersion = "0.41.0" })
	_, otherAppliance := is.license(t, lrf, "IC-1", "2026-01-05", "2027-01-05", "2026-01-05T10:00:00Z", func(l *engine.License) { l.Appliance = "A-zzzzzzzzzz" })
	_, otherPlatform := is.license(t, lrf, "IC-1", "2026-01-05", "2027-01-05", "2026-01-05T10:00:00Z", func(l *engine.License) {
		l.Platform = engine.HashPlatform("edge", map[string]string{"machine_id": "x", "dmi_uuid": "y", "mac:eth0": "z"})
	})
	stranger := newIssuer(t, "tenure-issuer-stranger")
	_, unknown := stranger.license(t, lrf, "IC-1", "2026-01-05", "2027-01-05", "2026-01-05T10:00:00Z", nil)
	// Another key of the same name as the trusted one (every development
	// key is called tenure-dev): the refusal tells them apart by hash.
	twin := newIssuer(t, "tenure-issuer-test")
	_, sameName := twin.license(t, lrf, "IC-1", "2026-01-05", "2027-01-05", "2026-01-05T10:00:00Z", nil)
	keyID := func(vkey string) string {
		name, rest, _ := strings.Cut(vkey, "+")
		hash, _, _ := strings.Cut(rest, "+")
		return name + "+" + hash
	}

	for _, tc := range []struct {
		name, license string
		cfg           *Config
		want          string
	}{
		{"sealed to another appliance", forOther, cfg, "sealed to another appliance"},
		{"for another appliance", otherAppliance, cfg, "license is for appliance A-zzzzzzzzzz"},
		{"bound to another platform", otherPlatform, cfg, "bound to another platform"},
		{"tampered file", tampered, cfg, "damaged or altered"},
		{"needs newer software", newer, cfg, "needs software >= 0.41.0"},
		{"unknown key", unknown, cfg, "signed by an unknown key (" + keyID(stranger.vkey) + "), and this validator trusts " + keyID(is.vkey)},
		{"a key of the same name", sameName, cfg, "signed by an unknown key (" + keyID(twin.vkey) + "), and this validator trusts " + keyID(is.vkey)},
		{"key past not-after", good, &Config{Dir: cfg.Dir, Trust: is.trust(t, " not-after=2026-01-01"), Product: cfg.Product}, "after its key's not-after date"},
		{"no trusted key", good, &Config{Dir: cfg.Dir, Product: cfg.Product}, "built without a trusted issuer key"},
		{"not a license", "hello\n", cfg, "damaged or altered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(t, tc.cfg, e, tc.license, 1, "install", "-")
			mustContain(t, "refusal", r.Stderr, tc.want)
			if s := status(t, tc.cfg, e); len(s.Licenses) != 0 {
				t.Fatalf("a refused license was stored: %+v", s.Licenses)
			}
		})
	}
	// The software version the host passes is the one checked.
	cli(t, cfg, env{now: e.now, platform: platformA, version: "0.41.0"}, newer, 0, "install", "-")
	s := status(t, cfg, e)
	if l := s.Licenses[0]; l.Standing != engine.StandingInactive || !strings.HasPrefix(l.Reason, "needs software >= 0.41.0") {
		t.Fatalf("at the init version: %+v", l)
	}
	if s = status(t, cfg, env{now: e.now, platform: platformA, version: "0.41.0"}); s.State != engine.ModeLicensed {
		t.Fatalf("at the upgraded version: %+v", s)
	}
	// A platform is required.
	r := cli(t, cfg, env{now: e.now}, "", 2, "status")
	mustContain(t, "no platform", r.Stderr, "TENURE_PLATFORM")
}

func TestTamperedRecords(t *testing.T) {
	is := newIssuer(t, "tenure-issuer-test")
	cfg := testConfig(t, is.trust(t, ""))
	e := env{now: "2026-01-05T10:00:00Z", platform: platformA}
	cli(t, cfg, e, "", 0, "init", "--product", "edge", "--version", "0.40.0")
	st := &store{dir: cfg.Dir}
	edit := func(name, from, to string) []byte {
		t.Helper()
		b, err := st.read(name)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), from) {
			t.Fatalf("%s does not hold %q:\n%s", name, from, b)
		}
		if err := st.write(name, []byte(strings.Replace(string(b), from, to, 1))); err != nil {
			t.Fatal(err)
		}
		return b
	}

	// The trial's start moved forward in the history: the event fails its
	// MAC, nothing is proven, and the appliance is restricted with nothing.
	later := env{now: "2026-03-01T00:00:00Z", platform: platformA}
	good := edit(fileHistory, "2026-01-05", "2026-06-05")
	s := status(t, cfg, later)
	if s.State != engine.ModeRestricted || !strings.HasPrefix(s.Reason, "state damaged") || len(s.Features) != 0 || s.ConfigChanges {
		t.Fatalf("an edited history extended the trial: %+v", s)
	}
	cli(t, cfg, later, "", 1, "check", "scion")
	r := cli(t, cfg, later, "", 2, "request")
	mustContain(t, "request on a damaged history", r.Stderr, "state damaged", "tenure restore")
	if err := st.write(fileHistory, good); err != nil {
		t.Fatal(err)
	}

	// The facts record set back by hand: restricted, "state tampered".
	edit(fileFacts, `"high_water":"2026-01-05`, `"high_water":"2025-01-05`)
	s = status(t, cfg, e)
	if s.State != engine.ModeRestricted || !strings.HasPrefix(s.Reason, "state tampered") || s.ConfigChanges {
		t.Fatalf("tampered facts: %+v", s)
	}
	cli(t, cfg, e, "", 1, "check", "--config-change")

	// A newly installed license floors the clock but does not vouch for the
	// record: the state stays tampered.
	lrf := cli(t, cfg, later, "", 0, "request").Stdout
	_, sealed := is.license(t, lrf, "IC-1", "2026-03-01", "2027-03-01", "2026-03-01T01:00:00Z", nil)
	cli(t, cfg, later, sealed, 0, "install", "-")
	s = status(t, cfg, e)
	if s.State != engine.ModeRestricted || !strings.Contains(s.Reason, "clock reset") || s.At.Before(day(t, "2026-03-01T01:00:00Z")) {
		t.Fatalf("after a new license: %+v", s)
	}
	// A clock reset answering the newest request re-establishes it.
	lrf = cli(t, cfg, later, "", 0, "request").Stdout
	cli(t, cfg, later, is.reset(t, lrf, "2026-03-01T02:00:00Z", nil), 0, "install", "-")
	if s = status(t, cfg, later); s.State != engine.ModeLicensed || s.At.Before(day(t, "2026-03-01T02:00:00Z")) {
		t.Fatalf("after a clock reset: %+v", s)
	}
	// A deleted facts record counts as tampered too, and reinstalling the
	// same license does not clear it.
	if err := st.remove(fileFacts); err != nil {
		t.Fatal(err)
	}
	if s = status(t, cfg, later); !strings.Contains(s.Reason, "record of frequent facts is missing") || s.ConfigChanges {
		t.Fatalf("deleted facts: %+v", s)
	}
	cli(t, cfg, later, sealed, 0, "install", "-")
	if s = status(t, cfg, later); !strings.HasPrefix(s.Reason, "state tampered") {
		t.Fatalf("the same license again cleared a tampered clock: %+v", s)
	}
}

// TestWarmInstance: a warm instance answers checks without crypto and
// re-reads when another process changes the state.
func TestWarmInstance(t *testing.T) {
	is, cfg, e, lrf := newAppliance(t)
	_, sealed := is.license(t, lrf, "IC-1", "2026-01-05", "2027-01-05", "2026-01-05T10:00:00Z", nil)

	a := New(cfg)
	call := func(want int, args ...string) {
		t.Helper()
		expect(t, a.Run(Request{Args: args, Env: e.vars()}), want, args)
	}
	call(0, "check", "peering") // a trial allows every feature
	call(0, "check", "scion")
	before := a.CryptoOps()
	for range 100 {
		call(0, "check", "scion")
		call(1, "check", "--limit", "vpn_users", "11")
	}
	if n := a.CryptoOps(); n != before {
		t.Fatalf("checks over an unchanged state did %d crypto operations", n-before)
	}
	// Another process installs a license: the warm instance sees it.
	cli(t, cfg, e, sealed, 0, "install", "-")
	call(0, "check", "--limit", "vpn_users", "250")
	opened := a.CryptoOps()
	if opened != before+1 {
		t.Fatalf("re-reading after an install did %d crypto operations, want 1", opened-before)
	}
	for range 100 {
		call(0, "check", "vpn")
	}
	if a.CryptoOps() != opened {
		t.Fatal("licensed checks did crypto")
	}
	// Its own writes are seen too.
	call(0, "release", "L-00000b")
	call(1, "check", "--config-change")
}
