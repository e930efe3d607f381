package deploy_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/intrinsics"

	"github.com/tenurehq/tenure/issuer/internal/store/dynamo"
)

// A template is template.yaml as CloudFormation would deploy it with some
// parameter values: conditions evaluated, Fn::If resolved, Number
// parameters resolved to their values (goformation types those properties
// as numbers), and everything else rendered as readable text instead of
// resolved (goformation would resolve a Ref to a resource as nothing), so
// the test can check what each value is wired to: !Ref Table reads
// "${Table}", !GetAtt Key.Arn reads "${Key.Arn}", !Ref KeyName reads
// "${KeyName}", and !Sub keeps its template with its own variables filled.
type template struct {
	*cloudformation.Template
	raw    map[string]any    // the YAML as written, intrinsics in long form
	values map[string]string // every parameter's value, as Ref gives it
	conds  map[string]bool
}

func open(t *testing.T) *template { return openWith(t, nil) }

// openWith opens the template with parameter values set (the rest keep
// their defaults).
func openWith(t *testing.T, set map[string]string) *template {
	t.Helper()
	data, err := os.ReadFile("template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	js, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		t.Fatalf("template.yaml is not YAML CloudFormation reads: %v", err)
	}
	tp := &template{values: map[string]string{}, conds: map[string]bool{}}
	if err := json.Unmarshal(js, &tp.raw); err != nil {
		t.Fatal(err)
	}
	params, _ := tp.raw["Parameters"].(map[string]any)
	for name, p := range params {
		if d, ok := p.(map[string]any)["Default"]; ok {
			tp.values[name] = fmt.Sprint(d)
		} else {
			tp.values[name] = ""
		}
	}
	for name, v := range set {
		if _, ok := params[name]; !ok {
			t.Fatalf("the template has no parameter %s", name)
		}
		tp.values[name] = v
	}
	conds, _ := tp.raw["Conditions"].(map[string]any)
	for name := range conds {
		tp.conds[name] = tp.condition(t, name)
	}

	opts := &intrinsics.ProcessorOptions{IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
		"Ref": func(_ string, in, _ any) any {
			name := fmt.Sprint(in)
			if name == "AWS::NoValue" {
				return nil
			}
			if p, ok := params[name].(map[string]any); ok && p["Type"] == "Number" {
				n, err := strconv.ParseFloat(tp.values[name], 64)
				if err != nil {
					t.Fatalf("Number parameter %s = %q", name, tp.values[name])
				}
				return n
			}
			return "${" + name + "}"
		},
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
			v, ok := in.([]any)
			if !ok {
				return in
			}
			s := fmt.Sprint(v[0])
			if vars, ok := v[1].(map[string]any); ok {
				for k, x := range vars {
					s = strings.ReplaceAll(s, "${"+k+"}", fmt.Sprint(x))
				}
			}
			return s
		},
		"Fn::If": func(_ string, in, _ any) any {
			v, ok := in.([]any)
			if !ok || len(v) != 3 {
				t.Fatalf("Fn::If %v", in)
			}
			c, ok := tp.conds[fmt.Sprint(v[0])]
			if !ok {
				t.Fatalf("Fn::If names no condition: %v", v[0])
			}
			if c {
				return v[1]
			}
			return v[2]
		},
	}}
	// goformation (v7.14.9) predates the function's LoggingConfig and
	// refuses it; the tests read it from raw.
	var typed map[string]any
	if err := json.Unmarshal(js, &typed); err != nil {
		t.Fatal(err)
	}
	if fn, ok := typed["Resources"].(map[string]any)["Issuer"].(map[string]any); ok {
		delete(fn["Properties"].(map[string]any), "LoggingConfig")
	}
	if js, err = json.Marshal(typed); err != nil {
		t.Fatal(err)
	}
	tp.Template, err = goformation.ParseJSONWithOptions(js, opts)
	if err != nil {
		t.Fatalf("template.yaml does not parse as a CloudFormation template: %v", err)
	}
	return tp
}

