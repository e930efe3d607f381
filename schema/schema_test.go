package schema

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"maps"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// Small valid documents, one per type. The tests edit copies of them.
const (
	validLRF = `{"appliance":"A-7k2m9q4x","platform":{"machine_id":"` + hashA + `","mac:eth0":"` + hashB + `"},` +
		`"product":"edge","version":"0.38.0","device_key":"A-7k2m9q4x+1a2b3c4d+AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=",` +
		`"recipient":"age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",` +
		`"trial_start":"2026-01-05T00:00:00Z","mode":"trial","installed":[],"sequence":0,` +
		`"created":"2026-01-06T10:00:00Z","nonce":"3q2-7wAAAAAAAAAAAAAAAA"}`
	validLicense = `{"id":"L-9f8e7d6c","contract":"IC-1042","revision":1,"customer":"Acme AG","product":"edge",` +
		`"tier":"pro","kind":"commercial","appliance":"A-7k2m9q4x","platform":{"machine_id":"` + hashA + `"},` +
		`"device_key_hash":"` + hashB + `","features":["monitoring","scion"],"limits":{"vpn_users":250},` +
		`"from":"2026-01-05T00:00:00Z","until":"2027-01-05T00:00:00Z","grace_days":90,"reason":"initial",` +
		`"issued":"2026-01-06T10:00:00Z"}`
	validRelease = `{"contract":"IC-1042","licenses":["L-9f8e7d6c"],"appliance":"A-7k2m9q4x",` +
		`"released":"2026-06-01T12:00:00Z","sequence":4,"nonce":"0123456789abcdef"}`
	validClock = `{"appliance":"A-7k2m9q4x","device_key_hash":"` + hashA + `","nonce":"0123456789abcdef",` +
		`"sequence":4,"mark":"2026-06-01T12:00:00Z","reason":"host clock ran ahead","issued":"2026-06-01T12:00:00Z"}`
	validBackup = `{"appliance":"A-7k2m9q4x","product":"edge","version":"0.38.0","device_key":"test-device-key",` +
		`"identity":"test-identity","platform":{"machine_id":"` + hashA + `"},"trials":{"` + hashB + `":"2026-01-05T00:00:00Z"},` +
		`"high_water":"2026-06-01T12:00:00Z","sequence":4,"licenses":{"L-9f8e7d6c":"-----BEGIN TENURE LICENSE-----\n..."},` +
		`"released":{},"receipts":{},"created":"2026-06-01T12:00:00Z"}`
	validProduct = `{"id":"edge","name":"Edge","features":["scion"],"tiers":{"lite":{"features":["scion"],"limits":{}}},` +
		`"trial":{"days":30,"limits":{}},"grace_days":90,"min_version":"0.38.0","binding":{}}`
	validContract = `{"customer":"Acme AG","product":"edge","tier":"pro","kind":"commercial","features":["scion","vpn"],` +
		`"limits":{"vpn_users":250},"appliances":2,"term_months":12,"change":"order","status":"active"}`
	validUsage = `{"appliance":"A-7k2m9q4x","product":"edge","period":{"from":"2026-01-05T09:00:00Z","until":"2026-06-01T12:00:00Z"},` +
		`"contracts":[{"contract":"IC-1042","limits":{"vpn_users":{"allowed":250,"denied":312}},"features":{"scion":140,"vpn":12}},` +
		`{"contract":"IC-2077","limits":{},"features":{"peering":3}}],` +
		`"history":{"head":{"n":3,"hash":"` + hashA + `"},"from":2,"entries":["` + hashB + `","` + hashA + `"]},` +
		`"sequence":5,"created":"2026-06-01T12:00:00Z","nonce":"0123456789abcdef"}`

	hashA = "3f2a000000000000000000000000000000000000000000000000000000000001"
	hashB = "9b1c000000000000000000000000000000000000000000000000000000000002"
)

