package main

import (
	"encoding/json"
	"maps"
	"strings"

	"github.com/tenurehq/tenure/shared/engine"
)

const (
	proF   = `["monitoring","peering","scion","vpn"]`
	proL   = `{"peering_tunnels":100,"vpn_users":250}`
	liteF  = `["monitoring","scion"]`
	liteL  = `{"peering_tunnels":10,"vpn_users":25}`
	trialL = `{"peering_tunnels":5,"vpn_users":10}`

	// licensed1 is the outcome of L-000001 counting on 2026-03-01.
	licensed1 = `{"state":"licensed","at":"2026-03-01T00:00:00Z","until":"2027-01-05T00:00:00Z","features":` + proF + `,"limits":` + proL + `,
		"config_changes":true,"next":{"state":"grace","at":"2027-01-05T00:00:00Z"},
		"licenses":[{"id":"L-000001","standing":"active"}],"warnings":[],"rolled_back":false}`
)

// inactiveTrial is the outcome on 2026-01-20T12:00:00Z when L-000001 does not
// count for reason: the platform's own trial.
func inactiveTrial(reason string) string {
	return `{"state":"trial","at":"2026-01-20T12:00:00Z","until":"2026-02-04T08:00:00Z","features":["*"],"limits":` + trialL + `,
		"config_changes":true,"next":{"state":"restricted","at":"2026-02-04T08:00:00Z"},
		"licenses":[{"id":"L-000001","standing":"inactive","reason":"~` + reason + `"}],"warnings":[],"rolled_back":false}`
}

// A lic is one installed license of a scenario.
type lic struct {
	id         string
	signed     string
	released   bool
	releasedAt string // optional: when it was released
}

// scenario writes a scenario vector for the appliance on its own platform
// unless raw says otherwise.
type scenario struct {
	name, about string
	host        string
	extra       []kv // high-water, at, floor, version
	raw         map[string]string
	trust       string
	product     string
	licenses    []lic
	expect      string
}

func (g *gen) scenario(s scenario) {
	hdr := []kv{{"vector", "scenario"}, {"appliance", appliance}}
	version := "0.40.0"
	for _, e := range s.extra {
		if e.key == "version" {
			version = e.value
		}
	}
	hdr = append(hdr, kv{"version", version}, kv{"trial-start", "2026-01-05T08:00:00Z"}, kv{"host", s.host})
	for _, e := range s.extra {
		if e.key != "version" {
			hdr = append(hdr, e)
		}
	}
	raw := s.raw
	if raw == nil {
		raw = platform
	}
	p, _ := json.MarshalIndent(raw, "", "  ")
	trust := s.trust
	if trust == "" {
		trust = g.cur.vkey
	}
	secs := []sec{{"platform", string(p) + "\n"}, {"device-key", g.device.vkey + "\n"}, {"trust", trust + "\n"}}
	if s.product != "" {
		secs = append(secs, sec{"product", s.product})
	}
	for _, l := range s.licenses {
		name := "license " + l.id
		if l.released {
			name += " released"
			if l.releasedAt != "" {
				name += " " + l.releasedAt
			}
		}
		secs = append(secs, sec{name, l.signed})
	}
	g.write("scenario-"+s.name, s.about, hdr, s.expect, secs...)
}

// denyProduct is the example product failing closed in restricted mode.
func denyProduct() string {
	return strings.Replace(string(edgeProduct()), `"restricted_features": "last"`, `"restricted_features": "deny"`, 1)
}

