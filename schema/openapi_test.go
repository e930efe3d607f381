package schema

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// openAPICompiler loads the document schemas and the OpenAPI description
// under their own URLs, as a tool reading the description would.
func openAPICompiler(t *testing.T) *jsonschema.Compiler {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	c.AssertFormat = true
	entries, err := files.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, _ := files.ReadFile(e.Name())
		if err := c.AddResource(baseURL+e.Name(), bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.AddResource(baseURL+"openapi.json", bytes.NewReader(OpenAPI)); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOpenAPISchemasCompile(t *testing.T) {
	var doc struct {
		OpenAPI    string `json:"openapi"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Fatalf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	c := openAPICompiler(t)
	if len(doc.Components.Schemas) == 0 {
		t.Fatal("no component schemas")
	}
	for name := range doc.Components.Schemas {
		if _, err := c.Compile(baseURL + "openapi.json#/components/schemas/" + name); err != nil {
			t.Errorf("schema %s does not compile: %v", name, err)
		}
	}
}

// TestOpenAPIExamples checks the described bodies against values the issuer
// sends and receives, so a schema that is too loose or too strict shows up.
func TestOpenAPIExamples(t *testing.T) {
	c := openAPICompiler(t)
	tests := []struct {
		schema, body string
		ok           bool
	}{
		{"Contract", `{"customer":"ACME","product":"edge","tier":"pro","kind":"commercial","features":["vpn"],"limits":{"vpn_users":250},"appliances":2,"term_months":12,"change":"order","status":"active"}`, true},
		{"Contract", `{"customer":"ACME","product":"edge","tier":"pro","kind":"commercial","features":["vpn"],"limits":{},"appliances":2,"term_months":12,"change":"prolongation","status":"active"}`, false},
		{"ActivationRequest", `{"contract":"IC-1042","request":"-----BEGIN TENURE LICENSE REQUEST-----\nAAAA\n-----END TENURE LICENSE REQUEST-----\n","effective":"2026-02-01"}`, true},
		{"ActivationRequest", `{"contract":"IC-1042","request":"-----BEGIN TENURE LICENSE REQUEST-----\n","extra":1}`, false},
		{"ActivationRequest", `{"contract":"IC-1042","request":"-----BEGIN TENURE LICENSE REQUEST-----\n","effective":"2026-02-01T00:00:00Z"}`, false},
		{"Activation", `{"id":"L-4k2m9q7x","license":"-----BEGIN TENURE LICENSE-----\nAAAA\n-----END TENURE LICENSE-----\n","reason":"initial","from":"2026-01-10T00:00:00Z","until":"2027-01-10T00:00:00Z","appliance":"A-7f3k2m9q"}`, true},
		{"Activation", `{"id":"L-4k2m9q7x","license":"x","reason":"gift","from":"2026-01-10T00:00:00Z","until":"2027-01-10T00:00:00Z","appliance":"A-7f3k2m9q"}`, false},
		{"Released", `{"released":["L-4k2m9q7x"],"appliances_free":1}`, true},
		{"Released", `{"released":[],"appliances_free":-1}`, false},
		{"ReallocationRequest", `{"appliance":"A-7f3k2m9q","reason":"disk died"}`, true},
		{"ClockResetRequest", `{"request":"-----BEGIN TENURE LICENSE REQUEST-----\nAAAA\n-----END TENURE LICENSE REQUEST-----\n","reason":"clock ran to 2099"}`, true},
		{"ClockResetRequest", `{"request":"-----BEGIN TENURE LICENSE REQUEST-----\n"}`, false},
		{"ClockResetRequest", `{"request":"-----BEGIN TENURE LICENSE REQUEST-----\n","reason":"two\nlines"}`, false},
		{"ClockReset", `{"clock":"-----BEGIN TENURE CLOCK-----\nAAAA\n-----END TENURE CLOCK-----\n","appliance":"A-7f3k2m9q","mark":"2026-01-20T10:00:00Z"}`, true},
		{"ClockReset", `{"clock":"-----BEGIN TENURE LICENSE-----\n","appliance":"A-7f3k2m9q","mark":"2026-01-20T10:00:00Z"}`, false},
		{"Keys", `{"keys":["tenure-issuer-2026+3a4b5c6d+AbCdEf0123456789AbCdEf0123456789AbCdEf0123456="]}`, true},
		{"Keys", `{"keys":[]}`, false},
		{"Health", `{"ok":true}`, true},
		{"Problem", `{"type":"about:blank","title":"Conflict","status":409,"detail":"no free seat on IC-1042; release an appliance or raise appliances"}`, true},
		{"Problem", `{"title":"Conflict","status":409}`, false},
	}
	for _, tt := range tests {
		s, err := c.Compile(baseURL + "openapi.json#/components/schemas/" + tt.schema)
		if err != nil {
			t.Fatalf("%s: %v", tt.schema, err)
		}
		var v any
		if err := json.Unmarshal([]byte(tt.body), &v); err != nil {
			t.Fatalf("%s: %v", tt.body, err)
		}
		err = s.Validate(v)
		if (err == nil) != tt.ok {
			t.Errorf("%s %s: valid = %v, want %v (%v)", tt.schema, tt.body, err == nil, tt.ok, err)
		}
	}
}
