package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tenurehq/tenure/schema"
	"github.com/tenurehq/tenure/shared/engine"
)

// Expected outcomes of the unchanged base documents.
const (
	requestOK = `{"ok":true,"type":"tenure.lrf/v1","appliance":"A-7f3k2m9q","product":"edge","version":"0.40.0",
		"mode":"trial","installed":[],"sequence":1,"trial_start":"2026-01-05T08:00:00Z","created":"2026-01-20T14:30:00Z",
		"platform":["dmi_uuid","mac:eth0","machine_id"]}`
	receiptOK = `{"ok":true,"type":"tenure.release/v1","contract":"IC-1042","licenses":["L-000001","L-000002"],
		"appliance":"A-7f3k2m9q","released":"2026-09-01T10:00:00Z","sequence":7}`
	licenseFields = `"id":"L-000001","contract":"IC-1042","revision":1,"appliance":"A-7f3k2m9q","product":"edge",
		"tier":"pro","kind":"commercial","features":["monitoring","peering","scion","vpn"],
		"limits":{"peering_tunnels":100,"vpn_users":250},"from":"2026-01-05T00:00:00Z","until":"2027-01-05T00:00:00Z",
		"grace_days":90,"reason":"initial","issued":"2026-01-05T09:00:00Z"`
)

func licenseOK(signers string) string {
	return `{"ok":true,"type":"tenure.license/v1",` + licenseFields + `,"signers":` + signers + `}`
}

// reorder re-encodes a body's JSON with its fields sorted by name: the same
// values, another encoding.
func reorder(body string) string {
	typ, j, _ := strings.Cut(body, "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(j), &m); err != nil {
		panic(err)
	}
	b, _ := json.Marshal(m)
	return typ + "\n" + string(b) + "\n"
}