func (g *gen) scenarios() {
	l1 := lic{id: "L-000001", signed: g.license(nil)}
	renewal := func(issued string) lic {
		return lic{id: "L-000002", signed: g.license(func(l *engine.License) {
			l.ID, l.Revision, l.Reason = "L-000002", 2, engine.ReasonRenewal
			l.From, l.Until, l.Issued = ts("2027-01-05"), ts("2028-01-05"), ts(issued)
		})}
	}
	addon := lic{id: "L-000100", signed: g.license(func(l *engine.License) {
		l.ID, l.Contract, l.Tier, l.Kind = "L-000100", "IC-1043", "vpn-pack", engine.KindAddon
		l.Features, l.Limits = []string{"vpn"}, map[string]int64{"vpn_users": 50}
		l.Until = ts("2028-01-05")
	})}

	// Trial.
	g.scenario(scenario{name: "trial", about: "A new appliance with no license is in trial: every feature, the product's trial limits.",
		host: "2026-01-20T12:00:00Z",
		expect: `{"state":"trial","at":"2026-01-20T12:00:00Z","until":"2026-02-04T08:00:00Z","features":["*"],"limits":` + trialL + `,
			"config_changes":true,"next":{"state":"restricted","at":"2026-02-04T08:00:00Z"},"licenses":[],"warnings":[],"rolled_back":false}`})
	g.scenario(scenario{name: "trial-ended", about: "Thirty days after the trial started, with no license: restricted, configuration frozen; features keep answering as in the trial.",
		host: "2026-02-10T00:00:00Z",
		expect: `{"state":"restricted","at":"2026-02-10T00:00:00Z","features":["*"],"limits":` + trialL + `,
			"config_changes":false,"licenses":[],"warnings":[],"rolled_back":false}`})
	g.scenario(scenario{name: "trial-ended-deny", about: "The same for a product with restricted_features \"deny\": no feature.",
		host: "2026-02-10T00:00:00Z", product: denyProduct(),
		expect: `{"state":"restricted","at":"2026-02-10T00:00:00Z","features":[],"limits":{},
			"config_changes":false,"licenses":[],"warnings":[],"rolled_back":false}`})

	// Licensed.
	g.scenario(scenario{name: "licensed", about: "One valid license: its features and limits until its end, then grace.",
		host: "2026-03-01T00:00:00Z", licenses: []lic{l1},
		expect: `{"state":"licensed","at":"2026-03-01T00:00:00Z","until":"2027-01-05T00:00:00Z","features":` + proF + `,"limits":` + proL + `,
			"config_changes":true,"next":{"state":"grace","at":"2027-01-05T00:00:00Z"},
			"licenses":[{"id":"L-000001","standing":"active"}],"warnings":[],"rolled_back":false}`})
	g.scenario(scenario{name: "two-bases", about: "Two base licenses: the union of their features, the largest of each limit.",
		host: "2026-03-01T00:00:00Z", licenses: []lic{
			{id: "L-000001", signed: g.license(func(l *engine.License) { l.Tier, l.Features, l.Limits = "lite", liteFeatures, liteLimits })},
			{id: "L-000200", signed: g.license(func(l *engine.License) {
				l.ID, l.Contract, l.Tier = "L-000200", "IC-2000", "vpn-only"
				l.Features, l.Limits = []string{"peering", "vpn"}, map[string]int64{"peering_tunnels": 5, "vpn_users": 100}
				l.Until = ts("2026-07-05")
			})},
		},
		expect: `{"state":"licensed","at":"2026-03-01T00:00:00Z","until":"2027-01-05T00:00:00Z","features":` + proF + `,
			"limits":{"peering_tunnels":10,"vpn_users":100},"config_changes":true,"next":{"state":"grace","at":"2027-01-05T00:00:00Z"},
			"licenses":[{"id":"L-000001","standing":"active"},{"id":"L-000200","standing":"active"}],"warnings":[],"rolled_back":false}`})
	g.scenario(scenario{name: "addon-with-base", about: "An addon adds its limits to the base license's while the base is valid.",
		host: "2026-03-01T00:00:00Z", licenses: []lic{l1, addon},
		expect: `{"state":"licensed","at":"2026-03-01T00:00:00Z","until":"2027-01-05T00:00:00Z","features":` + proF + `,
			"limits":{"peering_tunnels":100,"vpn_users":300},"config_changes":true,"next":{"state":"grace","at":"2027-01-05T00:00:00Z"},
			"licenses":[{"id":"L-000001","standing":"active"},{"id":"L-000100","standing":"active"}],"warnings":[],"rolled_back":false}`})
	g.scenario(scenario{name: "addon-without-base", about: "An addon alone licenses nothing: the appliance stays in its trial, with the trial's limits.",
		host: "2026-01-20T12:00:00Z", licenses: []lic{addon},
		expect: `{"state":"trial","at":"2026-01-20T12:00:00Z","until":"2026-02-04T08:00:00Z","features":["*"],"limits":` + trialL + `,
			"config_changes":true,"next":{"state":"restricted","at":"2026-02-04T08:00:00Z"},
			"licenses":[{"id":"L-000100","standing":"inactive","reason":"an addon counts only while a base license is valid"}],"warnings":[],"rolled_back":false}`})
	g.scenario(scenario{name: "addon-after-base", about: "After the base's grace period the addon, still in its window, does not keep the appliance licensed.",
		host: "2027-05-01T00:00:00Z", licenses: []lic{l1, addon},
		expect: `{"state":"restricted","at":"2027-05-01T00:00:00Z","features":` + proF + `,"limits":{"peering_tunnels":100,"vpn_users":300},
			"config_changes":false,"grace":{"started":"2027-01-05T00:00:00Z","ends":"2027-04-05T00:00:00Z"},
			"licenses":[{"id":"L-000001","standing":"expired"},{"id":"L-000100","standing":"inactive","reason":"an addon counts only while a base license is valid"}],"warnings":[],"rolled_back":false}`})

	// Expiry warning and pending renewals.
	g.scenario(scenario{name: "expiry-warning", about: "Within 30 days of the end of coverage, with no renewal installed, the status warns.",
		host: "2026-12-15T00:00:00Z", licenses: []lic{l1},
		expect: `{"state":"licensed","at":"2026-12-15T00:00:00Z","until":"2027-01-05T00:00:00Z","features":` + proF + `,"limits":` + proL + `,
			"config_changes":true,"next":{"state":"grace","at":"2027-01-05T00:00:00Z"},
			"licenses":[{"id":"L-000001","standing":"active"}],"warnings":["~license coverage ends 2027-01-05T00:00:00Z, in 21 days"],"rolled_back":false}`})
	g.scenario(scenario{name: "renewal-pending", about: "A renewal installed early is pending; coverage runs on to its end and no expiry warning shows.",
		host: "2026-12-15T00:00:00Z", licenses: []lic{l1, renewal("2026-12-10T10:00:00Z")},
		expect: `{"state":"licensed","at":"2026-12-15T00:00:00Z","until":"2028-01-05T00:00:00Z","features":` + proF + `,"limits":` + proL + `,
			"config_changes":true,"next":{"state":"grace","at":"2028-01-05T00:00:00Z"},
			"licenses":[{"id":"L-000001","standing":"active"},{"id":"L-000002","standing":"pending"}],"warnings":[],"rolled_back":false}`})

	// Grace.
	g.scenario(scenario{name: "grace", about: "After the license ends: grace for the product's 90 days, with the features and limits it had just before.",
		host: "2027-02-01T00:00:00Z", licenses: []lic{l1},
		expect: `{"state":"grace","at":"2027-02-01T00:00:00Z","until":"2027-04-05T00:00:00Z","features":` + proF + `,"limits":` + proL + `,
			"config_changes":true,"grace":{"started":"2027-01-05T00:00:00Z","ends":"2027-04-05T00:00:00Z"},
			"next":{"state":"restricted","at":"2027-04-05T00:00:00Z"},
			"licenses":[{"id":"L-000001","standing":"expired"}],"warnings":[],"rolled_back":false}`})
	g.scenario(scenario{name: "grace-days-of-license", about: "A license's own grace_days set the length of the grace period.",
		host: "2027-01-20T00:00:00Z", licenses: []lic{{id: "L-000001", signed: g.license(func(l *engine.License) { l.GraceDays = 30 })}},
		expect: `{"state":"grace","at":"2027-01-20T00:00:00Z","until":"2027-02-04T00:00:00Z","features":` + proF + `,"limits":` + proL + `,
			"config_changes":true,"grace":{"started":"2027-01-05T00:00:00Z","ends":"2027-02-04T00:00:00Z"},
			"next":{"state":"restricted","at":"2027-02-04T00:00:00Z"},
			"licenses":[{"id":"L-000001","standing":"expired"}],"warnings":[],"rolled_back":false}`})
	g.scenario(scenario{name: "grace-ended", about: "After grace: restricted, configuration frozen; features keep answering from the grace set.",
		host: "2027-05-01T00:00:00Z", licenses: []lic{l1},
		expect: `{"state":"restricted","at":"2027-05-01T00:00:00Z","features":` + proF + `,"limits":` + proL + `,
			"config_changes":false,"grace":{"started":"2027-01-05T00:00:00Z","ends":"2027-04-05T00:00:00Z"},
			"licenses":[{"id":"L-000001","standing":"expired"}],"warnings":[],"rolled_back":false}`})
	g.scenario(scenario{name: "grace-ended-deny", about: "The same for a product with restricted_features \"deny\": no feature.",
		host: "2027-05-01T00:00:00Z", licenses: []lic{l1}, product: denyProduct(),
		expect: `{"state":"restricted","at":"2027-05-01T00:00:00Z","features":[],"limits":{},
			"config_changes":false,"grace":{"started":"2027-01-05T00:00:00Z","ends":"2027-04-05T00:00:00Z"},
			"licenses":[{"id":"L-000001","standing":"expired"}],"warnings":[],"rolled_back":false}`})
	g.scenario(scenario{name: "renewal-in-grace", about: "A renewal issued in grace takes effect from the start of grace: coverage is continuous and the appliance is licensed.",
		host: "2027-02-10T12:00:00Z", licenses: []lic{l1, renewal("2027-02-10T10:00:00Z")},
		expect: `{"state":"licensed","at":"2027-02-10T12:00:00Z","until":"2028-01-05T00:00:00Z","features":` + proF + `,"limits":` + proL + `,
			"config_changes":true,"next":{"state":"grace","at":"2028-01-05T00:00:00Z"},
			"licenses":[{"id":"L-000001","standing":"expired"},{"id":"L-000002","standing":"active"}],"warnings":[],"rolled_back":false}`})

	// Release and downgrade.
	g.scenario(scenario{name: "released", about: "A released license never starts a grace period: restricted, with no feature.",
		host: "2027-02-01T00:00:00Z", licenses: []lic{{id: "L-000001", signed: l1.signed, released: true}},
		expect: `{"state":"restricted","at":"2027-02-01T00:00:00Z","features":[],"limits":{},
			"config_changes":false,"licenses":[{"id":"L-000001","standing":"released"}],"warnings":[],"rolled_back":false}`})
	pending := g.license(func(l *engine.License) { l.From, l.Until = ts("2026-01-15"), ts("2027-01-15") })
	for _, c := range []struct{ name, host string }{{"released-pending-in-trial", "2026-01-10T00:00:00Z"}, {"released-pending-after-from", "2026-01-20T00:00:00Z"}} {
		g.scenario(scenario{name: c.name, about: "A pending license released during the trial never became valid: it does not end the trial, and until and next agree with the mode on either side of its from.",
			host: c.host, licenses: []lic{{id: "L-000001", signed: pending, released: true, releasedAt: "2026-01-06T12:00:00Z"}},
			expect: `{"state":"trial","at":"` + c.host + `","until":"2026-02-04T08:00:00Z","features":["*"],"limits":` + trialL + `,
			"config_changes":true,"next":{"state":"restricted","at":"2026-02-04T08:00:00Z"},
			"licenses":[{"id":"L-000001","standing":"released"}],"warnings":[],"rolled_back":false}`})
	}
	g.scenario(scenario{name: "released-after-valid", about: "A license released after it became valid ended the trial for good: restricted, with no feature.",
		host: "2026-03-01T00:00:00Z", licenses: []lic{{id: "L-000001", signed: l1.signed, released: true, releasedAt: "2026-02-01T00:00:00Z"}},
		expect: `{"state":"restricted","at":"2026-03-01T00:00:00Z","features":[],"limits":{},
			"config_changes":false,"licenses":[{"id":"L-000001","standing":"released"}],"warnings":[],"rolled_back":false}`})
	g.scenario(scenario{name: "downgrade", about: "A downgrade supersedes the current license: its tier applies from its from date.",
		host: "2026-07-01T00:00:00Z", licenses: []lic{l1, {id: "L-000003", signed: g.license(func(l *engine.License) {
			l.ID, l.Revision, l.Reason, l.Tier = "L-000003", 2, engine.ReasonDowngrade, "lite"
			l.Features, l.Limits, l.Supersedes = liteFeatures, liteLimits, []string{"L-000001"}
			l.From, l.Issued = ts("2026-06-15"), ts("2026-06-15T11:00:00Z")
		})}},
		expect: `{"state":"licensed","at":"2026-07-01T00:00:00Z","until":"2027-01-05T00:00:00Z","features":` + liteF + `,"limits":` + liteL + `,
			"config_changes":true,"next":{"state":"grace","at":"2027-01-05T00:00:00Z"},
			"licenses":[{"id":"L-000001","standing":"superseded"},{"id":"L-000003","standing":"active"}],"warnings":[],"rolled_back":false}`})

	// Clock.
	g.scenario(scenario{name: "clock-set-back", about: "The host clock set back a year: the engine evaluates at the high-water mark and reports the rollback.",
		host: "2026-03-01T00:00:00Z", extra: []kv{{"high-water", "2027-03-01T00:00:00Z"}}, licenses: []lic{l1},
		expect: `{"state":"grace","at":"2027-03-01T00:00:00Z","until":"2027-04-05T00:00:00Z","features":` + proF + `,"limits":` + proL + `,
			"config_changes":true,"grace":{"started":"2027-01-05T00:00:00Z","ends":"2027-04-05T00:00:00Z"},
			"next":{"state":"restricted","at":"2027-04-05T00:00:00Z"},"licenses":[{"id":"L-000001","standing":"expired"}],
			"warnings":["~the host clock (2026-03-01T00:00:00Z) is behind the latest time this appliance has seen (2027-03-01T00:00:00Z)"],"rolled_back":true}`})
	g.scenario(scenario{name: "clock-issued-floor", about: "The newest issue time of an installed license is a floor for the clock.",
		host: "2026-01-01T00:00:00Z", licenses: []lic{l1},
		expect: `{"state":"licensed","at":"2026-01-05T09:00:00Z","until":"2027-01-05T00:00:00Z","features":` + proF + `,"limits":` + proL + `,
			"config_changes":true,"next":{"state":"grace","at":"2027-01-05T00:00:00Z"},
			"licenses":[{"id":"L-000001","standing":"active"}],"warnings":[],"rolled_back":false}`})
	// A license issued by an issuer whose clock ran far ahead, and the
	// clock reset that sets it aside.
	future := lic{id: "L-000002", signed: g.license(func(l *engine.License) {
		l.ID, l.Contract, l.From, l.Until, l.Issued = "L-000002", "IC-2099", ts("2099-01-01"), ts("2100-01-01"), ts("2099-01-01T00:00:00Z")
	})}
	g.scenario(scenario{name: "clock-future-issued", about: "A license issued in 2099 floors the clock at 2099: the appliance is judged then.",
		host: "2026-03-01T00:00:00Z", licenses: []lic{l1, future},
		expect: `{"state":"licensed","at":"2099-01-01T00:00:00Z","until":"2100-01-01T00:00:00Z","features":` + proF + `,"limits":` + proL + `,
			"config_changes":true,"next":{"state":"grace","at":"2100-01-01T00:00:00Z"},
			"licenses":[{"id":"L-000001","standing":"expired"},{"id":"L-000002","standing":"active"}],"warnings":[],"rolled_back":false}`})
	g.scenario(scenario{name: "clock-reset-future-issued", about: "After a clock reset, a license issued more than a day after its mark is inactive and no longer floors the clock.",
		host: "2026-03-01T00:00:00Z", extra: []kv{{"high-water", "2026-03-01T00:00:00Z"}, {"clock-reset", "2026-03-01T00:00:00Z"}}, licenses: []lic{l1, future},
		expect: `{"state":"licensed","at":"2026-03-01T00:00:00Z","until":"2027-01-05T00:00:00Z","features":` + proF + `,"limits":` + proL + `,
			"config_changes":true,"next":{"state":"grace","at":"2027-01-05T00:00:00Z"},
			"licenses":[{"id":"L-000001","standing":"active"},{"id":"L-000002","standing":"inactive","reason":"~issued in the future"}],"warnings":[],"rolled_back":false}`})
	futureDown := lic{id: "L-000002", signed: g.license(func(l *engine.License) {
		l.ID, l.Tier, l.Features, l.Limits, l.Reason = "L-000002", "lite", liteFeatures, liteLimits, engine.ReasonDowngrade
		l.From, l.Supersedes, l.Issued = ts("2026-02-01"), []string{"L-000001"}, ts("2099-01-01T00:00:00Z")
	})}
	g.scenario(scenario{name: "clock-reset-future-downgrade", about: "A downgrade issued in the future is set aside by a clock reset, but what it superseded stays superseded: nothing counts until a reissue.",
		host: "2026-03-01T00:00:00Z", extra: []kv{{"high-water", "2026-03-01T00:00:00Z"}, {"clock-reset", "2026-03-01T00:00:00Z"}}, licenses: []lic{l1, futureDown},
		expect: `{"state":"restricted","at":"2026-03-01T00:00:00Z","features":[],"limits":{},"config_changes":false,
			"licenses":[{"id":"L-000001","standing":"superseded"},{"id":"L-000002","standing":"inactive","reason":"~issued in the future"}],"warnings":[],"rolled_back":false}`})
	drift := lic{id: "L-000002", signed: g.license(func(l *engine.License) {
		l.ID, l.Contract, l.Issued = "L-000002", "IC-2099", ts("2026-03-01T23:00:00Z")
	})}
	g.scenario(scenario{name: "clock-reset-drift", about: "After a clock reset, a license issued less than a day after its mark is clock drift: it counts and floors the clock.",
		host: "2026-03-01T00:00:00Z", extra: []kv{{"high-water", "2026-03-01T00:00:00Z"}, {"clock-reset", "2026-03-01T00:00:00Z"}}, licenses: []lic{l1, drift},
		expect: `{"state":"licensed","at":"2026-03-01T23:00:00Z","until":"2027-01-05T00:00:00Z","features":` + proF + `,"limits":` + proL + `,
			"config_changes":true,"next":{"state":"grace","at":"2027-01-05T00:00:00Z"},
			"licenses":[{"id":"L-000001","standing":"active"},{"id":"L-000002","standing":"active"}],"warnings":[],"rolled_back":false}`})
	g.scenario(scenario{name: "at-ignores-floors", about: "status --at evaluates at exactly that instant: no high-water mark, build floor or issue time applies, and no rollback is reported.",
		host: "2027-03-01T00:00:00Z", extra: []kv{{"high-water", "2027-03-01T00:00:00Z"}, {"floor", "2027-02-01T00:00:00Z"}, {"at", "2026-01-04T00:00:00Z"}},
		licenses: []lic{l1},
		expect: `{"state":"trial","at":"2026-01-04T00:00:00Z","until":"2026-01-05T00:00:00Z","features":["*"],"limits":` + trialL + `,
			"config_changes":true,"next":{"state":"licensed","at":"2026-01-05T00:00:00Z"},
			"licenses":[{"id":"L-000001","standing":"pending"}],"warnings":[],"rolled_back":false}`})

	// Binding: the class rule (a class matches when any of its components
	// does; every class the license carries but one, and at least two).
	nic := maps.Clone(platform)
	nic["mac:eth0"] = "00:1b:21:77:01:02"
	g.scenario(scenario{name: "nic-swap", about: "One of three component classes changed (a replaced NIC): the license still binds.",
		host: "2026-03-01T00:00:00Z", raw: nic, licenses: []lic{l1},
		expect: licensed1})
	two := maps.Clone(nic)
	two["dmi_uuid"] = "11112222-3333-4444-5555-666677778888"
	g.scenario(scenario{name: "two-components-changed", about: "Two of three component classes changed: another platform. The license is inactive and the platform gets its own trial.",
		host: "2026-01-20T12:00:00Z", raw: two, licenses: []lic{l1},
		expect: inactiveTrial("bound to another platform (1 of 3 component classes match, 2 needed; differ: dmi, mac)")})
	g.scenario(scenario{name: "other-machine", about: "A state copied to another machine: the license is inactive there, and after that platform's trial the appliance is restricted.",
		host: "2026-03-01T00:00:00Z", raw: map[string]string{"machine_id": "ffeeddccbbaa99887766554433221100", "dmi_uuid": "00000000-1111-2222-3333-444455556666", "mac:eth0": "52:54:00:12:34:56"},
		licenses: []lic{l1},
		expect: `{"state":"restricted","at":"2026-03-01T00:00:00Z","features":["*"],"limits":` + trialL + `,"config_changes":false,
			"licenses":[{"id":"L-000001","standing":"inactive","reason":"~bound to another platform (0 of 3 component classes match, 2 needed; differ: dmi, mac, machine)"}],
			"warnings":[],"rolled_back":false}`})
	g.classScenarios()

	inactive := func(name, about, reason string, edit func(*engine.License), extra ...kv) {
		g.scenario(scenario{name: name, about: about, host: "2026-01-20T12:00:00Z", extra: extra,
			licenses: []lic{{id: "L-000001", signed: g.license(edit)}},
			expect: `{"state":"trial","at":"2026-01-20T12:00:00Z","until":"2026-02-04T08:00:00Z","features":["*"],"limits":` + trialL + `,
				"config_changes":true,"next":{"state":"restricted","at":"2026-02-04T08:00:00Z"},
				"licenses":[{"id":"L-000001","standing":"inactive","reason":"~` + reason + `"}],"warnings":[],"rolled_back":false}`})
	}
	inactive("other-appliance", "A license for another appliance does not count here.",
		"license is for appliance A-9x8w7v6u, this is A-7f3k2m9q", func(l *engine.License) { l.Appliance = otherApp })
	inactive("other-product", "A license for another product does not count here.",
		"license is for product core, this appliance runs edge", func(l *engine.License) { l.Product = "core" })
	inactive("other-device-key", "A license bound to another device key (a restored or cloned appliance) does not count.",
		"bound to another device key", func(l *engine.License) { l.DeviceKeyHash = engine.KeyHash(g.other.vkey) })
	inactive("software-too-old", "Software older than the license's min_version: the license is inactive until the software is upgraded.",
		"needs software >= 0.38.0 (this is 0.37.2)", nil, kv{"version", "0.37.2"})
	inactive("software-too-new", "Software newer than the license's max_version.",
		"needs software <= 0.99.0 (this is 1.2.0)", func(l *engine.License) { l.MaxVersion = "0.99.0" }, kv{"version", "1.2.0"})
	g.scenario(scenario{name: "key-not-after", about: "A license issued after its key's not-after date is inactive.",
		host: "2026-01-20T12:00:00Z", trust: g.cur.vkey + " not-after=2026-01-01", licenses: []lic{l1},
		expect: `{"state":"trial","at":"2026-01-20T12:00:00Z","until":"2026-02-04T08:00:00Z","features":["*"],"limits":` + trialL + `,
			"config_changes":true,"next":{"state":"restricted","at":"2026-02-04T08:00:00Z"},
			"licenses":[{"id":"L-000001","standing":"inactive","reason":"~issued 2026-01-05T09:00:00Z, after its key's not-after date"}],
			"warnings":[],"rolled_back":false}`})
	g.scenario(scenario{name: "unknown-signer", about: "A license signed by a key the validator does not trust is inactive.",
		host: "2026-01-20T12:00:00Z", licenses: []lic{{id: "L-000001", signed: g.license(nil, g.rogue)}},
		expect: `{"state":"trial","at":"2026-01-20T12:00:00Z","until":"2026-02-04T08:00:00Z","features":["*"],"limits":` + trialL + `,
			"config_changes":true,"next":{"state":"restricted","at":"2026-02-04T08:00:00Z"},
			"licenses":[{"id":"L-000001","standing":"inactive","reason":"~signed by an unknown key (tenure-issuer-rogue)"}],
			"warnings":[],"rolled_back":false}`})
	g.scenario(scenario{name: "rotation-old-key", about: "During a key rotation, a validator that trusts only the old key accepts a license signed by both.",
		host: "2026-03-01T00:00:00Z", trust: g.old.vkey, licenses: []lic{{id: "L-000001", signed: g.license(nil, g.old, g.cur)}},
		expect: `{"state":"licensed","at":"2026-03-01T00:00:00Z","until":"2027-01-05T00:00:00Z","features":` + proF + `,"limits":` + proL + `,
			"config_changes":true,"next":{"state":"grace","at":"2027-01-05T00:00:00Z"},
			"licenses":[{"id":"L-000001","standing":"active"}],"warnings":[],"rolled_back":false}`})
}
