package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// The platforms of the story: the appliance's first machine, the one it
// migrates to, and the one a backup is restored onto.
const (
	platform1 = `{"machine_id":"m-0001","dmi_uuid":"u-0001","mac:eth0":"52:54:00:00:00:01"}`
	platform2 = `{"machine_id":"m-0002","dmi_uuid":"u-0002","mac:eth0":"52:54:00:00:00:02"}`
	platform3 = `{"machine_id":"m-0003","dmi_uuid":"u-0003","mac:eth0":"52:54:00:00:00:03"}`
)

const contract = "IC-1042"

// contractBody is the whole contract, as PUT /v1/contracts/{id} takes it
// every time.
func contractBody(change string, features []string, limits map[string]int64) map[string]any {
	return map[string]any{
		"customer": "ACME Networks", "product": "edge", "tier": "pro", "kind": "commercial",
		"features": features, "limits": limits, "appliances": 1, "term_months": 12,
		"change": change, "status": "active",
	}
}

var (
	ordered      = []string{"monitoring", "scion", "vpn"}
	orderLimits  = map[string]int64{"vpn_users": 100, "peering_tunnels": 0}
	upgraded     = []string{"monitoring", "peering", "scion", "vpn"}
	upgradLimits = map[string]int64{"vpn_users": 250, "peering_tunnels": 100}
)

// activation is the answer of POST /v1/activations.
type activation struct {
	ID        string `json:"id"`
	License   string `json:"license"`
	Reason    string `json:"reason"`
	From      string `json:"from"`
	Until     string `json:"until"`
	Appliance string `json:"appliance"`
}

var applianceID = regexp.MustCompile(`\bA-[a-z0-9]+\b`)