// condition evaluates a condition of the template as CloudFormation does:
// Ref gives a parameter's value as a string.
func (tp *template) condition(t *testing.T, name string) bool {
	t.Helper()
	expr, ok := tp.raw["Conditions"].(map[string]any)[name]
	if !ok {
		t.Fatalf("no condition %s", name)
	}
	var eval func(any) any
	eval = func(x any) any {
		m, ok := x.(map[string]any)
		if !ok || len(m) != 1 {
			return fmt.Sprint(x)
		}
		for fn, arg := range m {
			args, _ := arg.([]any)
			switch fn {
			case "Ref":
				v, ok := tp.values[fmt.Sprint(arg)]
				if !ok {
					t.Fatalf("condition %s: Ref %v is no parameter", name, arg)
				}
				return v
			case "Condition":
				return tp.condition(t, fmt.Sprint(arg))
			case "Fn::Equals":
				return eval(args[0]) == eval(args[1])
			case "Fn::Not":
				return !eval(args[0]).(bool)
			case "Fn::And", "Fn::Or":
				all, some := true, false
				for _, a := range args {
					b := eval(a).(bool)
					all, some = all && b, some || b
				}
				return fn == "Fn::And" && all || fn == "Fn::Or" && some
			}
			t.Fatalf("condition %s: %s is not a condition function", name, fn)
		}
		panic("unreachable")
	}
	return eval(expr).(bool)
}

