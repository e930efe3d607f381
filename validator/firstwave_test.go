package validator

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"
	"golang.org/x/mod/sumdb/note"

	"github.com/tenurehq/tenure/shared/engine"
)

// firstWave is a state as validators from before the history wrote it:
// the appliance record without a first event, and the clock, sequence,
// first-use, trials/ and receipts/ records beside the licenses. The files
// are written here in exactly that layout (file names, record fields, the
// "mac" line) rather than kept under testdata, because such a state holds
// the appliance's private keys and none is ever committed.
type firstWave struct {
	cfg      *Config
	app      applianceRecord
	signer   note.Signer
	lrf      string
	receipts map[string]string // license id released to the receipt's text
}

func newFirstWave(t *testing.T, cfg *Config, created string) *firstWave {
	t.Helper()
	id := "A-firstwave01"
	skey, vkey, err := engine.GenerateKey(rand.Reader, id)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	identity, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	plat, err := parsePlatform(cfg.Product.ID, platformA)
	if err != nil {
		t.Fatal(err)
	}
	fw := &firstWave{cfg: cfg, signer: signer, receipts: map[string]string{},
		app: applianceRecord{ID: id, Product: "edge", Version: "0.40.0", DeviceKey: skey, Identity: identity.String(), Platform: plat, Created: day(t, created)}}
	r := &engine.Request{Appliance: id, Platform: plat, Product: "edge", Version: "0.40.0", DeviceKey: vkey,
		Recipient: identity.Recipient().String(), TrialStart: day(t, created), Mode: engine.ModeTrial, Installed: []string{},
		Sequence: 1, Created: day(t, created), Nonce: "0123456789abcdef0123456789abcdef"}
	lrf, err := engine.SignRequest(r, signer)
	if err != nil {
		t.Fatal(err)
	}
	fw.lrf = string(lrf)
	fw.put(t, fileAppliance, fw.app)
	fw.put(t, fileSequence, sequenceRecord{Sequence: 1})
	fw.put(t, dirTrials+"/"+plat.Fingerprint(), trialRecord{Platform: plat, Started: day(t, created)})
	return fw
}

func (fw *firstWave) put(t *testing.T, name string, v any) {
	t.Helper()
	b, err := encodeRecord(macKeyFor(fw.app.DeviceKey), name, v)
	if err != nil {
		t.Fatal(err)
	}
	fw.file(t, name, string(b))
}

