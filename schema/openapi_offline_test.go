package schema_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tenurehq/tenure/schema"
)

// TestOpenAPIOffline: every $ref of the description points inside it, so
// tools read it as shipped, offline; the shared definitions it copies stay
// equal to the schema files they come from.
func TestOpenAPIOffline(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(schema.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "$ref" && !strings.HasPrefix(s, "#/") {
					t.Errorf("$ref %q leaves the description", s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)

	comps := doc["components"].(map[string]any)["schemas"].(map[string]any)
	local := func(v any) any {
		b, _ := json.Marshal(v)
		s := strings.ReplaceAll(string(b), `"#/$defs/`, `"#/components/schemas/`)
		s = strings.ReplaceAll(s, `"https://tenure.dev/schema/defs.schema.json#/$defs/`, `"#/components/schemas/`)
		s = strings.ReplaceAll(s, `"defs.schema.json#/$defs/`, `"#/components/schemas/`)
		var out any
		json.Unmarshal([]byte(s), &out)
		return out
	}
	var defs struct {
		Defs map[string]any `json:"$defs"`
	}
	b, _ := schema.File("defs.schema.json")
	json.Unmarshal(b, &defs)
	copied := 0
	for name, def := range defs.Defs {
		if got, ok := comps[name]; ok {
			copied++
			if !reflect.DeepEqual(got, local(def)) {
				t.Errorf("components/schemas/%s differs from defs.schema.json's", name)
			}
		}
	}
	var contract map[string]any
	b, _ = schema.File("contract.schema.json")
	json.Unmarshal(b, &contract)
	delete(contract, "$schema")
	delete(contract, "$id")
	if !reflect.DeepEqual(comps["ContractTerms"], local(contract)) {
		t.Error("components/schemas/ContractTerms differs from contract.schema.json")
	}
	props := contract["properties"].(map[string]any)
	if !reflect.DeepEqual(comps["Change"], local(props["change"])) || !reflect.DeepEqual(comps["ContractStatus"], local(props["status"])) {
		t.Error("components/schemas/Change or ContractStatus differs from contract.schema.json")
	}
	if copied < 5 {
		t.Fatalf("only %d shared definitions found in the description", copied)
	}
}

// TestOpenAPILint lints the description with Redocly's CLI under its
// recommended rules and no configuration, as a vendor's tooling would read
// it. The CLI comes from scripts/openapi (npm ci there; scripts/test.sh does
// it); without it the test skips, and fails under CI.
func TestOpenAPILint(t *testing.T) {
	bin, _ := filepath.Abs("../scripts/openapi/node_modules/.bin/redocly")
	if _, err := os.Stat(bin); err != nil {
		msg := "the Redocly CLI is not installed; run: (cd scripts/openapi && npm ci)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	spec, _ := filepath.Abs("openapi.json")
	cmd := exec.Command(bin, "lint", "--format=stylish", spec)
	cmd.Dir = t.TempDir() // no redocly.yaml anywhere: the recommended rules
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true", "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("redocly lint: %v\n%s", err, out)
	}
	// The stylish format prints one line per problem, "LINE:COL  warning  rule".
	if strings.Contains(string(out), "  warning  ") {
		t.Fatalf("redocly lint warns:\n%s", out)
	}
}