func (g *gen) documents() {
	doc := func(d string) []kv { return []kv{{"vector", "document"}, {"document", d}} }
	trust := func(lines ...string) sec { return sec{"trust", strings.Join(lines, "\n") + "\n"} }
	cur := trust(g.cur.vkey)

	// Requests.
	g.write("doc-request-ok", "An LRF signed by the device key it carries, named for the appliance.",
		doc("request"), requestOK, sec{"request", g.request(nil)})
	g.write("doc-request-first-use", "An LRF from a licensed appliance that records its first use and installed licenses.",
		doc("request"), `{"ok":true,"type":"tenure.lrf/v1","appliance":"A-7f3k2m9q","product":"edge","version":"0.40.0",
		"mode":"licensed","installed":["L-000001","L-000002"],"sequence":4,"trial_start":"2026-01-05T08:00:00Z",
		"created":"2026-11-20T14:30:00Z","first_use":"2026-01-10T13:00:00Z","platform":["dmi_uuid","mac:eth0","machine_id"]}`,
		sec{"request", g.request(func(r *engine.Request) {
			r.Mode, r.Installed, r.Sequence = engine.ModeLicensed, []string{"L-000001", "L-000002"}, 4
			r.Created, r.FirstUse = ts("2026-11-20T14:30:00Z"), tsp("2026-01-10T13:00:00Z")
		})})
	hashes := []string{strings.Repeat("1", 64), strings.Repeat("2", 64), strings.Repeat("3", 64), strings.Repeat("4", 64)}
	g.write("doc-request-history", "An LRF that carries its appliance's history head and the entries since the head its newest license names.",
		doc("request"), `{"ok":true,"type":"tenure.lrf/v1","appliance":"A-7f3k2m9q","product":"edge","version":"0.40.0",
		"mode":"trial","installed":[],"sequence":1,"trial_start":"2026-01-05T08:00:00Z","created":"2026-01-20T14:30:00Z",
		"platform":["dmi_uuid","mac:eth0","machine_id"],"history":{"n":4,"hash":"`+hashes[3]+`","from":2,"entries":3}}`,
		sec{"request", g.request(func(r *engine.Request) { r.History = engine.NewTrail(hashes, 2) })})
	hr := g.baseRequest()
	hr.History = engine.NewTrail(hashes, 2)
	hbody := body(engine.TypeRequest, hr)
	for _, c := range []struct{ name, about, from, to, want string }{
		{"not-head", "whose last entry is not its head", `"` + hashes[3] + `"]`, `"` + hashes[0] + `"]`, "history's last entry is not its head"},
		{"short", "that lists fewer entries than it says", `"entries":["` + hashes[1] + `",`, `"entries":[`, "history lists 2 entries for 2..4"},
		{"from-ahead", "that starts after its head", `"from":2`, `"from":5`, "history from 5 is outside 1..4"},
	} {
		g.write("doc-request-history-"+c.name, "An LRF, correctly signed, with a history trail "+c.about+".",
			doc("request"), "error: "+c.want, sec{"request", armor(engine.LabelRequest, g.signBody(strings.Replace(hbody, c.from, c.to, 1), g.device))})
	}
	g.write("doc-request-product-hash", "An LRF that names the product file its validator was built with by its SHA-256.",
		doc("request"), strings.Replace(requestOK, `"version":"0.40.0"`, `"version":"0.40.0","product_hash":"`+engine.ProductHash(schema.EdgeProduct)+`"`, 1),
		sec{"request", g.request(func(r *engine.Request) { r.ProductHash = engine.ProductHash(schema.EdgeProduct) })})
	g.write("doc-request-crlf", "An LRF whose lines a mail client turned into CR LF is the same LRF.",
		doc("request"), requestOK, sec{"request crlf", g.request(nil)})

	r := g.baseRequest()
	canon := body(engine.TypeRequest, r)
	g.write("doc-request-key-misnamed", "An LRF signed by a device key named for another appliance.",
		doc("request"), "error: signed by A-9x8w7v6u, not by appliance A-7f3k2m9q",
		sec{"request", armor(engine.LabelRequest, g.signBody(strings.Replace(canon, g.device.vkey, g.other.vkey, 1), g.other))})
	g.write("doc-request-other-signer", "An LRF that carries one device key and is signed by another: nothing vouches for it.",
		doc("request"), "error: signed by an unknown key",
		sec{"request", armor(engine.LabelRequest, g.signBody(canon, g.other))})
	altered := strings.Replace(g.signBody(canon, g.device), `"sequence":1`, `"sequence":9`, 1)
	g.write("doc-request-altered", "An LRF whose sequence was edited after signing.",
		doc("request"), "error: signature does not verify", sec{"request", armor(engine.LabelRequest, altered)})
	g.write("doc-request-wrong-label", "An LRF in the armor of a license.",
		doc("request"), "error: found \"-----BEGIN TENURE LICENSE-----\", expected -----BEGIN TENURE LICENSE REQUEST-----",
		sec{"request", armor(engine.LabelLicense, g.signBody(canon, g.device))})
	g.write("doc-request-license-inside", "A license note in LRF armor: the first line names the wrong type.",
		doc("request"), "error: expected a tenure.lrf/v1 document",
		sec{"request", armor(engine.LabelRequest, g.license(nil))})
	g.write("doc-request-oversized", "An armored LRF over 64 KiB is refused before it is parsed.",
		doc("request"), "error: document too large",
		sec{"request", armor(engine.LabelRequest, g.signBody(canon, g.device)+strings.Repeat("x", engine.MaxDocument))})
	for _, c := range []struct{ name, about, body, want string }{
		{"reordered", "fields in another order", reorder(canon), "not in its one exact encoding"},
		{"whitespace", "a space after every comma", strings.ReplaceAll(canon, `","`, `", "`), "not in its one exact encoding"},
		{"unknown-field", "a field the schema does not know", strings.Replace(canon, `{`, `{"color":"red",`, 1), "additional"},
		{"offset-time", `"+00:00" instead of "Z"`, strings.Replace(canon, `"2026-01-20T14:30:00Z"`, `"2026-01-20T14:30:00+00:00"`, 1), "/created"},
		{"unsorted", "installed licenses out of order", strings.Replace(canon, `"installed":[]`, `"installed":["L-000002","L-000001"]`, 1), "installed must be sorted"},
		{"two-lines", "its JSON on several lines", strings.Replace(canon, `,"product"`, ",\n\"product\"", 1), "one line of JSON"},
	} {
		g.write("doc-request-"+c.name, "An LRF, correctly signed, whose body is not the one exact encoding: "+c.about+".",
			doc("request"), "error: "+c.want, sec{"request", armor(engine.LabelRequest, g.signBody(c.body, g.device))})
	}

	// Release receipts.
	device := sec{"device-key", g.device.vkey + "\n"}
	g.write("doc-receipt-ok", "A release receipt verified with the device key the issuer pinned.",
		doc("receipt"), receiptOK, sec{"receipt", g.receipt(nil)}, device)
	g.write("doc-receipt-history", "A receipt that carries its appliance's history head, the release entry last.",
		doc("receipt"), `{"ok":true,"type":"tenure.release/v1","contract":"IC-1042","licenses":["L-000001","L-000002"],
		"appliance":"A-7f3k2m9q","released":"2026-09-01T10:00:00Z","sequence":7,"history":{"n":4,"hash":"`+hashes[3]+`","from":1,"entries":4}}`,
		sec{"receipt", g.receipt(func(r *engine.Release) { r.History = engine.NewTrail(hashes, 0) })}, device)
	g.write("doc-receipt-other-key", "A receipt for this appliance signed by another key than the pinned one.",
		doc("receipt"), "error: signed by an unknown key", sec{"receipt", g.receipt(nil)}, sec{"device-key", g.other.vkey + "\n"})
	g.write("doc-receipt-unpinned", "A receipt from an appliance the issuer never activated.",
		doc("receipt"), "error: never activated", sec{"receipt", g.receipt(nil)})
	rel := body(engine.TypeRelease, g.baseRelease())
	g.write("doc-receipt-altered", "A receipt whose license list was edited after signing.",
		doc("receipt"), "error: signature does not verify",
		sec{"receipt", armor(engine.LabelRelease, strings.Replace(g.signBody(rel, g.device), `"L-000002"`, `"L-000003"`, 1))}, device)
	g.write("doc-receipt-reordered", "A receipt, correctly signed, with its fields in another order.",
		doc("receipt"), "error: not in its one exact encoding",
		sec{"receipt", armor(engine.LabelRelease, g.signBody(reorder(rel), g.device))}, device)
	g.write("doc-receipt-empty", "A receipt that releases no license.",
		doc("receipt"), "error: /licenses",
		sec{"receipt", armor(engine.LabelRelease, g.signBody(strings.Replace(rel, `["L-000001","L-000002"]`, `[]`, 1), g.device))}, device)

	// Usage reports.
	usageSections := `"contracts":[{"contract":"IC-1042","limits":{"peering_tunnels":{"allowed":80,"denied":0},"vpn_users":{"allowed":250,"denied":312}},
		"features":{"monitoring":177,"scion":170,"vpn":150}},{"contract":"IC-2077","limits":{},"features":{"peering":40}}]`
	usageOK := `{"ok":true,"type":"tenure.usage/v1","appliance":"A-7f3k2m9q","product":"edge",
		"period":{"from":"2026-01-05T09:00:00Z","until":"2026-07-01T08:00:00Z"},` + usageSections + `,
		"sequence":5,"created":"2026-07-01T08:00:00Z","history":{"n":5,"hash":"` + usageHashes[4] + `","from":3,"entries":3}}`
	g.write("doc-usage-ok", "A usage report of a base contract and an addon, verified with the device key the issuer pinned.",
		doc("usage"), usageOK, sec{"usage", g.usage(nil)}, device)
	g.write("doc-usage-crlf", "A usage report whose lines a mail client turned into CR LF is the same report.",
		doc("usage"), usageOK, sec{"usage crlf", g.usage(nil)}, device)
	g.write("doc-usage-empty", "A usage report of a period in which nothing was checked.",
		doc("usage"), strings.Replace(usageOK, usageSections, `"contracts":[]`, 1),
		sec{"usage", g.usage(func(u *engine.Usage) { u.Contracts = []engine.UsageSection{} })}, device)
	ub := body(engine.TypeUsage, g.baseUsage())
	g.write("doc-usage-other-device", "A usage report for this appliance signed by another appliance's device key.",
		doc("usage"), "error: signed by an unknown key (A-9x8w7v6u)", sec{"usage", armor(engine.LabelUsage, g.signBody(ub, g.other))}, device)
	g.write("doc-usage-other-key", "A usage report checked against another key than the one that signed it.",
		doc("usage"), "error: signed by an unknown key (A-7f3k2m9q)", sec{"usage", g.usage(nil)}, sec{"device-key", g.other.vkey + "\n"})
	g.write("doc-usage-unpinned", "A usage report from an appliance the issuer never activated.",
		doc("usage"), "error: never activated", sec{"usage", g.usage(nil)})
	g.write("doc-usage-altered", "A usage report whose denied peak was lowered after signing.",
		doc("usage"), "error: signature does not verify",
		sec{"usage", armor(engine.LabelUsage, strings.Replace(g.signBody(ub, g.device), `"denied":312`, `"denied":250`, 1))}, device)
	g.write("doc-usage-wrong-label", "A usage report in the armor of a release receipt.",
		doc("usage"), "error: found \"-----BEGIN TENURE RELEASE RECEIPT-----\", expected -----BEGIN TENURE USAGE-----",
		sec{"usage", armor(engine.LabelRelease, g.signBody(ub, g.device))}, device)
	g.write("doc-usage-license-inside", "A license note in usage armor: the first line names the wrong type.",
		doc("usage"), "error: expected a tenure.usage/v1 document", sec{"usage", armor(engine.LabelUsage, g.license(nil))}, device)
	g.write("doc-usage-oversized", "An armored usage report over 64 KiB is refused before it is parsed.",
		doc("usage"), "error: document too large",
		sec{"usage", armor(engine.LabelUsage, g.signBody(ub, g.device)+strings.Repeat("x", engine.MaxDocument))}, device)
	for _, c := range []struct{ name, about, from, to, want string }{
		{"unsorted", "its contracts out of order", `"contract":"IC-1042"`, `"contract":"IC-3000"`, "contracts must be sorted by contract without repeats"},
		{"repeated", "one contract in two sections", `"contract":"IC-2077"`, `"contract":"IC-1042"`, "contracts must be sorted by contract without repeats"},
		{"period-reversed", "a period that ends before it starts", `"until":"2026-07-01T08:00:00Z"`, `"until":"2026-01-01T00:00:00Z"`,
			"period ends (2026-01-01T00:00:00Z) before it starts (2026-01-05T09:00:00Z)"},
		{"history-short", "a history trail that lists fewer entries than it says", `"entries":["` + usageHashes[2] + `",`, `"entries":[`, "history lists 2 entries for 3..5"},
		{"unknown-field", "a field the schema does not know", `{`, `{"color":"red",`, "additional"},
		{"over-limit", "a count over 2^53-1", `"denied":312`, `"denied":9007199254740992`, "/contracts/0/limits/vpn_users/denied: must be <="},
		{"negative", "a negative count", `"allowed":80`, `"allowed":-1`, "/contracts/0/limits/peering_tunnels/allowed: must be >= 0"},
		{"zero-days", "a feature counted on no day", `"peering":40`, `"peering":0`, "/contracts/1/features/peering: must be >= 1"},
		{"whitespace", "a space after a comma", `,"`, `, "`, "not in its one exact encoding"},
	} {
		if !strings.Contains(ub, c.from) {
			g.fail(fmt.Errorf("doc-usage-%s: the body does not contain %q", c.name, c.from))
		}
		g.write("doc-usage-"+c.name, "A usage report, correctly signed, with "+c.about+".",
			doc("usage"), "error: "+c.want, sec{"usage", armor(engine.LabelUsage, g.signBody(strings.Replace(ub, c.from, c.to, 1), g.device))}, device)
	}
	g.write("doc-usage-reordered", "A usage report, correctly signed, with its fields in another order.",
		doc("usage"), "error: not in its one exact encoding", sec{"usage", armor(engine.LabelUsage, g.signBody(reorder(ub), g.device))}, device)

	// An LRF carries the running usage of the open period.
	summary := func(r *engine.Request) {
		r.Mode, r.Installed, r.Sequence, r.Created = engine.ModeLicensed, []string{"L-000001"}, 4, ts("2026-03-01T12:00:00Z")
		r.Usage = &engine.UsageSummary{
			Period: engine.Period{From: ts("2026-01-05T09:00:00Z"), Until: ts("2026-03-01T12:00:00Z")},
			Contracts: []engine.UsageSection{
				{Contract: "IC-1042", Limits: map[string]engine.Peaks{"peering_tunnels": {Allowed: 12}, "vpn_users": {Allowed: 180, Denied: 260}},
					Features: map[string]int{"scion": 55, "vpn": 40}},
				{Contract: "IC-2077", Limits: map[string]engine.Peaks{}, Features: map[string]int{"peering": 3}},
			},
		}
	}
	g.write("doc-request-usage", "An LRF that carries the running usage of the open period, without ending it.",
		doc("request"), `{"ok":true,"type":"tenure.lrf/v1","appliance":"A-7f3k2m9q","product":"edge","version":"0.40.0",
		"mode":"licensed","installed":["L-000001"],"sequence":4,"trial_start":"2026-01-05T08:00:00Z","created":"2026-03-01T12:00:00Z",
		"platform":["dmi_uuid","mac:eth0","machine_id"],"usage":{"period":{"from":"2026-01-05T09:00:00Z","until":"2026-03-01T12:00:00Z"},
		"contracts":[{"contract":"IC-1042","limits":{"peering_tunnels":{"allowed":12,"denied":0},"vpn_users":{"allowed":180,"denied":260}},
		"features":{"scion":55,"vpn":40}},{"contract":"IC-2077","limits":{},"features":{"peering":3}}]}}`,
		sec{"request", g.request(summary)})
	ur := g.baseRequest()
	summary(ur)
	urb := body(engine.TypeRequest, ur)
	for _, c := range []struct{ name, about, from, to, want string }{
		{"repeated", "names one contract in two sections", `"contract":"IC-2077"`, `"contract":"IC-1042"`, "contracts must be sorted by contract without repeats"},
		{"reversed", "ends before it starts", `"until":"2026-03-01T12:00:00Z"`, `"until":"2026-01-01T00:00:00Z"`, "period ends"},
		{"over-limit", "counts over 2^53-1", `"denied":260`, `"denied":9007199254740992`, "/usage/contracts/0/limits/vpn_users/denied: must be <="},
	} {
		if !strings.Contains(urb, c.from) {
			g.fail(fmt.Errorf("doc-request-usage-%s: the body does not contain %q", c.name, c.from))
		}
		g.write("doc-request-usage-"+c.name, "An LRF, correctly signed, whose usage summary "+c.about+".",
			doc("request"), "error: "+c.want, sec{"request", armor(engine.LabelRequest, g.signBody(strings.Replace(urb, c.from, c.to, 1), g.device))})
	}

	// Signed licenses.
	g.write("doc-license-ok", "A license signed by the current issuer key.",
		doc("license"), licenseOK(`["tenure-issuer-2026"]`), cur, sec{"license", g.license(nil)})
	g.write("doc-license-head", "A license answering an LRF that carried a history head carries that head.",
		doc("license"), licenseOK(`["tenure-issuer-2026"]`), cur, sec{"license", g.license(func(l *engine.License) {
			l.Head = &engine.Head{N: 4, Hash: hashes[3]}
		})})
	g.write("doc-license-unknown-signer", "A license signed only by a key the validator does not trust.",
		doc("license"), "error: signed by an unknown key (tenure-issuer-rogue)", cur, sec{"license", g.license(nil, g.rogue)})
	g.write("doc-license-not-after", "A license issued after its key's not-after date is refused.",
		doc("license"), "error: after its key's not-after date", trust(g.cur.vkey+" not-after=2026-01-01"), sec{"license", g.license(nil)})
	g.write("doc-license-before-not-after", "A license issued before its key's not-after date stands.",
		doc("license"), licenseOK(`["tenure-issuer-2026"]`), trust(g.cur.vkey+" not-after=2026-06-01"), sec{"license", g.license(nil)})
	both := g.license(nil, g.old, g.cur)
	g.write("doc-license-rotation-new", "Rotation: signed by the old and the new key; the validator trusts only the new one.",
		doc("license"), licenseOK(`["tenure-issuer-2026"]`), cur, sec{"license", both})
	g.write("doc-license-rotation-old", "Rotation: signed by the old and the new key; the validator trusts only the old one.",
		doc("license"), licenseOK(`["tenure-issuer-2025"]`), trust(g.old.vkey), sec{"license", both})
	g.write("doc-license-rotation-both", "Rotation: signed by the old and the new key; the validator trusts both.",
		doc("license"), licenseOK(`["tenure-issuer-2025","tenure-issuer-2026"]`), trust(g.old.vkey, g.cur.vkey), sec{"license", both})
	g.write("doc-license-rotation-retired", "After rotation the old key is retired: a license signed by it alone is refused.",
		doc("license"), "error: signed by an unknown key (tenure-issuer-2025)", cur, sec{"license", g.license(nil, g.old)})
	g.write("doc-license-altered", "A license whose until was moved a year after signing.",
		doc("license"), "error: signature does not verify", cur,
		sec{"license", strings.Replace(g.license(nil), `"until":"2027-01-05T00:00:00Z"`, `"until":"2028-01-05T00:00:00Z"`, 1)})
	g.write("doc-license-lrf-inside", "An LRF note where a license was expected.",
		doc("license"), "error: expected a tenure.license/v1 document", cur, sec{"license", g.signBody(canon, g.cur)})
	g.write("doc-license-oversized", "A signed license over 64 KiB is refused before it is parsed.",
		doc("license"), "error: document too large", cur,
		sec{"license", g.signBody(strings.Replace(body(engine.TypeLicense, g.baseLicense()), `"ACME Networks"`, `"`+strings.Repeat("A", engine.MaxDocument)+`"`, 1), g.cur)})
	lic := body(engine.TypeLicense, g.baseLicense())
	for _, c := range []struct{ name, about, body, want string }{
		{"reordered", "fields in another order", reorder(lic), "not in its one exact encoding"},
		{"whitespace", "a space after every comma", strings.ReplaceAll(lic, `","`, `", "`), "not in its one exact encoding"},
		{"unknown-field", "a field the schema does not know", strings.Replace(lic, `{`, `{"seats":1000,`, 1), "additional"},
		{"offset-time", `"+00:00" instead of "Z"`, strings.Replace(lic, `"2026-01-05T09:00:00Z"`, `"2026-01-05T09:00:00+00:00"`, 1), "/issued"},
		{"fraction", "an instant with fractional seconds", strings.Replace(lic, `"2026-01-05T09:00:00Z"`, `"2026-01-05T09:00:00.000Z"`, 1), "/issued"},
		{"unsorted", "features out of order", strings.Replace(lic, `["monitoring","peering","scion","vpn"]`, `["vpn","scion","peering","monitoring"]`, 1), "features must be sorted"},
		{"no-type-line", "no type line", strings.TrimPrefix(lic, engine.TypeLicense+"\n"), "expected a tenure.license/v1 document"},
	} {
		g.write("doc-license-"+c.name, "A license, correctly signed, whose body is not the one exact encoding: "+c.about+".",
			doc("license"), "error: "+c.want, cur, sec{"license", g.signBody(c.body, g.cur)})
	}

	// Clock resets.
	clockOK := `{"ok":true,"type":"tenure.clock/v1","appliance":"A-7f3k2m9q","for_device_key":true,
		"nonce":"n0nce-0123456789abcdef","sequence":1,"mark":"2026-01-21T09:00:00Z","reason":"the host clock ran to 2099",
		"issued":"2026-01-21T09:00:00Z"}`
	g.write("doc-clock-ok", "A clock reset signed by the current issuer key, answering the base LRF.",
		doc("clock"), clockOK, cur, sec{"clock", g.clock(nil)}, device)
	g.write("doc-clock-crlf", "A clock reset whose lines a mail client turned into CR LF is the same reset.",
		doc("clock"), clockOK, cur, sec{"clock crlf", g.clock(nil)}, device)
	g.write("doc-clock-other-device", "A clock reset bound to another appliance's device key opens; the validator refuses to apply it.",
		doc("clock"), strings.Replace(clockOK, `"for_device_key":true`, `"for_device_key":false`, 1), cur,
		sec{"clock", g.clock(func(c *engine.ClockReset) { c.DeviceKeyHash = engine.KeyHash(g.other.vkey) })}, device)
	g.write("doc-clock-unknown-signer", "A clock reset signed only by a key the validator does not trust.",
		doc("clock"), "error: signed by an unknown key (tenure-issuer-rogue)", cur, sec{"clock", g.clock(nil, g.rogue)})
	g.write("doc-clock-device-signed", "A clock reset signed by the appliance's own device key: only the issuer may reset the clock.",
		doc("clock"), "error: signed by an unknown key", cur, sec{"clock", g.clock(nil, g.device)})
	g.write("doc-clock-not-after", "A clock reset issued after its key's not-after date is refused.",
		doc("clock"), "error: after its key's not-after date", trust(g.cur.vkey+" not-after=2026-01-01"), sec{"clock", g.clock(nil)})
	cb := body(engine.TypeClock, g.baseClock())
	g.write("doc-clock-altered", "A clock reset whose mark was moved a year back after signing.",
		doc("clock"), "error: signature does not verify", cur,
		sec{"clock", armor(engine.LabelClock, strings.Replace(g.signBody(cb, g.cur), `"mark":"2026-01-21T09:00:00Z"`, `"mark":"2025-01-21T09:00:00Z"`, 1))})
	g.write("doc-clock-wrong-label", "A clock reset in the armor of an LRF.",
		doc("clock"), "error: found \"-----BEGIN TENURE LICENSE REQUEST-----\", expected -----BEGIN TENURE CLOCK-----", cur,
		sec{"clock", armor(engine.LabelRequest, g.signBody(cb, g.cur))})
	g.write("doc-clock-license-inside", "A license note in clock armor: the first line names the wrong type.",
		doc("clock"), "error: expected a tenure.clock/v1 document", cur, sec{"clock", armor(engine.LabelClock, g.license(nil))})
	for _, c := range []struct{ name, about, body, want string }{
		{"reordered", "fields in another order", reorder(cb), "not in its one exact encoding"},
		{"unknown-field", "a field the schema does not know", strings.Replace(cb, `{`, `{"until":"2099-01-01T00:00:00Z",`, 1), "additional"},
		{"no-reason", "an empty reason", strings.Replace(cb, `"the host clock ran to 2099"`, `""`, 1), "/reason"},
		{"fraction", "a mark with fractional seconds", strings.Replace(cb, `"mark":"2026-01-21T09:00:00Z"`, `"mark":"2026-01-21T09:00:00.5Z"`, 1), "/mark"},
	} {
		g.write("doc-clock-"+c.name, "A clock reset, correctly signed, whose body is not the one exact encoding: "+c.about+".",
			doc("clock"), "error: "+c.want, cur, sec{"clock", armor(engine.LabelClock, g.signBody(c.body, g.cur))})
	}

	// Trust files.
	g.write("doc-trust-ok", "A trust file: comments, a key, a key with a not-after date.",
		doc("trust"), `{"ok":true,"keys":[{"name":"tenure-issuer-2025","not_after":"2026-07-01T00:00:00Z"},{"name":"tenure-issuer-2026"}]}`,
		trust("# issuer keys, as GET /v1/keys lists them", g.old.vkey+" not-after=2026-07-01", "", g.cur.vkey))
	g.write("doc-trust-bad-option", "A trust line with an option other than not-after.",
		doc("trust"), "error: unknown option \"expires=2026-07-01\"", trust(g.cur.vkey+" expires=2026-07-01"))
	g.write("doc-trust-bad-date", "A not-after date that is not a date.",
		doc("trust"), "error: is not a date", trust(g.cur.vkey+" not-after=01/07/2026"))
	g.write("doc-trust-empty", "A trust file with no key.", doc("trust"), "error: no issuer key", trust("# nothing yet"))

	// Product files.
	g.write("doc-product-edge", "The example product, edge; sha256 is of the file's exact bytes.", doc("product"),
		`{"ok":true,"type":"tenure.product/v1","id":"edge","sha256":"`+engine.ProductHash(schema.EdgeProduct)+`","features":["scion","vpn","peering","monitoring"],"tiers":["lite","pro"],
		"trial_days":30,"grace_days":90,"min_version":"0.38.0"}`, sec{"product", string(schema.EdgeProduct)})
	g.write("doc-product-unknown-feature", "A tier naming a feature outside the catalog.", doc("product"),
		"error: tier lite names feature \"sdwan\", which is not in the catalog",
		sec{"product", strings.Replace(string(schema.EdgeProduct), `"features": ["scion", "monitoring"]`, `"features": ["scion", "sdwan"]`, 1)})
	g.write("doc-product-no-type", "A product file without its type line.", doc("product"),
		"error: starts with the line tenure.product/v1", sec{"product", strings.TrimPrefix(string(schema.EdgeProduct), engine.TypeProduct+"\n")})
}

