package issuertest

import (
	"maps"
	"slices"
	"testing"

	"github.com/tenurehq/tenure/shared/engine"
)

// Reissues (DESIGN.md, "Issuing", case 3) beyond the stored license.

// testReissueRepins: a reissue to a changed platform mints a license with
// the current components and re-pins the binding to them, so the next
// change is judged against the machine as it last licensed it.
func testReissueRepins(t *testing.T, e *env) {
	tok := e.order("IC-1", 1)
	d := newDevice(t, 1)
	first := e.mustActivate(tok, "IC-1", d.lrf(e), "", "initial", "2026-01-05T00:00:00Z", "2027-01-05T00:00:00Z")
	pinned := d.platform()

	d.raw["mac:eth0"] = "02:42:ac:11:ff:01" // a NIC replaced
	code, a, body := e.activate(tok, "IC-1", d.lrf(e), "")
	e.want(201, code, body, "reissue from a changed platform")
	if a.Reason != "reissue" || a.ID == first.ID || !a.From.Equal(first.From) || !a.Until.Equal(first.Until) {
		t.Fatalf("reissue from a changed platform = %s %s [%s, %s), want a new license of the same window", a.ID, a.Reason, a.From, a.Until)
	}
	b, err := e.store.Binding(t.Context(), "IC-1", d.id)
	if err != nil {
		t.Fatal(err)
	}
	if maps.Equal(b.Platform, pinned) || !maps.Equal(b.Platform, d.platform()) {
		t.Fatalf("binding platform %v after the reissue, want the request's %v (was %v)", b.Platform, d.platform(), pinned)
	}
	lic, err := e.store.License(t.Context(), a.ID)
	if err != nil || !maps.Equal(lic.Platform, d.platform()) {
		t.Fatalf("reissued license binds %v, %v; want %v", lic.Platform, err, d.platform())
	}
	// The same machine again: the stored reissue, not another.
	code, again, body := e.activate(tok, "IC-1", d.lrf(e), "")
	e.want(200, code, body, "reissue from the re-pinned platform")
	if again.ID != a.ID {
		t.Fatalf("reissue from the re-pinned platform = %s, want the stored %s", again.ID, a.ID)
	}
	// Another component changes later: judged against the re-pinned
	// platform, one component changed; against the first pin it would be
	// two (a copy).
	d.raw["machine_id"] = "m-reinstalled"
	if m := engine.MatchPlatform(pinned, d.platform(), e.minMatch()); m.OK() {
		t.Fatalf("the test's second change still matches the first pin (%s); it would not show the re-pin", m)
	}
	code, later, body := e.activate(tok, "IC-1", d.lrf(e), "")
	e.want(201, code, body, "reissue after a second change")
	if later.Reason != "reissue" || later.ID == a.ID {
		t.Fatalf("reissue after a second change = %s %s", later.ID, later.Reason)
	}
}

// testReissueHeals: a reissue carries the stored bytes of the chain's other
// licenses the LRF does not list as installed, and nothing the appliance
// has; it mints none for them.
func testReissueHeals(t *testing.T, e *env) {
	tok := e.order("IC-1", 1)
	d := newDevice(t, 1)
	first := e.mustActivate(tok, "IC-1", d.lrf(e), "", "initial", "2026-01-05T00:00:00Z", "2027-01-05T00:00:00Z")
	e.at("2026-06-10")
	e.change("IC-1", "upgrade", nil)
	up := e.mustActivate(tok, "IC-1", d.lrf(e, installed(first.ID)), "", "upgrade", "2026-06-10T00:00:00Z", "2027-01-05T00:00:00Z")
	if len(up.Licenses) != 0 {
		t.Fatalf("an upgrade answered licenses %v; only a reissue heals", up.Licenses)
	}

	// The initial license's file was damaged: the LRF lists the upgrade only.
	code, a, body := e.activate(tok, "IC-1", d.lrf(e, installed(up.ID)), "")
	e.want(200, code, body, "reissue with a license missing")
	if a.ID != up.ID || a.License != up.License || a.Reason != "reissue" {
		t.Fatalf("reissue = %s %s, want the stored %s", a.ID, a.Reason, up.ID)
	}
	if len(a.Licenses) != 1 || a.Licenses[0].ID != first.ID || a.Licenses[0].License != first.License {
		t.Fatalf("reissue's licenses = %+v, want the stored bytes of %s", a.Licenses, first.ID)
	}
	// Nothing missing: nothing more.
	code, a, body = e.activate(tok, "IC-1", d.lrf(e, installed(first.ID, up.ID)), "")
	e.want(200, code, body, "reissue with every license installed")
	if len(a.Licenses) != 0 {
		t.Fatalf("reissue with every license installed answered licenses %+v", a.Licenses)
	}
	// Neither installed: both, the answer's own in license.
	code, a, body = e.activate(tok, "IC-1", d.lrf(e), "")
	e.want(200, code, body, "reissue with no license installed")
	if a.ID != up.ID || len(a.Licenses) != 1 || a.Licenses[0].ID != first.ID {
		t.Fatalf("reissue with no license installed = %s with %+v", a.ID, a.Licenses)
	}
	if lics, _, err := e.store.Licenses(t.Context(), "IC-1", "", 100); err != nil || len(lics) != 2 {
		t.Fatalf("licenses after the reissues = %d, %v; want 2", len(lics), err)
	}
}

// installed lists ids as the LRF's installed licenses.
func installed(ids ...string) func(*engine.Request) {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	return func(r *engine.Request) { r.Installed = ids }
}

// minMatch is the binding threshold of the product the env licenses.
func (e *env) minMatch() int { return e.product.Binding.MinMatch }