var valid = map[string]string{
	"tenure.lrf/v1":     validLRF,
	"tenure.license/v1": validLicense,
	"tenure.release/v1": validRelease,
	"tenure.clock/v1":   validClock,
	"tenure.usage/v1":   validUsage,
	"tenure.backup/v1":  validBackup,
	"tenure.product/v1": validProduct,
	"contract":          validContract,
}

// deleted, as an edit's value, removes the field.
var deleted = new(int)

// edit returns doc with the value at path (keys, or indexes into arrays,
// separated by "/") replaced by v, or removed if v is deleted.
func edit(t *testing.T, doc, path string, v any) []byte {
	t.Helper()
	var root any
	if err := json.Unmarshal([]byte(doc), &root); err != nil {
		t.Fatal(err)
	}
	keys := strings.Split(path, "/")
	index := func(a []any, k string) int {
		i, err := strconv.Atoi(k)
		if err != nil || i < 0 || i >= len(a) {
			t.Fatalf("edit %s: %s is not an index of the array", path, k)
		}
		return i
	}
	parent := root
	for _, k := range keys[:len(keys)-1] {
		switch p := parent.(type) {
		case map[string]any:
			parent = p[k]
		case []any:
			parent = p[index(p, k)]
		default:
			t.Fatalf("edit %s: the parent of %s is not an object or an array", path, k)
		}
	}
	last := keys[len(keys)-1]
	switch p := parent.(type) {
	case map[string]any:
		if v == deleted {
			delete(p, last)
		} else {
			p[last] = v
		}
	case []any:
		if v == deleted {
			t.Fatalf("edit %s: cannot delete from an array", path)
		}
		p[index(p, last)] = v
	default:
		t.Fatalf("edit %s: the parent of %s is not an object or an array", path, last)
	}
	b, err := json.Marshal(root)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSchemaFiles(t *testing.T) {
	entries, err := fs.Glob(files, "*.schema.json")
	if err != nil || len(entries) == 0 {
		t.Fatalf("no schema files embedded: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	c.AssertFormat = true
	for _, name := range entries {
		b, err := File(name)
		if err != nil {
			t.Fatal(err)
		}
		var head struct {
			Schema string `json:"$schema"`
			ID     string `json:"$id"`
		}
		if err := json.Unmarshal(b, &head); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if head.Schema != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("%s: $schema is %q, want draft 2020-12", name, head.Schema)
		}
		if head.ID != baseURL+name {
			t.Errorf("%s: $id is %q, want %q", name, head.ID, baseURL+name)
		}
		if err := c.AddResource(baseURL+name, bytes.NewReader(b)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	for _, name := range entries {
		t.Run(name, func(t *testing.T) {
			if _, err := c.Compile(baseURL + name); err != nil {
				t.Fatalf("does not compile: %v", err)
			}
			b, _ := File(name)
			var root any
			if err := json.Unmarshal(b, &root); err != nil {
				t.Fatal(err)
			}
			checkBounded(t, "#", root)
		})
	}
	for typ, compiled := range schemas {
		if _, err := compiled(); err != nil {
			t.Fatalf("the schema of %s: %v", typ, err)
		}
	}
}

// checkBounded walks a schema and fails on any typed subschema that lets a
// value grow without bound or lets unknown fields through: the schemas are
// the first line of defense against hostile documents.
func checkBounded(t *testing.T, at string, v any) {
	t.Helper()
	switch v := v.(type) {
	case []any:
		for i, e := range v {
			checkBounded(t, at+"/"+strconv.Itoa(i), e)
		}
	case map[string]any:
		has := func(k string) bool { _, ok := v[k]; return ok }
		// A type beside a $ref is there for strict validators (Ajv's
		// strictTypes); the bounds are the referenced schema's, checked
		// where it is defined.
		typ := v["type"]
		if has("$ref") {
			typ = nil
		}
		switch typ {
		case "object":
			if v["additionalProperties"] != false {
				t.Errorf("%s: object without additionalProperties: false", at)
			}
			if has("patternProperties") && !has("maxProperties") {
				t.Errorf("%s: map without maxProperties", at)
			}
		case "array":
			if !has("maxItems") {
				t.Errorf("%s: array without maxItems", at)
			}
		case "string":
			pattern, _ := v["pattern"].(string)
			if !has("maxLength") && !has("enum") && !boundedPattern(pattern) {
				t.Errorf("%s: string without maxLength, enum or a bounded pattern", at)
			}
		case "integer":
			if !has("minimum") || !has("maximum") {
				t.Errorf("%s: integer without minimum and maximum", at)
			}
		case nil:
		default:
			t.Errorf("%s: unexpected type %v", at, v["type"])
		}
		for k, e := range v {
			checkBounded(t, at+"/"+k, e)
		}
	}
}

// boundedPattern reports whether every string matching pattern has a bounded
// length: the pattern is anchored at both ends and repeats nothing without an
// upper limit.
func boundedPattern(pattern string) bool {
	if !strings.HasPrefix(pattern, "^") || !strings.HasSuffix(pattern, "$") {
		return false
	}
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return false
	}
	var bounded func(*syntax.Regexp) bool
	bounded = func(re *syntax.Regexp) bool {
		switch re.Op {
		case syntax.OpStar, syntax.OpPlus:
			return false
		case syntax.OpRepeat:
			if re.Max < 0 {
				return false
			}
		}
		return !slices.ContainsFunc(re.Sub, func(sub *syntax.Regexp) bool { return !bounded(sub) })
	}
	return bounded(re)
}

func TestTypes(t *testing.T) {
	got := Types()
	want := slices.Sorted(maps.Keys(byType))
	if !slices.Equal(got, want) {
		t.Fatalf("Types() = %v, want %v", got, want)
	}
	used := map[string]bool{"defs.schema.json": true}
	for _, typ := range got {
		if _, err := File(byType[typ]); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
		used[byType[typ]] = true
		if _, ok := valid[typ]; !ok {
			t.Errorf("%s: no valid sample document in the tests", typ)
		}
	}
	names, _ := fs.Glob(files, "*.schema.json")
	for _, name := range names {
		if !used[name] {
			t.Errorf("%s is embedded but no type uses it", name)
		}
	}
}

// TestPrepare: Prepare compiles ahead of use, also while another goroutine
// validates the same type (the Lambda start does both at once), and names
// a type it has no schema for.
func TestPrepare(t *testing.T) {
	done := make(chan error, 1)
	go func() { done <- Prepare(Types()...) }()
	for typ, doc := range valid {
		if err := Validate(typ, []byte(doc)); err != nil {
			t.Errorf("valid %s, validated while another goroutine prepares: %v", typ, err)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Prepare(every type): %v", err)
	}
	err := Prepare("tenure.product/v1", "tenure.nope/v1")
	if err == nil || !strings.Contains(err.Error(), `"tenure.nope/v1"`) {
		t.Fatalf("Prepare of a type without a schema: %v, want an error naming it", err)
	}
}

func TestValid(t *testing.T) {
	for typ, doc := range valid {
		if err := Validate(typ, []byte(doc)); err != nil {
			t.Errorf("valid %s: %v", typ, err)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name, typ, path string
		value           any
		wantErr         string // "" for valid; else a substring, starting with the JSON path
	}{
		// Optional fields and edges that must pass.
		{"lrf first use", "tenure.lrf/v1", "first_use", "2026-01-07T08:30:00Z", ""},
		{"lrf grace start", "tenure.lrf/v1", "grace_start", "2027-01-05T00:00:00Z", ""},
		{"lrf installed", "tenure.lrf/v1", "installed", []any{"L-9f8e7d6c", "L-aaaaaa"}, ""},
		{"lrf pre-release version", "tenure.lrf/v1", "version", "1.2.3-rc.1", ""},
		{"license versions", "tenure.license/v1", "max_version", "1.0.0", ""},
		{"license supersedes", "tenure.license/v1", "supersedes", []any{"L-000000"}, ""},
		{"license largest limit", "tenure.license/v1", "limits/vpn_users", 9007199254740992, ""},
		{"license no features", "tenure.license/v1", "features", []any{}, ""},
		{"product deny", "tenure.product/v1", "restricted_features", "deny", ""},
		{"product min match", "tenure.product/v1", "binding/min_match", 2, ""},
		{"contract prolongation", "contract", "extend_months", 6, ""},
		{"backup extra", "tenure.backup/v1", "extra", map[string]any{"note": "x"}, ""},

		// Unknown and missing fields.
		{"license unknown field", "tenure.license/v1", "colour", "red", "/: additionalProperties 'colour' not allowed"},
		{"license missing until", "tenure.license/v1", "until", deleted, "/: missing properties: 'until'"},
		{"lrf missing nonce", "tenure.lrf/v1", "nonce", deleted, "/: missing properties: 'nonce'"},
		{"lrf null installed", "tenure.lrf/v1", "installed", nil, "/installed: expected array, but got null"},
		{"release unknown field", "tenure.release/v1", "reason", "moved", "/: additionalProperties 'reason' not allowed"},
		{"backup missing identity", "tenure.backup/v1", "identity", deleted, "/: missing properties: 'identity'"},
		{"product unknown trial field", "tenure.product/v1", "trial/hours", 3, "/trial: additionalProperties 'hours' not allowed"},
		{"product binding zero", "tenure.product/v1", "binding/min_match", 0, "/binding/min_match: must be >= 1"},
		{"contract missing status", "contract", "status", deleted, "/: missing properties: 'status'"},
		{"contract effective", "contract", "effective", "2026-02-01", "/: additionalProperties 'effective' not allowed"},
		{"contract prolongation without months", "contract", "change", "prolongation", "/: missing properties: 'extend_months'"},

		// Instants are UTC with whole seconds.
		{"license offset", "tenure.license/v1", "from", "2026-01-05T00:00:00+01:00", "/from: does not match pattern"},
		{"license fraction", "tenure.license/v1", "issued", "2026-01-05T00:00:00.5Z", "/issued: does not match pattern"},
		{"license date only", "tenure.license/v1", "until", "2027-01-05", "/until: '2027-01-05' is not valid 'date-time'"},
		{"license impossible day", "tenure.license/v1", "until", "2027-02-30T00:00:00Z", "/until: '2027-02-30T00:00:00Z' is not valid 'date-time'"},
		{"release number time", "tenure.release/v1", "released", 1767571200, "/released: expected string, but got number"},

		// Limits, features, enums, ids.
		{"license negative limit", "tenure.license/v1", "limits/vpn_users", -1, "/limits/vpn_users: must be >= 0"},
		{"license fractional limit", "tenure.license/v1", "limits/vpn_users", 2.5, "/limits/vpn_users: expected integer, but got number"},
		{"license huge limit", "tenure.license/v1", "limits/vpn_users", 9007199254740993, "/limits/vpn_users: must be <="},
		{"license bad limit name", "tenure.license/v1", "limits/VPN", 1, "/limits: additionalProperties 'VPN' not allowed"},
		{"license bad kind", "tenure.license/v1", "kind", "free", "/kind: value must be one of"},
		{"license bad reason", "tenure.license/v1", "reason", "gift", "/reason: value must be one of"},
		{"license duplicate feature", "tenure.license/v1", "features", []any{"scion", "scion"}, "/features: items at index 0 and 1 are equal"},
		{"license bad feature", "tenure.license/v1", "features", []any{"SCION"}, "/features/0: does not match pattern"},
		{"license empty supersedes", "tenure.license/v1", "supersedes", []any{}, "/supersedes: minimum 1 items required"},
		{"license revision zero", "tenure.license/v1", "revision", 0, "/revision: must be >= 1"},
		{"license bad id", "tenure.license/v1", "id", "X-9f8e7d6c", "/id: does not match pattern"},
		{"license bad platform hash", "tenure.license/v1", "platform/machine_id", "3F2A", "/platform/machine_id: does not match pattern"},
		{"license empty platform", "tenure.license/v1", "platform", map[string]any{}, "/platform: minimum 1 properties allowed"},
		{"license grace too long", "tenure.license/v1", "grace_days", 3651, "/grace_days: must be <= 3650"},
		{"license control character", "tenure.license/v1", "customer", "Acme\nAG", "/customer: does not match pattern"},
		{"lrf bad mode", "tenure.lrf/v1", "mode", "expired", "/mode: value must be one of"},
		{"lrf bad recipient", "tenure.lrf/v1", "recipient", "age1short", "/recipient: does not match pattern"},
		{"lrf bad device key", "tenure.lrf/v1", "device_key", "no-plus-signs", "/device_key: does not match pattern"},
		{"lrf negative sequence", "tenure.lrf/v1", "sequence", -1, "/sequence: must be >= 0"},
		{"lrf short nonce", "tenure.lrf/v1", "nonce", "abc", "/nonce: does not match pattern"},
		{"lrf bad version", "tenure.lrf/v1", "version", "v1.2", "/version: does not match pattern"},
		{"lrf bad appliance", "tenure.lrf/v1", "appliance", "A-XYZ", "/appliance: does not match pattern"},
		{"release no licenses", "tenure.release/v1", "licenses", []any{}, "/licenses: minimum 1 items required"},
		{"clock missing mark", "tenure.clock/v1", "mark", deleted, "/: missing properties: 'mark'"},
		{"clock unknown field", "tenure.clock/v1", "until", "2099-01-01T00:00:00Z", "/: additionalProperties 'until' not allowed"},
		{"clock empty reason", "tenure.clock/v1", "reason", "", "/reason: length must be >= 1"},
		{"clock bad key hash", "tenure.clock/v1", "device_key_hash", "ABC", "/device_key_hash: does not match pattern"},
		{"clock local mark", "tenure.clock/v1", "mark", "2026-06-01T12:00:00+02:00", "/mark"},
		{"release bad contract", "tenure.release/v1", "contract", "-IC", "/contract: does not match pattern"},
		{"backup empty extra", "tenure.backup/v1", "extra", map[string]any{}, "/extra: minimum 1 properties allowed"},
		{"backup long identity", "tenure.backup/v1", "identity", strings.Repeat("x", 257), "/identity: length must be <= 256"},
		{"product no tiers", "tenure.product/v1", "tiers", map[string]any{}, "/tiers: minimum 1 properties allowed"},
		{"product long trial", "tenure.product/v1", "trial/days", 366, "/trial/days: must be <= 365"},
		{"product restricted", "tenure.product/v1", "restricted_features", "allow", "/restricted_features: value must be one of"},
		{"contract bad change", "contract", "change", "cancel", "/change: value must be one of"},
		{"contract no seats", "contract", "appliances", 0, "/appliances: must be >= 1"},
		{"contract long term", "contract", "term_months", 121, "/term_months: must be <= 120"},
		{"contract bad status", "contract", "status", "paused", "/status: value must be one of"},

		// Usage reports and the summary an LRF carries. The order of the
		// sections and of the period's ends is the engine's to check: the
		// schema lets them through.
		{"usage largest count", "tenure.usage/v1", "contracts/0/limits/vpn_users/denied", 9007199254740991, ""},
		{"usage no contracts", "tenure.usage/v1", "contracts", []any{}, ""},
		{"usage empty period", "tenure.usage/v1", "period/until", "2026-01-05T09:00:00Z", ""},
		{"usage reversed period", "tenure.usage/v1", "period/until", "2026-01-01T00:00:00Z", ""},
		{"usage unsorted contracts", "tenure.usage/v1", "contracts", usageSections("IC-2077", "IC-1042"), ""},
		{"usage repeated contract", "tenure.usage/v1", "contracts", usageSections("IC-1042", "IC-1042"), ""},
		{"usage sixteen sections", "tenure.usage/v1", "contracts", usageSections(contractIDs(16)...), ""},
		{"lrf usage", "tenure.lrf/v1", "usage", usageSummary(t), ""},
		{"usage unknown field", "tenure.usage/v1", "colour", "red", "/: additionalProperties 'colour' not allowed"},
		{"usage unknown section field", "tenure.usage/v1", "contracts/0/seats", 2, "/contracts/0: additionalProperties 'seats' not allowed"},
		{"usage unknown peak field", "tenure.usage/v1", "contracts/0/limits/vpn_users/at", "2026-02-01T00:00:00Z", "/contracts/0/limits/vpn_users: additionalProperties 'at' not allowed"},
		{"usage unknown period field", "tenure.usage/v1", "period/days", 30, "/period: additionalProperties 'days' not allowed"},
		{"usage missing history", "tenure.usage/v1", "history", deleted, "/: missing properties: 'history'"},
		{"usage missing nonce", "tenure.usage/v1", "nonce", deleted, "/: missing properties: 'nonce'"},
		{"usage missing features", "tenure.usage/v1", "contracts/1/features", deleted, "/contracts/1: missing properties: 'features'"},
		{"usage null limits", "tenure.usage/v1", "contracts/1/limits", nil, "/contracts/1/limits: expected object, but got null"},
		{"usage missing denied", "tenure.usage/v1", "contracts/0/limits/vpn_users/denied", deleted, "/contracts/0/limits/vpn_users: missing properties: 'denied'"},
		{"usage count over 2^53-1", "tenure.usage/v1", "contracts/0/limits/vpn_users/denied", 9007199254740992, "/contracts/0/limits/vpn_users/denied: must be <="},
		{"usage negative count", "tenure.usage/v1", "contracts/0/limits/vpn_users/allowed", -1, "/contracts/0/limits/vpn_users/allowed: must be >= 0"},
		{"usage fractional count", "tenure.usage/v1", "contracts/0/limits/vpn_users/allowed", 2.5, "/contracts/0/limits/vpn_users/allowed: expected integer, but got number"},
		{"usage count as text", "tenure.usage/v1", "contracts/0/limits/vpn_users/allowed", "250", "/contracts/0/limits/vpn_users/allowed: expected integer, but got string"},
		{"usage bad limit name", "tenure.usage/v1", "contracts/0/limits/VPN", map[string]any{"allowed": 1, "denied": 0}, "/contracts/0/limits: additionalProperties 'VPN' not allowed"},
		{"usage bad feature name", "tenure.usage/v1", "contracts/0/features/SCION", 1, "/contracts/0/features: additionalProperties 'SCION' not allowed"},
		{"usage zero days", "tenure.usage/v1", "contracts/0/features/scion", 0, "/contracts/0/features/scion: must be >= 1"},
		{"usage too many days", "tenure.usage/v1", "contracts/0/features/scion", 1000001, "/contracts/0/features/scion: must be <="},
		{"usage bad contract", "tenure.usage/v1", "contracts/0/contract", "-IC", "/contracts/0/contract: does not match pattern"},
		{"usage bad product", "tenure.usage/v1", "product", "Edge", "/product: does not match pattern"},
		{"usage bad appliance", "tenure.usage/v1", "appliance", "A-XYZ", "/appliance: does not match pattern"},
		{"usage period missing until", "tenure.usage/v1", "period/until", deleted, "/period: missing properties: 'until'"},
		{"usage period offset", "tenure.usage/v1", "period/from", "2026-01-05T10:00:00+01:00", "/period/from: does not match pattern"},
		{"usage period date only", "tenure.usage/v1", "period/until", "2026-06-01", "/period/until: '2026-06-01' is not valid 'date-time'"},
		{"usage too many sections", "tenure.usage/v1", "contracts", usageSections(contractIDs(17)...), "/contracts: maximum 16 items required"},
		{"usage contracts not a list", "tenure.usage/v1", "contracts", map[string]any{}, "/contracts: expected array, but got object"},
		{"usage empty history", "tenure.usage/v1", "history/entries", []any{}, "/history/entries: minimum 1 items required"},
		{"lrf usage missing period", "tenure.lrf/v1", "usage", usageSummary(t, "period", deleted), "/usage: missing properties: 'period'"},
		{"lrf usage unknown field", "tenure.lrf/v1", "usage", usageSummary(t, "report", "x"), "/usage: additionalProperties 'report' not allowed"},
		{"lrf usage count over 2^53-1", "tenure.lrf/v1", "usage", usageSummary(t, "contracts", usageSections("IC-1042", "IC-2077"), "contracts/0/limits", map[string]any{"vpn_users": map[string]any{"allowed": 9007199254740992, "denied": 0}}), "/usage/contracts/0/limits/vpn_users/allowed: must be <="},
		{"lrf usage too many sections", "tenure.lrf/v1", "usage", usageSummary(t, "contracts", usageSections(contractIDs(17)...)), "/usage/contracts: maximum 16 items required"},
		{"lrf null usage", "tenure.lrf/v1", "usage", nil, "/usage: expected object, but got null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := edit(t, valid[tt.typ], tt.path, tt.value)
			err := Validate(tt.typ, doc)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate(%s) = %v, want nil", doc, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate(%s) = nil, want %q", doc, tt.wantErr)
			}
			if want := tt.typ + ": " + tt.wantErr; !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("Validate(%s) = %q, want prefix %q", doc, err, want)
			}
		})
	}
}

// usageSections returns one small usage section per contract, in the order
// given.
func usageSections(contracts ...string) []any {
	out := []any{}
	for _, c := range contracts {
		out = append(out, map[string]any{"contract": c, "limits": map[string]any{}, "features": map[string]any{"scion": 1}})
	}
	return out
}

func contractIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "IC-" + strconv.Itoa(1000+i)
	}
	return out
}