// play is the story.
func (d *demo) play() error {
	fmt.Fprintf(d.out, "Tenure: the life of an appliance, played with TENURE_NOW on the issuer and the appliance.\n")
	fmt.Fprintf(d.out, "Work folder %s (state folders, issuer data, files carried between them).\n", d.dir)

	edge1 := d.appliance("edge-01", platform1)
	d.chapter("Trial and activation")

	d.at("2026-01-05T10:00:00Z")
	out, _, err := d.tenure(edge1, nil, 0, "init", "--product", "edge", "--version", "0.40.0")
	if err != nil {
		return fmt.Errorf("init: %w", err)
	}
	edge1.id = applianceID.FindString(out)
	if _, err := d.show("init", edge1, "", "init: appliance "+edge1.id+", trial starts",
		want{state: "trial", until: "2026-02-04T10:00:00Z", features: everyFeature}); err != nil {
		return err
	}

	d.at("2026-01-06T09:00:00Z")
	var created struct {
		Token string `json:"token"`
	}
	raw, err := d.call("order", "PUT", "/v1/contracts/"+contract, d.issuer.admin, contractBody("order", ordered, orderLimits), 201, &created)
	if err != nil {
		return err
	}
	d.record("order", nil, "issuer", raw)
	token := created.Token
	d.line(d.now, "issuer", "contract "+contract+" ordered", "pro · "+strings.Join(ordered, ", ")+" · 1 appliance · 12 months")

	d.at("2026-01-08T08:30:00Z")
	if _, _, err := d.tenure(edge1, nil, 0, "first-use"); err != nil {
		return fmt.Errorf("first-use: %w", err)
	}
	if _, err := d.show("first-use", edge1, "", "first use of the licensed function",
		want{state: "trial", until: "2026-02-04T10:00:00Z", features: everyFeature}); err != nil {
		return err
	}

	d.at("2026-01-12T09:00:00Z")
	lrf, err := d.request("request", edge1)
	if err != nil {
		return err
	}
	act, err := d.activate("activation", edge1, token, lrf, "initial", "2026-01-08T00:00:00Z", "2027-01-08T00:00:00Z", "(from the first use)")
	if err != nil {
		return err
	}
	if err := d.install("licensed", edge1, act, want{state: "licensed", until: "2027-01-08T00:00:00Z", features: ordered}); err != nil {
		return err
	}
	if err := d.check("licensed", edge1, "peering", false); err != nil {
		return err
	}

	d.chapter("Projections: status --at, read-only")
	if _, err := d.show("projection-grace", edge1, "2027-02-01T00:00:00Z", "status --at 2027-02-01: license ended",
		want{state: "grace", until: "2027-04-08T00:00:00Z", features: ordered}); err != nil {
		return err
	}
	if _, err := d.show("projection-restricted", edge1, "2027-05-01T00:00:00Z", "status --at 2027-05-01: grace ended",
		want{state: "restricted", features: ordered, frozen: true}); err != nil {
		return err
	}

	d.chapter("Renewal, late: installed in grace, it takes effect from the grace start")
	d.at("2027-02-15T09:00:00Z")
	if _, err := d.show("grace", edge1, "", "no renewal yet: grace since 2027-01-08",
		want{state: "grace", until: "2027-04-08T00:00:00Z", features: ordered}); err != nil {
		return err
	}
	raw, err = d.call("renewal-order", "PUT", "/v1/contracts/"+contract, d.issuer.admin, contractBody("renewal", ordered, orderLimits), 200, nil)
	if err != nil {
		return err
	}
	d.record("renewal-order", nil, "issuer", raw)
	d.line(d.now, "issuer", "contract "+contract+" renewed", "revision 2 · 12 months more")
	if lrf, err = d.request("renewal-request", edge1); err != nil {
		return err
	}
	if act, err = d.activate("renewal-activation", edge1, token, lrf, "renewal", "2027-01-08T00:00:00Z", "2028-01-08T00:00:00Z", "(from the grace start)"); err != nil {
		return err
	}
	if err := d.install("renewed", edge1, act, want{state: "licensed", until: "2028-01-08T00:00:00Z", features: ordered}); err != nil {
		return err
	}

	d.chapter("Upgrade: a feature added mid-term")
	d.at("2027-06-01T09:00:00Z")
	raw, err = d.call("upgrade-order", "PUT", "/v1/contracts/"+contract, d.issuer.admin, contractBody("upgrade", upgraded, upgradLimits), 200, nil)
	if err != nil {
		return err
	}
	d.record("upgrade-order", nil, "issuer", raw)
	d.line(d.now, "issuer", "contract "+contract+" upgraded", "+ peering · vpn_users 250")
	if lrf, err = d.request("upgrade-request", edge1); err != nil {
		return err
	}
	if act, err = d.activate("upgrade-activation", edge1, token, lrf, "upgrade", "2027-06-01T00:00:00Z", "2028-01-08T00:00:00Z", "(the rest of the term)"); err != nil {
		return err
	}
	if err := d.install("upgraded", edge1, act, want{state: "licensed", until: "2028-01-08T00:00:00Z", features: upgraded}); err != nil {
		return err
	}
	if err := d.check("upgraded", edge1, "peering", true); err != nil {
		return err
	}

	d.chapter("Usage report: a true-up from a site that never connects")
	d.at("2027-08-01T09:00:00Z")
	for _, c := range []struct {
		n    string
		exit int
	}{{"120", 0}, {"300", 1}} {
		if _, _, err := d.tenure(edge1, nil, c.exit, "check", "--limit", "vpn_users", c.n); err != nil {
			return fmt.Errorf("usage check: %w", err)
		}
	}
	d.line(d.now, edge1.name, "checks: vpn_users 120 allowed, 300 denied", "counted, never enforced beyond the limit")
	report, _, err := d.tenure(edge1, nil, 0, "report")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := d.save(edge1.name+".usage", report); err != nil {
		return err
	}
	d.line(d.now, edge1.name, "report: "+edge1.name+".usage", "signed by the device key, chained to its history")
	raw, err = d.call("usage-report", "POST", "/v1/reports", token, map[string]any{"contract": contract, "report": report}, 201, nil)
	if err != nil {
		return err
	}
	d.record("usage-report", edge1, "issuer", raw)
	var view struct {
		Peaks map[string]struct {
			Peak  int64 `json:"peak"`
			Limit int64 `json:"limit"`
		} `json:"peaks"`
	}
	if _, err := d.call("usage-view", "GET", "/v1/contracts/"+contract, token, nil, 200, &view); err != nil {
		return err
	}
	if p := view.Peaks["vpn_users"]; p.Peak != 300 || p.Limit != 250 {
		return fmt.Errorf("usage-view: vpn_users peak %d of %d, want 300 of 250", p.Peak, p.Limit)
	}
	d.line(d.now, "issuer", "report accepted: vpn_users peak 300 of 250", "over the limit: a fact for the renewal")

	d.chapter("Migration to new hardware: a release receipt frees the seat")
	d.at("2027-09-01T09:00:00Z")
	receipt, _, err := d.tenure(edge1, nil, 0, "release", act.ID)
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if err := d.save(edge1.name+".receipt", receipt); err != nil {
		return err
	}
	// Released licenses count for nothing, not even a grace period.
	if _, err := d.show("released", edge1, "", "release: "+edge1.name+".receipt",
		want{state: "restricted", features: nil, frozen: true}); err != nil {
		return err
	}
	var freed struct {
		Released       []string `json:"released"`
		AppliancesFree int      `json:"appliances_free"`
	}
	raw, err = d.call("release", "POST", "/v1/releases", token, map[string]any{"receipt": receipt}, 200, &freed)
	if err != nil {
		return err
	}
	d.record("release", nil, "issuer", raw)
	if len(freed.Released) != 3 || freed.AppliancesFree != 1 {
		return fmt.Errorf("release: the issuer released %q and has %d free seats, want the 3 licenses of %s and 1 free seat", freed.Released, freed.AppliancesFree, edge1.name)
	}
	d.line(d.now, "issuer", "receipt accepted", fmt.Sprintf("%d licenses released · %d seat free", len(freed.Released), freed.AppliancesFree))

	edge2 := d.appliance("edge-02", platform2)
	if out, _, err = d.tenure(edge2, nil, 0, "init", "--product", "edge", "--version", "0.41.0"); err != nil {
		return fmt.Errorf("init edge-02: %w", err)
	}
	edge2.id = applianceID.FindString(out)
	if _, err := d.show("new-hardware", edge2, "", "init on the new machine: "+edge2.id,
		want{state: "trial", until: "2027-10-01T09:00:00Z", features: everyFeature}); err != nil {
		return err
	}
	if lrf, err = d.request("migration-request", edge2); err != nil {
		return err
	}
	if act, err = d.activate("migration-activation", edge2, token, lrf, "reallocation", "2027-09-01T00:00:00Z", "2028-01-08T00:00:00Z", "(the freed seat's term)"); err != nil {
		return err
	}
	if err := d.install("migrated", edge2, act, want{state: "licensed", until: "2028-01-08T00:00:00Z", features: upgraded}); err != nil {
		return err
	}

	d.chapter("Backup, and restore onto another platform")
	d.at("2027-10-01T09:00:00Z")
	pass := filepath.Join(d.dir, "backup.pass")
	if err := d.save("backup.pass", "correct horse battery staple\n"); err != nil {
		return err
	}
	backup, _, err := d.tenure(edge2, nil, 0, "backup", "--passphrase-file", pass)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := d.save(edge2.name+".backup", backup); err != nil {
		return err
	}
	d.line(d.now, edge2.name, "backup: state encrypted to a passphrase", fmt.Sprintf("%d bytes", len(backup)))

	edge3 := d.appliance("edge-03", platform3)
	if out, _, err = d.tenure(edge3, []byte(backup), 0, "restore", "--passphrase-file", pass); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	// It names the old appliance, then the new one.
	if ids := applianceID.FindAllString(out, -1); len(ids) > 0 {
		edge3.id = ids[len(ids)-1]
	}
	if edge3.id == "" || edge3.id == edge2.id {
		return fmt.Errorf("restore: onto another platform it should make a new appliance; it printed:\n%s", out)
	}
	s, err := d.show("restored", edge3, "", "restore on another platform: "+edge3.id,
		want{state: "trial", until: "2027-10-31T09:00:00Z", features: everyFeature})
	if err != nil {
		return err
	}
	if inactive := standings(s, "inactive"); inactive == 0 || inactive != len(s.Licenses) {
		return fmt.Errorf("restored: want every restored license inactive (bound to another platform), got %+v", s.Licenses)
	}

	var moved struct {
		Released []string `json:"released"`
	}
	raw, err = d.call("reallocation", "POST", "/v1/contracts/"+contract+"/reallocations", d.issuer.admin,
		map[string]any{"appliance": edge2.id, "reason": "restored onto new hardware as " + edge3.id}, 200, &moved)
	if err != nil {
		return err
	}
	d.record("reallocation", nil, "issuer", raw)
	d.line(d.now, "issuer", "admin reallocation of "+edge2.id+"'s seat", fmt.Sprintf("%d license released", len(moved.Released)))
	if lrf, err = d.request("restore-request", edge3); err != nil {
		return err
	}
	if act, err = d.activate("restore-activation", edge3, token, lrf, "reallocation", "2027-10-01T00:00:00Z", "2028-01-08T00:00:00Z", ""); err != nil {
		return err
	}
	return d.install("restored-licensed", edge3, act, want{state: "licensed", until: "2028-01-08T00:00:00Z", features: upgraded})
}