func armor(label, text string) string { return string(engine.Armor(label, []byte(text))) }

// backups writes vectors for the body of a backup. The key fields hold
// placeholders: a real backup carries private keys, which are never written.
func (g *gen) backups() {
	hdr := []kv{{"vector", "document"}, {"document", "backup"}}
	b := &engine.Backup{
		Appliance: appliance, Product: product, Version: "0.40.0",
		DeviceKey: "placeholder-device-key", Identity: "placeholder-age-identity",
		Platform:  engine.HashPlatform(product, platform),
		Trials:    map[string]string{engine.HashPlatform(product, platform).Fingerprint(): "2026-01-05T08:00:00Z"},
		HighWater: ts("2026-03-01T12:00:00Z"), Sequence: 3,
		Licenses: map[string]string{"L-000001": g.license(nil)}, Released: map[string]string{}, Receipts: map[string]string{},
		Created: ts("2026-03-01T12:00:00Z"),
	}
	canon := body(engine.TypeBackup, b)
	g.write("doc-backup-ok", "The body of a backup, as it is before the passphrase encryption.", hdr,
		`{"ok":true,"type":"tenure.backup/v1","appliance":"A-7f3k2m9q","product":"edge","version":"0.40.0","licenses":["L-000001"],
		"trials":1,"sequence":3,"high_water":"2026-03-01T12:00:00Z","created":"2026-03-01T12:00:00Z"}`, sec{"backup", canon})
	g.write("doc-backup-reordered", "A backup body with its fields in another order.", hdr,
		"error: not in its one exact encoding", sec{"backup", reorder(canon)})
	g.write("doc-backup-empty-extra", "An empty extra map is written absent, never empty.", hdr,
		"error: /extra", sec{"backup", strings.Replace(canon, `,"created"`, `,"extra":{},"created"`, 1)})
}
