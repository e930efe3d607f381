package issuertest

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/tenurehq/tenure/schema"
	"github.com/tenurehq/tenure/shared/engine"
)

// testReissueProductUpgrade: an appliance whose validator was upgraded to a
// newer product file gets, on its next request, a license with the
// features that version has; the stored license of the older version is
// not given back.
func testReissueProductUpgrade(t *testing.T, e *env) {
	v1, err := engine.ParseProduct(schema.EdgeProduct)
	if err != nil {
		t.Fatal(err)
	}
	v2, _ := edgeV2(t)
	e = newEnvProducts(t, e.open, []*engine.Product{v1, v2})
	b := contractBody("order", 1)
	b["features"] = []string{"monitoring", "peering", "scion", "sdwan", "vpn"}
	code, body := e.do("PUT", "/v1/contracts/IC-1", e.admin, b)
	e.want(201, code, body, "order")
	var created struct{ Token string }
	if err := json.Unmarshal(body, &created); err != nil {
		t.Fatal(err)
	}
	d := newDevice(t, 1)
	code, first, body := e.activate(created.Token, "IC-1", d.lrf(e, func(r *engine.Request) { r.ProductHash = v1.SHA256 }), "")
	e.want(201, code, body, "activation from the first version")
	code, again, body := e.activate(created.Token, "IC-1", d.lrf(e, func(r *engine.Request) {
		r.ProductHash, r.Installed = v2.SHA256, []string{first.ID}
	}), "")
	if code >= 300 || again.ID == first.ID {
		t.Fatalf("the upgraded validator got the stored license of the older version: %d %s", code, body)
	}
	if f := e.licenseFeatures(again.ID); !slices.Contains(f, "sdwan") {
		t.Errorf("the upgraded validator's license has %v, want sdwan", f)
	}
}

// testReleasedInstalledForeign: an LRF from a made-up appliance that lists
// another appliance's released license records no anomaly.
func testReleasedInstalledForeign(t *testing.T, e *env) {
	tok := e.order("IC-1", 1)
	d := newDevice(t, 1)
	a := e.accept(tok, "IC-1", d.lrf(e))
	e.release(tok, d.receipt(e, "IC-1", []string{a.ID}))
	for i := range 5 {
		x := newDevice(t, 100+i)
		e.activate(tok, "IC-1", x.lrf(e, func(r *engine.Request) { r.Installed = []string{a.ID} }), "")
	}
	if items, _ := e.list("/v1/anomalies", e.admin, "anomalies", 10); len(items) != 0 {
		t.Errorf("LRFs of other appliances naming a released license recorded %d anomalies: %v", len(items), items)
	}
	// The appliance's own LRF naming its released license is one.
	e.activate(tok, "IC-1", d.lrf(e, func(r *engine.Request) { r.Installed = []string{a.ID} }), "")
	if items, _ := e.list("/v1/anomalies", e.admin, "anomalies", 10); len(items) != 1 {
		t.Errorf("the appliance's own LRF naming its released license recorded %d anomalies, want 1", len(items))
	}
}

// testRotateNoBody: POST /v1/contracts/{id}/token with no body is {}.
func testRotateNoBody(t *testing.T, e *env) {
	e.order("IC-1", 1)
	code, body := e.raw("POST", "/v1/contracts/IC-1/token", e.admin, nil)
	e.want(200, code, body, "rotation with no body")
}

// testRepinKeepsClasses: a request that lacks a class the binding pinned
// (no NIC in a private network namespace) is accepted, and the binding
// keeps that class: a later request from a clone (a new board and NIC, the
// same image and disk) is refused, not matched against a shrunken pin.
func testRepinKeepsClasses(t *testing.T, e *env) {
	tok := e.order("IC-1", 1)
	d := newDevice(t, 1)
	d.raw["disk:serial"] = "S-0001"
	e.accept(tok, "IC-1", d.lrf(e))
	mac := d.raw["mac:eth0"]
	delete(d.raw, "mac:eth0")
	code, _, body := e.activate(tok, "IC-1", d.lrf(e), "")
	if code >= 300 {
		t.Fatalf("a request without its NIC: %d %s", code, body)
	}
	b, err := e.store.Binding(t.Context(), "IC-1", d.id)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Platform["mac:eth0"]; !ok {
		t.Fatalf("the re-pin dropped the network class: %v", b.Platform)
	}
	d.raw["mac:eth0"] = mac
	d.raw["dmi_uuid"], d.raw["mac:eth0"] = "u-clone", "02:42:ac:11:99:99"
	code, _, body = e.activate(tok, "IC-1", d.lrf(e), "")
	if code != 409 {
		t.Errorf("a clone after the re-pin: %d %s, want 409", code, body)
	}
}