// request makes an LRF and keeps it as a file, as it would travel.
func (d *demo) request(step string, a *appliance) (string, error) {
	lrf, _, err := d.tenure(a, nil, 0, "request")
	if err != nil {
		return "", fmt.Errorf("%s: %w", step, err)
	}
	name := fmt.Sprintf("%s-%s.lrf", a.name, step)
	if err := d.save(name, lrf); err != nil {
		return "", err
	}
	d.line(d.now, a.name, "request: "+name, fmt.Sprintf("%d bytes, signed by the device key", len(lrf)))
	return lrf, nil
}

// activate sends an LRF to the issuer and checks the license's case and
// window.
func (d *demo) activate(step string, a *appliance, token, lrf, reason, from, until, note string) (*activation, error) {
	var act activation
	raw, err := d.call(step, "POST", "/v1/activations", token, map[string]any{"contract": contract, "request": lrf}, 201, &act)
	if err != nil {
		return nil, err
	}
	d.record(step, a, "issuer", raw)
	if act.Reason != reason || act.From != from || act.Until != until || act.Appliance != a.id {
		return nil, fmt.Errorf("%s: the issuer answered %s %s to %s for %s, want %s %s to %s for %s",
			step, act.Reason, act.From, act.Until, act.Appliance, reason, from, until, a.id)
	}
	detail := fmt.Sprintf("%s %s → %s", reason, short(from), short(until))
	if note != "" {
		detail += " " + note
	}
	d.line(d.now, "issuer", "activation → "+act.ID, detail)
	return &act, nil
}