func (fw *firstWave) file(t *testing.T, name, text string) {
	t.Helper()
	p := filepath.Join(fw.cfg.Dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// release writes the receipt a first-wave validator wrote for ids.
func (fw *firstWave) release(t *testing.T, contract string, seq uint64, at string, ids ...string) {
	t.Helper()
	r := &engine.Release{Contract: contract, Licenses: ids, Appliance: fw.app.ID, Released: day(t, at), Sequence: seq, Nonce: fmt.Sprintf("%032d", seq)}
	text, err := engine.SignRelease(r, fw.signer)
	if err != nil {
		t.Fatal(err)
	}
	fw.file(t, fmt.Sprintf("%s/%s.%d", dirReceipts, contract, seq), string(text))
	fw.put(t, fileSequence, sequenceRecord{Sequence: seq})
	for _, id := range ids {
		fw.receipts[id] = string(text)
	}
}

// TestFirstWaveMigration opens a state a validator from before the history
// wrote: it keeps its licenses, releases, trials, first use and clock,
// becomes a history once, and from then on is judged by the history alone.
func TestFirstWaveMigration(t *testing.T) {
	is := newIssuer(t, "tenure-issuer-test")
	cfg := testConfig(t, is.trust(t, ""))
	fw := newFirstWave(t, cfg, "2026-01-05T10:00:00Z")
	l1, s1 := is.license(t, fw.lrf, "IC-1", "2026-01-05", "2027-01-05", "2026-01-05T10:00:00Z", nil)
	l2, s2 := is.license(t, fw.lrf, "IC-2", "2026-01-05", "2027-01-05", "2026-01-05T10:00:00Z", func(l *engine.License) {
		l.Kind, l.Features, l.Limits = engine.KindAddon, []string{"peering"}, map[string]int64{"vpn_users": 100}
	})
	fw.file(t, dirLicenses+"/"+l1, s1)
	fw.file(t, dirLicenses+"/"+l2, s2)
	fw.put(t, fileFirstUse, firstUseRecord{At: day(t, "2026-01-06T09:00:00Z")})
	fw.release(t, "IC-2", 2, "2026-02-01T00:00:00Z", l2)
	fw.put(t, fileClock, clockRecord{HighWater: day(t, "2026-03-01T00:00:00Z")})
	platB, _ := parsePlatform("edge", platformB)
	fw.put(t, dirTrials+"/"+platB.Fingerprint(), trialRecord{Platform: platB, Started: day(t, "2026-02-10T00:00:00Z")})

	// The clock set back: the migrated mark holds.
	e := env{now: "2026-02-15T00:00:00Z", platform: platformA}
	s := status(t, cfg, e)
	if s.State != engine.ModeLicensed || standing(s, l1).Standing != engine.StandingActive || standing(s, l2).Standing != engine.StandingReleased ||
		!s.At.Equal(day(t, "2026-03-01T00:00:00Z")) || s.Limits["vpn_users"] != 250 {
		t.Fatalf("first-wave state after migration: %+v", s)
	}
	var app applianceRecord
	st := &store{dir: cfg.Dir, macKey: macKeyFor(fw.app.DeviceKey)}
	if _, err := st.getRecord(fileAppliance, &app); err != nil || app.First == "" {
		t.Fatalf("the appliance record names no first event after migration: %+v %v", app, err)
	}
	for _, gone := range []string{fileClock, fileSequence, fileFirstUse, dirTrials + "/" + platB.Fingerprint(), dirReceipts + "/IC-2.2"} {
		if _, err := os.Stat(filepath.Join(cfg.Dir, gone)); !os.IsNotExist(err) {
			t.Errorf("%s is still there after the migration (%v)", gone, err)
		}
	}
	// The receipt prints as it was, the sequence goes on from it, the first
	// use and the other platform's trial are kept.
	if got := cli(t, cfg, e, "", 0, "release", l2).Stdout; got != fw.receipts[l2] {
		t.Fatalf("the migrated receipt prints differently:\n%s\nwant\n%s", got, fw.receipts[l2])
	}
	r, _, err := engine.OpenRequest([]byte(cli(t, cfg, e, "", 0, "request").Stdout))
	if err != nil || r.Sequence != 3 || r.FirstUse == nil || !r.FirstUse.Equal(day(t, "2026-01-06T09:00:00Z")) || r.History == nil || !slices.Equal(r.Installed, []string{l1}) {
		t.Fatalf("LRF after migration: %v %+v", err, r)
	}
	if sb := status(t, cfg, env{now: "2026-03-01T00:00:00Z", platform: platformB}); !sb.Trial.Started.Equal(day(t, "2026-02-10T00:00:00Z")) {
		t.Fatalf("platform B's trial after migration: %+v", sb.Trial)
	}

	// Migrated once: putting the old files back changes nothing, and a
	// history deleted after the migration is damage, never a new start.
	fw.release(t, "IC-1", 9, "2026-02-01T00:00:00Z", l1)
	if s := status(t, cfg, e); s.State != engine.ModeLicensed || standing(s, l1).Standing != engine.StandingActive {
		t.Fatalf("a first-wave receipt put back after the migration counted: %+v", s)
	}
	if err := os.Remove(filepath.Join(cfg.Dir, fileHistory)); err != nil {
		t.Fatal(err)
	}
	s = status(t, cfg, e)
	if s.State != engine.ModeRestricted || !strings.HasPrefix(s.Reason, "state damaged") || len(s.Features) != 0 {
		t.Fatalf("a migrated state without its history: %+v", s)
	}
}

// TestFirstWaveMigrationPowerCut cuts the power at every step of the
// migration's writes: the state opens after each cut, licensed, and never
// as damage.
func TestFirstWaveMigrationPowerCut(t *testing.T) {
	is := newIssuer(t, "tenure-issuer-test")
	base := testConfig(t, is.trust(t, ""))
	fw := newFirstWave(t, base, "2026-01-05T10:00:00Z")
	l1, s1 := is.license(t, fw.lrf, "IC-1", "2026-01-05", "2027-01-05", "2026-01-05T10:00:00Z", nil)
	fw.file(t, dirLicenses+"/"+l1, s1)
	fw.put(t, fileClock, clockRecord{HighWater: day(t, "2026-01-05T10:00:00Z")})
	e := env{now: "2026-02-01T00:00:00Z", platform: platformA}
	for n := 1; ; n++ {
		cfg := testConfig(t, base.Trust)
		copyDir(t, base.Dir, cfg.Dir)
		steps, stop := cutFrom(n)
		Run(cfg, Request{Args: []string{"status", "--json"}, Env: e.vars()})
		stop()
		s := status(t, cfg, e)
		if s.State != engine.ModeLicensed || strings.HasPrefix(s.Reason, "state") || standing(s, l1).Standing != engine.StandingActive {
			t.Fatalf("cut %d of the migration: %+v", n, s)
		}
		if steps() < n {
			t.Logf("%d write steps, each cut survived", n-1)
			return
		}
	}
}
