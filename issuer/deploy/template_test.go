package deploy_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/intrinsics"

	"github.com/tenurehq/tenure/issuer/internal/store/dynamo"
)

// symbolic renders intrinsic functions as readable text instead of resolving
// them (goformation would resolve a Ref to a resource as nothing), so the
// test can check what each value is wired to: !Ref Table reads "${Table}",
// !GetAtt Key.Arn reads "${Key.Arn}" and !Sub keeps its template.
var symbolic = &intrinsics.ProcessorOptions{IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
	"Ref": func(_ string, in, _ any) any { return fmt.Sprintf("${%v}", in) },
	"Fn::GetAtt": func(_ string, in, _ any) any {
		switch v := in.(type) {
		case []any:
			parts := make([]string, len(v))
			for i, p := range v {
				parts[i] = fmt.Sprint(p)
			}
			return "${" + strings.Join(parts, ".") + "}"
		default:
			return fmt.Sprintf("${%v}", v)
		}
	},
	"Fn::Sub": func(_ string, in, _ any) any {
		if v, ok := in.([]any); ok && len(v) > 0 {
			return v[0]
		}
		return in
	},
}}

func open(t *testing.T) *cloudformation.Template {
	t.Helper()
	tmpl, err := goformation.OpenWithOptions("template.yaml", symbolic)
	if err != nil {
		t.Fatalf("template.yaml does not parse as a CloudFormation template: %v", err)
	}
	return tmpl
}

func TestFunction(t *testing.T) {
	tmpl := open(t)
	fn, err := tmpl.GetServerlessFunctionWithName("Issuer")
	if err != nil {
		t.Fatal(err)
	}
	str := func(p *string) string {
		if p == nil {
			return "<unset>"
		}
		return *p
	}
	if got := str(fn.Runtime); got != "provided.al2023" {
		t.Errorf("Runtime = %s, want provided.al2023", got)
	}
	if !slices.Equal(fn.Architectures, []string{"arm64"}) {
		t.Errorf("Architectures = %v, want [arm64] (make lambda builds GOARCH=arm64)", fn.Architectures)
	}
	if got := str(fn.Handler); got != "bootstrap" {
		t.Errorf("Handler = %s, want bootstrap", got)
	}
	if fn.CodeUri == nil || fn.CodeUri.String == nil {
		t.Fatalf("CodeUri is not a local path")
	}
	// CodeUri must be what scripts/lambda.sh makes, relative to the template.
	zip := filepath.Clean(filepath.Join(".", *fn.CodeUri.String))
	script, err := os.ReadFile(filepath.Join("..", "..", "scripts", "lambda.sh"))
	if err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(filepath.Join("..", ".."), zip)
	if !strings.Contains(string(script), rel) {
		t.Errorf("CodeUri %s (%s from the repository root) is not the zip scripts/lambda.sh writes", *fn.CodeUri.String, rel)
	}

	if fn.Environment == nil {
		t.Fatal("no environment")
	}
	wantEnv := map[string]string{
		"TENURE_STORE":       "dynamodb:${Table}",
		"TENURE_KEY_FILE":    "kms:${SigningKey.Arn}?name=${KeyName}",
		"TENURE_ADMIN_TOKEN": "${AdminToken}",
	}
	for k, want := range wantEnv {
		if got := fn.Environment.Variables[k]; got != want {
			t.Errorf("env %s = %q, want %q", k, got, want)
		}
	}
	for k := range fn.Environment.Variables {
		if _, ok := wantEnv[k]; !ok {
			t.Errorf("unexpected env %s (TENURE_NOW must never be set on Lambda)", k)
		}
	}
	admin, ok := tmpl.Parameters["AdminToken"]
	if !ok || admin.NoEcho == nil || !*admin.NoEcho {
		t.Errorf("AdminToken parameter must exist with NoEcho so the token never shows in the console")
	}

	if fn.FunctionUrlConfig == nil || fn.FunctionUrlConfig.AuthType != "NONE" {
		t.Errorf("FunctionUrlConfig = %+v, want AuthType NONE (the API checks its own bearer tokens)", fn.FunctionUrlConfig)
	}
	var httpAPI bool
	for name, ev := range fn.Events {
		if ev.Type != "HttpApi" {
			continue
		}
		httpAPI = true
		p := ev.Properties
		if p == nil || p.HttpApiEvent == nil {
			t.Fatalf("event %s: properties are not an HttpApi event's", name)
		}
		if got := str(p.HttpApiEvent.PayloadFormatVersion); got != "2.0" {
			t.Errorf("event %s: PayloadFormatVersion = %s, want 2.0 (the adapter reads payload 2.0 only)", name, got)
		}
		if str(p.HttpApiEvent.Path) != "/{proxy+}" || str(p.HttpApiEvent.Method) != "ANY" {
			t.Errorf("event %s: route %s %s, want ANY /{proxy+} so every route reaches the handler", name,
				str(p.HttpApiEvent.Method), str(p.HttpApiEvent.Path))
		}
	}
	if !httpAPI {
		t.Errorf("no HttpApi event")
	}
}