// exists reports whether the resource is made with these parameter values.
func (tp *template) exists(t *testing.T, name string) bool {
	t.Helper()
	r, ok := tp.raw["Resources"].(map[string]any)[name].(map[string]any)
	if !ok {
		return false
	}
	c, ok := r["Condition"]
	return !ok || tp.conds[fmt.Sprint(c)]
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
		"TENURE_STORE":              "dynamodb:${Table}",
		"TENURE_KEY_FILE":           "kms:${SigningKey.Arn}?name=${KeyName}",
		"TENURE_ADMIN_TOKEN_SECRET": "secretsmanager:${AdminTokenSecret}",
		"TENURE_PRODUCTS":           "${Products}",
		"GOGC":                      "400",
		"GOMEMLIMIT":                "384MiB",
	}
	for k, want := range wantEnv {
		if got := fn.Environment.Variables[k]; got != want {
			t.Errorf("env %s = %q, want %q", k, got, want)
		}
	}
	// GOMEMLIMIT is three quarters of the function's memory (the comment
	// beside it says why), so the two change together.
	memory := 0
	if fn.MemorySize != nil {
		memory = *fn.MemorySize
	}
	if got := fn.Environment.Variables["GOMEMLIMIT"]; got != fmt.Sprintf("%dMiB", memory*3/4) {
		t.Errorf("GOMEMLIMIT = %q is not three quarters of MemorySize %d", got, memory)
	}
	for k := range fn.Environment.Variables {
		if _, ok := wantEnv[k]; !ok {
			t.Errorf("unexpected env %s (TENURE_NOW must never be set on Lambda; the admin token is in Secrets Manager, not TENURE_ADMIN_TOKEN)", k)
		}
	}
	for name, p := range tmpl.Parameters {
		if strings.Contains(strings.ToLower(name), "token") && p.Type == "String" && !strings.HasSuffix(name, "SecretArn") {
			t.Errorf("parameter %s: the admin token must not be a parameter (it would sit in the stack's parameters and the function's environment); keep it in Secrets Manager", name)
		}
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

// grants collects the function's inline policy as action -> resources.
func grants(t *testing.T, tp *template) map[string][]string {
	t.Helper()
	fn, err := tp.GetServerlessFunctionWithName("Issuer")
	if err != nil {
		t.Fatal(err)
	}
	if fn.Policies == nil || fn.Policies.IAMPolicyDocument == nil {
		t.Fatalf("Policies is not one inline policy document")
	}
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
	return granted
}

func TestPolicies(t *testing.T) {
	granted := grants(t, open(t))
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
	if got := granted["secretsmanager:GetSecretValue"]; !slices.Equal(got, []string{"${AdminTokenSecret}"}) {
		t.Errorf("secretsmanager:GetSecretValue granted on %v, want the admin token's secret only", got)
	}
	for a := range granted {
		if strings.HasPrefix(a, "secretsmanager:") && a != "secretsmanager:GetSecretValue" {
			t.Errorf("function role has %s; it reads its admin token and nothing else", a)
		}
		if prefix, _, _ := strings.Cut(a, ":"); !slices.Contains([]string{"dynamodb", "kms", "secretsmanager"}, prefix) {
			t.Errorf("function role has %s, which the issuer never calls", a)
		}
	}
}

// TestAdminTokenSecret: the admin token is a secret the stack makes, or one
// a parameter names; the function is told where, reads that one only, and
// never gets the token itself in its environment.
func TestAdminTokenSecret(t *testing.T) {
	tp := open(t)
	if !tp.exists(t, "AdminTokenSecret") {
		t.Fatalf("with AdminTokenSecretArn empty the stack makes no secret")
	}
	sec, err := tp.GetSecretsManagerSecretWithName("AdminTokenSecret")
	if err != nil {
		t.Fatal(err)
	}
	g := sec.GenerateSecretString
	switch {
	case g == nil:
		t.Errorf("the secret has no GenerateSecretString: nobody would know its value but whoever wrote it")
	case g.PasswordLength == nil || *g.PasswordLength < 32:
		t.Errorf("generated token length %v, want at least 32 characters", g.PasswordLength)
	case g.ExcludePunctuation == nil || !*g.ExcludePunctuation || g.IncludeSpace != nil && *g.IncludeSpace:
		t.Errorf("the generated token may hold punctuation or spaces, which break `Authorization: Bearer $TOKEN` in a shell")
	case g.SecretStringTemplate != nil || g.GenerateStringKey != nil:
		t.Errorf("the generated secret is JSON; the issuer reads the secret's string as the token itself")
	}
	if sec.SecretString != nil {
		t.Errorf("the secret's value is written in the template")
	}
	if o, ok := tp.Outputs["AdminTokenSecret"]; !ok || fmt.Sprint(o.Value) != "${AdminTokenSecret}" {
		t.Errorf("output AdminTokenSecret = %+v, want the secret, so the README's get-secret-value finds it", o)
	}

	// An existing secret instead: no secret made, the function reads that one.
	const arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:tenure/admin-token-AbCdEf"
	tp = openWith(t, map[string]string{"AdminTokenSecretArn": arn})
	if tp.exists(t, "AdminTokenSecret") {
		t.Errorf("with AdminTokenSecretArn set the stack still makes a secret")
	}
	fn, err := tp.GetServerlessFunctionWithName("Issuer")
	if err != nil {
		t.Fatal(err)
	}
	if got := fn.Environment.Variables["TENURE_ADMIN_TOKEN_SECRET"]; got != "secretsmanager:${AdminTokenSecretArn}" {
		t.Errorf("with an existing secret, TENURE_ADMIN_TOKEN_SECRET = %q, want secretsmanager:${AdminTokenSecretArn}", got)
	}
	if got := grants(t, tp)["secretsmanager:GetSecretValue"]; !slices.Equal(got, []string{"${AdminTokenSecretArn}"}) {
		t.Errorf("with an existing secret, GetSecretValue granted on %v, want that secret only", got)
	}
	p := tp.Parameters["AdminTokenSecretArn"]
	if p.AllowedPattern == nil {
		t.Fatalf("AdminTokenSecretArn takes anything")
	}
	re := regexp.MustCompile("^(?:" + *p.AllowedPattern + ")$")
	for v, ok := range map[string]bool{"": true, arn: true, "tenure/admin-token": false, "arn:aws:ssm:eu-west-1:111122223333:parameter/x": false} {
		if re.MatchString(v) != ok {
			t.Errorf("AdminTokenSecretArn %q allowed: %v, want %v (a full secret ARN, which the role's policy can name)", v, !ok, ok)
		}
	}
}

// TestKeyRotation: one key signs unless a second is given; during the
// overlap both sign, and the function may use both; after it, the second
// takes over as the first.
func TestKeyRotation(t *testing.T) {
	const next = "arn:aws:kms:eu-west-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321"
	for _, c := range []struct {
		name string
		set  map[string]string
		keys string   // TENURE_KEY_FILE
		kms  []string // what kms:Sign is granted on
	}{
		{"one key", nil, "kms:${SigningKey.Arn}?name=${KeyName}", []string{"${SigningKey.Arn}"}},
		{"overlap", map[string]string{"SecondKeyArn": next, "SecondKeyName": "tenure-issuer-2027"},
			"kms:${SigningKey.Arn}?name=${KeyName},kms:${SecondKeyArn}?name=${SecondKeyName}", []string{"${SigningKey.Arn}", "${SecondKeyArn}"}},
		// Half a second key (no name) would stop every signature at the
		// function's start: the first key keeps signing alone.
		{"second key without a name", map[string]string{"SecondKeyArn": next}, "kms:${SigningKey.Arn}?name=${KeyName}", []string{"${SigningKey.Arn}"}},
		{"retired", map[string]string{"FirstKeyArn": next, "KeyName": "tenure-issuer-2027"}, "kms:${FirstKeyArn}?name=${KeyName}", []string{"${FirstKeyArn}"}},
	} {
		tp := openWith(t, c.set)
		fn, err := tp.GetServerlessFunctionWithName("Issuer")
		if err != nil {
			t.Fatal(err)
		}
		if got := fn.Environment.Variables["TENURE_KEY_FILE"]; got != c.keys {
			t.Errorf("%s: TENURE_KEY_FILE = %q, want %q", c.name, got, c.keys)
		}
		if o := tp.Outputs["SigningKeys"]; fmt.Sprint(o.Value) != c.keys {
			t.Errorf("%s: output SigningKeys = %v, want %q", c.name, o.Value, c.keys)
		}
		g := grants(t, tp)
		for _, a := range []string{"kms:Sign", "kms:GetPublicKey"} {
			if !slices.Equal(g[a], c.kms) {
				t.Errorf("%s: %s granted on %v, want %v", c.name, a, g[a], c.kms)
			}
		}
		if !tp.exists(t, "SigningKey") {
			t.Errorf("%s: the stack's key is gone; validators in the field may still trust it", c.name)
		}
	}
	for _, name := range []string{"FirstKeyArn", "SecondKeyArn"} {
		p := open(t).Parameters[name]
		if p.Default != "" || p.AllowedPattern == nil {
			t.Errorf("%s: default %v, pattern %v; want optional, a KMS key ARN", name, p.Default, p.AllowedPattern)
			continue
		}
		re := regexp.MustCompile("^(?:" + *p.AllowedPattern + ")$")
		if !re.MatchString(next) || re.MatchString("alias/tenure") {
			t.Errorf("%s takes an alias or refuses a key ARN; the role's policy needs the key's ARN", name)
		}
	}
}

// TestLimits: the HTTP API is throttled and the function's concurrency
// reserved, both from parameters.
func TestLimits(t *testing.T) {
	tmpl := openWith(t, map[string]string{"ThrottlingBurstLimit": "40", "ThrottlingRateLimit": "20", "ReservedConcurrency": "7"})
	api, err := tmpl.GetServerlessHttpApiWithName("HttpApi")
	if err != nil {
		t.Fatal(err)
	}
	rs := api.DefaultRouteSettings
	if rs == nil || rs.ThrottlingBurstLimit == nil || *rs.ThrottlingBurstLimit != 40 || rs.ThrottlingRateLimit == nil || *rs.ThrottlingRateLimit != 20 {
		t.Errorf("HttpApi DefaultRouteSettings = %+v, want burst and rate from ThrottlingBurstLimit and ThrottlingRateLimit", rs)
	}
	fn, err := tmpl.GetServerlessFunctionWithName("Issuer")
	if err != nil {
		t.Fatal(err)
	}
	if fn.ReservedConcurrentExecutions == nil || *fn.ReservedConcurrentExecutions != 7 {
		t.Errorf("ReservedConcurrentExecutions = %s, want ReservedConcurrency's 7", show(fn.ReservedConcurrentExecutions))
	}
	// The function's API event is on that API, not an implicit one
	// without throttling.
	for name, ev := range fn.Events {
		if ev.Type == "HttpApi" && (ev.Properties.HttpApiEvent.ApiId == nil || *ev.Properties.HttpApiEvent.ApiId != "${HttpApi}") {
			t.Errorf("event %s is not on the throttled HttpApi", name)
		}
	}
	if o := tmpl.Outputs["ApiEndpoint"]; !strings.Contains(fmt.Sprint(o.Value), "${HttpApi}") {
		t.Errorf("output ApiEndpoint = %v, want the throttled HttpApi's", o.Value)
	}

	// 0 reserves nothing (in Lambda, 0 reserved would stop the function).
	fn, err = openWith(t, map[string]string{"ReservedConcurrency": "0"}).GetServerlessFunctionWithName("Issuer")
	if err != nil {
		t.Fatal(err)
	}
	if fn.ReservedConcurrentExecutions != nil {
		t.Errorf("ReservedConcurrency 0 sets ReservedConcurrentExecutions %d, which would throttle every request", *fn.ReservedConcurrentExecutions)
	}
	// The defaults.
	tmpl = open(t)
	for name, want := range map[string]float64{"ThrottlingBurstLimit": 200, "ThrottlingRateLimit": 100, "ReservedConcurrency": 20, "LogRetentionDays": 90} {
		p, ok := tmpl.Parameters[name]
		if !ok || p.Type != "Number" || fmt.Sprint(p.Default) != fmt.Sprint(want) {
			t.Errorf("parameter %s = %+v, want a Number defaulting to %v", name, p, want)
		}
	}
}

// TestLogGroup: the function logs to a group of the stack's with a
// retention from LogRetentionDays.
func TestLogGroup(t *testing.T) {
	tmpl := openWith(t, map[string]string{"LogRetentionDays": "30"})
	lg, err := tmpl.GetLogsLogGroupWithName("IssuerLogs")
	if err != nil {
		t.Fatal(err)
	}
	if lg.RetentionInDays == nil || *lg.RetentionInDays != 30 {
		t.Errorf("RetentionInDays = %s, want LogRetentionDays's 30", show(lg.RetentionInDays))
	}
	fn := tmpl.raw["Resources"].(map[string]any)["Issuer"].(map[string]any)["Properties"].(map[string]any)
	lc, _ := fn["LoggingConfig"].(map[string]any)
	if ref, _ := lc["LogGroup"].(map[string]any); ref["Ref"] != "IssuerLogs" {
		t.Errorf("the function's LoggingConfig = %v, want LogGroup: !Ref IssuerLogs (else Lambda logs to a group of its own, kept for ever)", fn["LoggingConfig"])
	}
	p := tmpl.Parameters["LogRetentionDays"]
	if !slices.ContainsFunc(p.AllowedValues, func(v any) bool { return fmt.Sprint(v) == "90" }) || len(p.AllowedValues) < 10 {
		t.Errorf("LogRetentionDays allows %v; want the values CloudWatch Logs takes", p.AllowedValues)
	}
}

// TestAlarms: 5xx through either door and failed invocations raise an
// alarm, notifying AlarmTopicArn when set.
func TestAlarms(t *testing.T) {
	type metric struct{ namespace, name, dimension, value string }
	want := map[metric]bool{
		{"AWS/ApiGateway", "5xx", "ApiId", "${HttpApi}"}:           false,
		{"AWS/Lambda", "Url5xxCount", "FunctionName", "${Issuer}"}: false,
		{"AWS/Lambda", "Errors", "FunctionName", "${Issuer}"}:      false,
	}
	for _, topic := range []string{"", "arn:aws:sns:eu-west-1:111122223333:tenure-oncall"} {
		tmpl := openWith(t, map[string]string{"AlarmTopicArn": topic})
		for k := range want {
			want[k] = false
		}
		for name, a := range tmpl.GetAllCloudWatchAlarmResources() {
			if len(a.Dimensions) != 1 || a.Namespace == nil || a.MetricName == nil {
				t.Errorf("alarm %s: want one metric with one dimension", name)
				continue
			}
			m := metric{*a.Namespace, *a.MetricName, a.Dimensions[0].Name, a.Dimensions[0].Value}
			if _, ok := want[m]; !ok {
				t.Errorf("alarm %s watches %+v, which the test does not know", name, m)
				continue
			}
			want[m] = true
			if a.Statistic == nil || *a.Statistic != "Sum" || a.Threshold == nil || *a.Threshold != 1 ||
				a.ComparisonOperator != "GreaterThanOrEqualToThreshold" {
				t.Errorf("alarm %s: %v %v %v, want the Sum >= 1: the issuer answers no 5xx for bad input", name, a.Statistic, a.ComparisonOperator, a.Threshold)
			}
			if a.TreatMissingData == nil || *a.TreatMissingData != "notBreaching" {
				t.Errorf("alarm %s: TreatMissingData %v; an idle issuer has no data and is fine", name, a.TreatMissingData)
			}
			wantActions := []string(nil)
			if topic != "" {
				wantActions = []string{"${AlarmTopicArn}"}
			}
			if !slices.Equal(a.AlarmActions, wantActions) || !slices.Equal(a.OKActions, wantActions) {
				t.Errorf("alarm %s with AlarmTopicArn %q: actions %v / %v, want %v", name, topic, a.AlarmActions, a.OKActions, wantActions)
			}
		}
		for m, found := range want {
			if !found {
				t.Errorf("no alarm on %+v", m)
			}
		}
	}
}

// show is a property's value, or <unset>.
func show[T any](p *T) string {
	if p == nil {
		return "<unset>"
	}
	return fmt.Sprint(*p)
}

// list is an action or resource list as IAM reads it; a nil entry is an
// AWS::NoValue, which CloudFormation drops.
func list(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if x != nil {
				out = append(out, fmt.Sprint(x))
			}
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
