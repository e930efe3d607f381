package issuertest

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/tenurehq/tenure/issuer/internal/store"
	"github.com/tenurehq/tenure/schema"
	"github.com/tenurehq/tenure/shared/engine"
)

// edgeV2 is a later version of the example product: a new feature, sdwan,
// in tier pro. Appliances in the field still run validators built with the
// first.
func edgeV2(t *testing.T) (*engine.Product, []byte) {
	t.Helper()
	text := []byte(strings.Replace(strings.Replace(string(schema.EdgeProduct),
		`"features": ["scion", "vpn", "peering", "monitoring"],`, `"features": ["scion", "vpn", "peering", "monitoring", "sdwan"],`, 1),
		`"features": ["scion", "vpn", "peering", "monitoring"]`, `"features": ["scion", "vpn", "peering", "monitoring", "sdwan"]`, 1))
	p, err := engine.ParseProduct(text)
	if err != nil {
		t.Fatal(err)
	}
	if !p.HasFeature("sdwan") {
		t.Fatal("the second version has no sdwan: the example product's text changed")
	}
	return p, text
}

// testProductVersions: two versions of one product loaded side by side.
// An LRF names its version by hash and gets that version's features; an
// LRF with no hash (an older validator) gets the oldest; an unknown hash is
// 422 naming both; GET /v1/products lists both.
func testProductVersions(t *testing.T, e *env) {
	v1, err := engine.ParseProduct(schema.EdgeProduct)
	if err != nil {
		t.Fatal(err)
	}
	v2, _ := edgeV2(t)
	e = newEnvProducts(t, e.open, []*engine.Product{v1, v2})

	code, body := e.do("GET", "/v1/products", "", nil)
	e.want(200, code, body, "GET /v1/products")
	var listed struct {
		Products []struct {
			ID, SHA256      string
			Features, Tiers []string
		}
	}
	if err := json.Unmarshal(body, &listed); err != nil || len(listed.Products) != 2 {
		t.Fatalf("GET /v1/products = %s (%v), want two versions", body, err)
	}
	for i, want := range []*engine.Product{v1, v2} {
		got := listed.Products[i]
		if got.ID != "edge" || got.SHA256 != want.SHA256 || !slices.Equal(got.Features, want.Features) || !slices.Equal(got.Tiers, []string{"lite", "pro"}) {
			t.Errorf("product %d = %+v, want edge %s %v", i, got, want.SHA256, want.Features)
		}
	}
	if strings.Contains(string(body), "vpn_users") {
		t.Errorf("GET /v1/products shows limits: %s", body)
	}

	// A contract may name a feature only the newer version has.
	b := contractBody("order", 3)
	b["features"] = []string{"monitoring", "peering", "scion", "sdwan", "vpn"}
	code, body = e.do("PUT", "/v1/contracts/IC-1", e.admin, b)
	e.want(201, code, body, "order with a feature of the second version")
	var created struct{ Token string }
	json.Unmarshal(body, &created)
	b["features"] = []string{"scion", "teleport"}
	b["change"] = "correction"
	code, body = e.do("PUT", "/v1/contracts/IC-1", e.admin, b)
	e.want(422, code, body, "a feature in no version")

	features := func(a activation) []string { return e.licenseFeatures(a.ID) }
	// The newer version: every feature.
	d2 := newDevice(t, 2)
	code, a, body := e.activate(created.Token, "IC-1", d2.lrf(e, func(r *engine.Request) { r.ProductHash = v2.SHA256 }), "")
	e.want(201, code, body, "activation from the second version")
	if f := features(a); !slices.Contains(f, "sdwan") || strings.Contains(string(body), `"detail"`) {
		t.Errorf("the second version's license: %v, answer %s", f, body)
	}
	// The older version: the license leaves sdwan out, and says so.
	d1 := newDevice(t, 1)
	code, a, body = e.activate(created.Token, "IC-1", d1.lrf(e, func(r *engine.Request) { r.ProductHash = v1.SHA256 }), "")
	e.want(201, code, body, "activation from the first version")
	if f := features(a); slices.Contains(f, "sdwan") || !slices.Contains(f, "scion") || !strings.Contains(string(body), "leaves out sdwan") || !strings.Contains(string(body), v1.SHA256) {
		t.Errorf("the first version's license: %v, answer %s", f, body)
	}
	// No hash: a validator from before product hashes, matched to the oldest.
	d3 := newDevice(t, 3)
	code, a, body = e.activate(created.Token, "IC-1", d3.lrf(e), "")
	e.want(201, code, body, "activation without a product hash")
	if f := features(a); slices.Contains(f, "sdwan") {
		t.Errorf("an LRF without a hash was given the newer version: %v", f)
	}
	// A version the issuer never loaded.
	other := strings.Repeat("ab", 32)
	d4 := newDevice(t, 4)
	code, _, body = e.activate(created.Token, "IC-1", d4.lrf(e, func(r *engine.Request) { r.ProductHash = other }), "")
	e.want(422, code, body, "an unknown product version")
	for _, want := range []string{other, v1.SHA256, v2.SHA256, "TENURE_PRODUCTS", "/unknown-product-version"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("the refusal of an unknown version does not name %s: %s", want, body)
		}
	}
	if last := e.ledger("IC-1"); last[len(last)-1].Status != 422 || last[len(last)-1].Outcome != store.Refused {
		t.Errorf("the refusal is not in the ledger: %+v", last[len(last)-1])
	}
}

// testProductNotLoaded: contracts for a product the issuer does not load
// are refused, and an issuer that stops loading a product refuses its
// contracts' activations, saying which.
func testProductNotLoaded(t *testing.T, e *env) {
	b := contractBody("order", 1)
	b["product"] = "acme"
	code, body := e.do("PUT", "/v1/contracts/IC-9", e.admin, b)
	e.want(422, code, body, "a contract for a product not loaded")
	if !strings.Contains(string(body), `product \"acme\"`) || !strings.Contains(string(body), "TENURE_PRODUCTS") {
		t.Errorf("the refusal does not say what to do: %s", body)
	}

	tok := e.order("IC-1", 1)
	v2, _ := edgeV2(t)
	acme, err := engine.ParseProduct([]byte(strings.Replace(string(schema.EdgeProduct), `"id": "edge"`, `"id": "acme"`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	// The same store, served by an issuer that loads acme only.
	later := newEnvProducts(t, func(t *testing.T) store.Store { return e.store }, []*engine.Product{acme})
	code, _, body = later.activate(tok, "IC-1", newDevice(t, 1).lrf(later, func(r *engine.Request) { r.ProductHash = v2.SHA256 }), "")
	later.want(422, code, body, "a contract for a product no longer loaded")
	if !strings.Contains(string(body), "no longer licenses") {
		t.Errorf("the refusal does not say the product is no longer loaded: %s", body)
	}
}

// licenseFeatures returns the features of the stored license id, verified
// with the issuer's key.
func (e *env) licenseFeatures(id string) []string {
	e.t.Helper()
	l, err := e.store.License(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	trust, err := engine.ParseTrust(e.vkey + "\n")
	if err != nil {
		e.t.Fatal(err)
	}
	lic, err := engine.VerifyLicense(l.Signed, trust)
	if err != nil {
		e.t.Fatal(err)
	}
	return lic.Features
}