func TestPolicies(t *testing.T) {
	fn, err := open(t).GetServerlessFunctionWithName("Issuer")
	if err != nil {
		t.Fatal(err)
	}
	if fn.Policies == nil || fn.Policies.IAMPolicyDocument == nil {
		t.Fatalf("Policies is not one inline policy document")
	}
	// Collect action -> resources.
	granted := map[string][]string{}
	for i, st := range fn.Policies.IAMPolicyDocument.Statement {
		m, ok := st.(map[string]any)
		if !ok {
			t.Fatalf("statement %d is %T", i, st)
		}
		if m["Effect"] != "Allow" {
			t.Errorf("statement %d: Effect %v", i, m["Effect"])
		}
		for _, a := range list(m["Action"]) {
			if strings.Contains(a, "*") {
				t.Errorf("statement %d grants the wildcard %s; grant actions by name", i, a)
			}
			granted[a] = append(granted[a], list(m["Resource"])...)
		}
	}
	// What the DynamoDB store calls; it has no secondary index.
	store := []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem",
		"dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:TransactWriteItems", "dynamodb:DescribeTable"}
	for _, a := range store {
		if !slices.Equal(granted[a], []string{"${Table.Arn}"}) {
			t.Errorf("%s granted on %v, want the table", a, granted[a])
		}
	}
	for a := range granted {
		if strings.HasPrefix(a, "dynamodb:") && !slices.Contains(store, a) {
			t.Errorf("function role has %s, which the store never calls (it never deletes: licenses and the ledger are kept)", a)
		}
	}
	for _, a := range []string{"kms:Sign", "kms:GetPublicKey"} {
		if !slices.Equal(granted[a], []string{"${SigningKey.Arn}"}) {
			t.Errorf("%s granted on %v, want the signing key only", a, granted[a])
		}
	}
	for a := range granted {
		if strings.HasPrefix(a, "kms:") && a != "kms:Sign" && a != "kms:GetPublicKey" {
			t.Errorf("function role has %s; it needs kms:Sign and kms:GetPublicKey only", a)
		}
	}
}

func list(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return nil
}

func TestTable(t *testing.T) {
	table, err := open(t).GetDynamoDBTableWithName("Table")
	if err != nil {
		t.Fatal(err)
	}
	if table.BillingMode == nil || *table.BillingMode != "PAY_PER_REQUEST" {
		t.Errorf("BillingMode = %v, want PAY_PER_REQUEST (on demand)", table.BillingMode)
	}
	// The table must be the one the store's CreateTable makes for DynamoDB
	// Local, so both run the same design.
	want := dynamo.TableDefinition("tenure")
	keys, wantKeys := map[string]string{}, map[string]string{}
	for _, k := range table.KeySchema {
		keys[k.AttributeName] = k.KeyType
	}
	for _, k := range want.KeySchema {
		wantKeys[*k.AttributeName] = string(k.KeyType)
	}
	if !maps.Equal(keys, wantKeys) {
		t.Errorf("KeySchema = %v, want the DynamoDB store's %v", keys, wantKeys)
	}
	attrs, wantAttrs := map[string]string{}, map[string]string{}
	for _, a := range table.AttributeDefinitions {
		attrs[a.AttributeName] = a.AttributeType
	}
	for _, a := range want.AttributeDefinitions {
		wantAttrs[*a.AttributeName] = string(a.AttributeType)
	}
	if !maps.Equal(attrs, wantAttrs) {
		t.Errorf("AttributeDefinitions = %v, want the DynamoDB store's %v", attrs, wantAttrs)
	}
	if len(table.GlobalSecondaryIndexes) != len(want.GlobalSecondaryIndexes) || len(table.LocalSecondaryIndexes) != len(want.LocalSecondaryIndexes) {
		t.Errorf("table has %d global and %d local secondary indexes; the store uses none", len(table.GlobalSecondaryIndexes), len(table.LocalSecondaryIndexes))
	}
	if string(want.BillingMode) != "PAY_PER_REQUEST" {
		t.Errorf("the store creates tables with billing mode %s", want.BillingMode)
	}
	pitr := table.PointInTimeRecoverySpecification
	if pitr == nil || pitr.PointInTimeRecoveryEnabled == nil || !*pitr.PointInTimeRecoveryEnabled {
		t.Errorf("point-in-time recovery is off; the ledger must be recoverable")
	}
	if table.AWSCloudFormationDeletionPolicy != "Retain" {
		t.Errorf("table DeletionPolicy = %q, want Retain: deleting the stack must not delete issued licenses", table.AWSCloudFormationDeletionPolicy)
	}
}

func TestSigningKey(t *testing.T) {
	tmpl := open(t)
	key, err := tmpl.GetKMSKeyWithName("SigningKey")
	if err != nil {
		t.Fatal(err)
	}
	if key.KeySpec == nil || *key.KeySpec != "ECC_NIST_EDWARDS25519" {
		t.Errorf("KeySpec = %v, want ECC_NIST_EDWARDS25519", key.KeySpec)
	}
	if key.KeyUsage == nil || *key.KeyUsage != "SIGN_VERIFY" {
		t.Errorf("KeyUsage = %v, want SIGN_VERIFY", key.KeyUsage)
	}
	if key.AWSCloudFormationDeletionPolicy != "Retain" {
		t.Errorf("key DeletionPolicy = %q, want Retain: validators in the field trust it", key.AWSCloudFormationDeletionPolicy)
	}
	for _, out := range []string{"FunctionUrl", "ApiEndpoint"} {
		if _, ok := tmpl.Outputs[out]; !ok {
			t.Errorf("output %s missing", out)
		}
	}
}