// install carries a license to the appliance, installs it and checks the
// status that follows.
func (d *demo) install(step string, a *appliance, act *activation, w want) error {
	name := act.ID + ".license"
	if err := d.save(name, act.License); err != nil {
		return err
	}
	if _, _, err := d.tenure(a, nil, 0, "install", filepath.Join(d.dir, name)); err != nil {
		return fmt.Errorf("%s: %w", step, err)
	}
	_, err := d.show(step, a, "", "install "+name, w)
	return err
}

// check asks whether a feature may be used.
func (d *demo) check(step string, a *appliance, feature string, allowed bool) error {
	_, code, err := d.tenure(a, nil, 1, "check", feature)
	if err != nil {
		return fmt.Errorf("%s: %w", step, err)
	}
	if (code == 0) != allowed {
		return fmt.Errorf("%s: check %s exited %d, want allowed=%v", step, feature, code, allowed)
	}
	answer := "denied (exit 1)"
	if allowed {
		answer = "allowed (exit 0)"
	}
	d.record(step, a, "check", json.RawMessage(fmt.Sprintf(`{"feature":%q,"exit":%d}`, feature, code)))
	d.line(d.now, a.name, "check "+feature, answer)
	return nil
}

func (d *demo) save(name, text string) error {
	return os.WriteFile(filepath.Join(d.dir, name), []byte(text), 0o600)
}

func standings(s *status, standing string) int {
	n := 0
	for _, l := range s.Licenses {
		if l.Standing == standing {
			n++
		}
	}
	return n
}
