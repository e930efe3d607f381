package validator_test

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/tenurehq/tenure/schema"
	"github.com/tenurehq/tenure/shared/engine"
	"github.com/tenurehq/tenure/validator"
)

// TestParseBuild reads the settings `make build` fixes in with -X: TRUST,
// PRODUCT and FLOOR, each optional, each refused with the make variable to
// fix when it does not parse.
func TestParseBuild(t *testing.T) {
	_, vkey, err := engine.GenerateKey(rand.Reader, "tenure-issuer-build")
	if err != nil {
		t.Fatal(err)
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	core := strings.Replace(string(schema.EdgeProduct), `"id": "edge"`, `"id": "core"`, 1)

	cfg, err := validator.ParseBuild("", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Trust != nil || cfg.Product.ID != "edge" || !cfg.Floor.IsZero() {
		t.Fatalf("defaults: trust %v, product %s, floor %v", cfg.Trust, cfg.Product.ID, cfg.Floor)
	}

	cfg, err = validator.ParseBuild(b64(vkey+" not-after=2027-01-01\n"), b64(core), "2026-06-01T00:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Trust == nil || len(cfg.Trust.Keys) != 1 || cfg.Trust.Keys[0].Name != "tenure-issuer-build" {
		t.Fatalf("TRUST not applied: %+v", cfg.Trust)
	}
	if cfg.Product.ID != "core" {
		t.Fatalf("PRODUCT not applied: %s", cfg.Product.ID)
	}
	if !cfg.Floor.Equal(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("FLOOR not applied: %v", cfg.Floor)
	}

	for _, c := range []struct{ name, trust, product, floor, want string }{
		{"trust not base64", "%%%", "", "", "make build TRUST=FILE"},
		{"trust without a key", b64("# nothing\n"), "", "", "make build TRUST=FILE"},
		{"product not base64", "", "%%%", "", "make build PRODUCT=FILE"},
		{"product without its type line", "", b64(strings.TrimPrefix(core, "tenure.product/v1\n")), "", "make build PRODUCT=FILE"},
		{"floor not RFC 3339", "", "", "2026-06-01", "make build FLOOR="},
	} {
		if _, err := validator.ParseBuild(c.trust, c.product, c.floor); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error naming %q", c.name, err, c.want)
		}
	}
}