// usageSummary is the usage an LRF carries, the period so far and the
// sections of the valid usage report, with edits as path, value pairs
// applied in order.
func usageSummary(t *testing.T, edits ...any) map[string]any {
	t.Helper()
	var u map[string]any
	if err := json.Unmarshal([]byte(validUsage), &u); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"period": u["period"], "contracts": u["contracts"]})
	for i := 0; i+1 < len(edits); i += 2 {
		b = edit(t, string(b), edits[i].(string), edits[i+1])
	}
	var out map[string]any
	json.Unmarshal(b, &out)
	return out
}

func TestValidateInput(t *testing.T) {
	tests := []struct {
		name, typ, doc, wantErr string
	}{
		{"unknown type", "tenure.usage/v0", `{}`, `no schema for "tenure.usage/v0"`},
		{"not JSON", "tenure.license/v1", `{"id":`, "tenure.license/v1: not JSON"},
		{"trailing data", "tenure.release/v1", validRelease + `{}`, "tenure.release/v1: trailing data"},
		{"not an object", "contract", `[]`, "contract: /: expected object, but got array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.typ, []byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestEdgeProduct(t *testing.T) {
	first, body, ok := bytes.Cut(EdgeProduct, []byte("\n"))
	if !ok || string(first) != "tenure.product/v1" {
		t.Fatalf("edge.product starts with %q, want the line tenure.product/v1", first)
	}
	if err := Validate("tenure.product/v1", body); err != nil {
		t.Fatal(err)
	}
	// What the schema cannot say: a tier names only catalog features, and
	// every tier and the trial limit the same things.
	var p struct {
		ID       string
		Features []string
		Tiers    map[string]struct {
			Features []string
			Limits   map[string]int64
		}
		Trial struct{ Limits map[string]int64 }
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	if p.ID != "edge" {
		t.Errorf("id = %q, want edge", p.ID)
	}
	limits := slices.Sorted(maps.Keys(p.Trial.Limits))
	for name, tier := range p.Tiers {
		for _, f := range tier.Features {
			if !slices.Contains(p.Features, f) {
				t.Errorf("tier %s: feature %q is not in the catalog", name, f)
			}
		}
		if got := slices.Sorted(maps.Keys(tier.Limits)); !slices.Equal(got, limits) {
			t.Errorf("tier %s limits %v, trial limits %v", name, got, limits)
		}
	}
}
