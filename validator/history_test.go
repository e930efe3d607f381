package validator

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tenurehq/tenure/shared/engine"
)

// TestDamagedLicenseFile: a license file deleted or altered while its
// license is active makes the state damaged (configuration frozen, the
// features the history proves), the LRF stops listing it so the issuer sends
// it again, and installing the same bytes heals it. Once the license has
// expired, the same loss is a warning only.
func TestDamagedLicenseFile(t *testing.T) {
	is, cfg, e, lrf := newAppliance(t)
	id, sealed := is.license(t, lrf, "IC-1", "2026-01-05", "2026-06-05", "2026-01-05T10:00:00Z", nil)
	cli(t, cfg, e, sealed, 0, "install", "-")
	file := filepath.Join(cfg.Dir, dirLicenses, id)
	for _, damage := range []struct {
		name string
		do   func() error
	}{
		{"deleted", func() error { return os.Remove(file) }},
		{"altered", func() error { return os.WriteFile(file, []byte(strings.Replace(sealed, "A", "B", 1)), 0o600) }},
		{"replaced", func() error { return os.WriteFile(file, []byte(sealed[:len(sealed)/2]), 0o600) }},
	} {
		if err := damage.do(); err != nil {
			t.Fatal(err)
		}
		s := status(t, cfg, e)
		if s.State != engine.ModeLicensed || s.ConfigChanges || !strings.HasPrefix(s.Reason, "state damaged") || !strings.Contains(s.Reason, id) ||
			!slices.Equal(s.Features, []string{"scion", "vpn"}) {
			t.Fatalf("%s license file: %+v", damage.name, s)
		}
		cli(t, cfg, e, "", 1, "check", "--config-change")
		cli(t, cfg, e, "", 0, "check", "vpn")
		r, _, err := engine.OpenRequest([]byte(cli(t, cfg, e, "", 0, "request").Stdout))
		if err != nil || len(r.Installed) != 0 {
			t.Fatalf("%s license file: the LRF lists %v (%v)", damage.name, r.Installed, err)
		}
		out := cli(t, cfg, e, sealed, 0, "install", "-").Stdout
		mustContain(t, "reinstall", out, "restored")
		if s := status(t, cfg, e); !s.ConfigChanges || strings.HasPrefix(s.Reason, "state") {
			t.Fatalf("after reinstalling the %s file: %+v", damage.name, s)
		}
	}
	// Another file under the same id is refused, and changes nothing.
	_, other := is.license(t, lrf, "IC-1", "2026-01-05", "2027-06-05", "2026-01-05T10:00:00Z", func(l *engine.License) { l.ID = id })
	cli(t, cfg, e, other, 1, "install", "-")

	// Expired: losing the file loses nothing, so it is a warning.
	late := env{now: "2026-07-01T00:00:00Z", platform: platformA}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	s := status(t, cfg, late)
	if s.State != engine.ModeGrace || !s.ConfigChanges || strings.HasPrefix(s.Reason, "state") {
		t.Fatalf("an expired license's file deleted: %+v", s)
	}
	mustContain(t, "warnings", strings.Join(s.Warnings, "\n"), id, "nothing is lost")
}

// TestTrail: an LRF carries the history head and the entries since the head
// its newest license names, at most 256; a receipt's head is its release
// event.
func TestTrail(t *testing.T) {
	is := newIssuer(t, "tenure-issuer-test")
	cfg := testConfig(t, is.trust(t, ""))
	e := env{now: "2026-01-05T10:00:00Z", platform: platformA}
	cli(t, cfg, e, "", 0, "init", "--product", "edge", "--version", "0.40.0")
	cli(t, cfg, e, "", 0, "first-use")
	lrf := cli(t, cfg, e, "", 0, "request").Stdout
	req, _, err := engine.OpenRequest([]byte(lrf))
	if err != nil || req.History == nil || req.History.Head.N != 2 || req.History.From != 1 || len(req.History.Entries) != 2 {
		t.Fatalf("first LRF's trail: %v %+v", err, req.History)
	}
	id, sealed := is.license(t, lrf, "IC-1", "2026-01-05", "2027-01-05", "2026-01-05T10:00:00Z", func(l *engine.License) {
		l.Head = req.History.LicenseHead()
	})
	cli(t, cfg, e, sealed, 0, "install", "-")
	// Many platforms seen (each a trial event): the trail stays at 256.
	for i := range 260 {
		cli(t, cfg, env{now: e.now, platform: fmt.Sprintf(`{"machine_id":"m-%03d"}`, i)}, "", 0, "status")
	}
	next, _, err := engine.OpenRequest([]byte(cli(t, cfg, e, "", 0, "request").Stdout))
	if err != nil || next.History.Head.N != 263 || len(next.History.Entries) != engine.MaxTrail || !next.History.Holds(next.History.Head) {
		t.Fatalf("LRF after 263 events: %v head %+v from %d, %d entries", err, next.History.Head, next.History.From, len(next.History.Entries))
	}
	rel, _, err := engine.OpenRelease([]byte(cli(t, cfg, e, "", 0, "release", id).Stdout), func(string) (string, error) { return req.DeviceKey, nil })
	if err != nil || rel.History.Head.N != 264 || !rel.History.Holds(next.History.Head) {
		t.Fatalf("receipt's trail: %v %+v", err, rel.History)
	}
	// The same receipt again, byte for byte.
	again := cli(t, cfg, e, "", 0, "release", id).Stdout
	if first := cli(t, cfg, e, "", 0, "release", id).Stdout; again != first {
		t.Fatal("release printed another receipt the second time")
	}
}
