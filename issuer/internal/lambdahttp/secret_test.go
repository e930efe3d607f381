package lambdahttp_test

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenurehq/tenure/issuer/internal/secret/secrettest"
)

// adminTokenSecret runs the bootstrap as the SAM template deploys it:
// signing through KMS, the admin token in Secrets Manager or SSM
// (TENURE_ADMIN_TOKEN_SECRET). The token is not read at start nor for
// appliances' requests; the first admin request reads it, once; a read that
// fails is a 503 and is tried again on the next admin request.
func adminTokenSecret(t *testing.T, bin string) {
	const contract = `{"customer":"ACME Networks","product":"edge","tier":"pro","kind":"commercial",` +
		`"features":["vpn"],"limits":{"vpn_users":250},"appliances":2,"term_months":12,"change":"order","status":"active"}`
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	start := func(t *testing.T, sec *secrettest.Endpoint, env ...string) *function {
		kms := newKMSEndpoint(t)
		env = append(append(env, sec.Env()...), "TENURE_STORE=bolt:"+filepath.Join(t.TempDir(), "db"),
			"TENURE_KEY_FILE=kms:alias/tenure-issuer?name=tenure-issuer-2026", "AWS_ENDPOINT_URL_KMS="+kms.url)
		return startFunction(t, newRuntimeAPI(t), bin, env...)
	}
	// cold takes the function through its cold start and a public route,
	// and fails if either read the secret.
	cold := func(t *testing.T, fn *function, sec *secrettest.Endpoint) {
		resp, first := fn.invoke(t, functionURLEvent("GET", "/healthz", nil, ""))
		took := time.Since(fn.started)
		var health struct{ OK bool }
		decode(t, resp, http.StatusOK, &health)
		resp, _ = fn.invoke(t, httpAPIEvent("GET", "/v1/keys", nil, ""))
		var keys struct{ Keys []string }
		decode(t, resp, http.StatusOK, &keys)
		if n := sec.Total(); n != 0 {
			t.Errorf("the function read the secret %d times at its cold start; it must wait for an admin request", n)
		}
		t.Logf("cold: %v from process start to the first answer (first invoke %v); budget: cold first invoke <= 30ms",
			took.Round(time.Microsecond), first.Round(time.Microsecond))
	}
	reads := func(t *testing.T, sec *secrettest.Endpoint, id string, want int, after string) {
		t.Helper()
		if n := sec.Reads(id); n != want {
			t.Errorf("after %s: %s read %d times, want %d", after, id, n, want)
		}
	}

	t.Run("secrets manager", func(t *testing.T) {
		// The secret does not exist yet: the stack's secret is being
		// made, or the role may not read it.
		const name = "tenure-issuer/admin-token"
		sec := secrettest.New(t)
		fn := start(t, sec, "TENURE_ADMIN_TOKEN_SECRET=secretsmanager:"+name)
		cold(t, fn, sec)
		admin := randomToken(t)

		resp, _ := fn.invoke(t, functionURLEvent("PUT", "/v1/contracts/IC-1042", bearer(admin), contract))
		var p struct{ Type, Detail string }
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Headers["Content-Type"] != "application/problem+json" ||
			json.Unmarshal([]byte(resp.Body), &p) != nil || p.Type != "https://tenure.dev/problems/admin-token-unavailable" ||
			!strings.Contains(p.Detail, "secretsmanager:GetSecretValue") {
			t.Errorf("an admin request while the secret is missing: %d %v %s, want a 503 admin-token-unavailable problem saying what to check",
				resp.StatusCode, resp.Headers, resp.Body)
		}
		reads(t, sec, name, 1, "the first admin request")
		waitLog(t, fn, "admin token unavailable", "ResourceNotFoundException")

		sec.PutSecret(name, admin+"\n")
		resp, took := fn.invoke(t, functionURLEvent("PUT", "/v1/contracts/IC-1042", bearer(admin), contract))
		var created struct{ Token string }
		decode(t, resp, http.StatusCreated, &created)
		reads(t, sec, name, 2, "the admin request once the secret exists")
		t.Logf("the admin request that read the secret took %v", took.Round(time.Microsecond))

		resp, _ = fn.invoke(t, functionURLEvent("GET", "/v1/contracts/IC-1042", bearer(created.Token), ""))
		decode(t, resp, http.StatusOK, &struct{}{})
		resp, _ = fn.invoke(t, httpAPIEvent("GET", "/v1/contracts", bearer(admin), ""))
		decode(t, resp, http.StatusOK, &struct{}{})
		resp, _ = fn.invoke(t, functionURLEvent("GET", "/v1/contracts", bearer(randomToken(t)), ""))
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("an unknown token once the admin token is known: %d %s, want 401", resp.StatusCode, resp.Body)
		}
		reads(t, sec, name, 2, "a contract request, a second admin request and an unknown token")
		waitLog(t, fn, "read the admin token", name)
	})

	t.Run("ssm", func(t *testing.T) {
		const name = "/tenure/admin-token"
		sec := secrettest.New(t)
		admin := randomToken(t)
		sec.PutParameter(name, "SecureString", admin)
		fn := start(t, sec, "TENURE_ADMIN_TOKEN_SECRET=ssm:"+name)
		cold(t, fn, sec)
		resp, _ := fn.invoke(t, functionURLEvent("PUT", "/v1/contracts/IC-1042", bearer(admin), contract))
		decode(t, resp, http.StatusCreated, &struct{}{})
		resp, _ = fn.invoke(t, functionURLEvent("GET", "/v1/contracts", bearer(admin), ""))
		decode(t, resp, http.StatusOK, &struct{}{})
		reads(t, sec, name, 1, "two admin requests")
	})

	t.Run("refused at init", func(t *testing.T) {
		for _, c := range []struct {
			name string
			env  []string
			log  string
		}{
			{"both", []string{"TENURE_ADMIN_TOKEN=" + randomToken(t), "TENURE_ADMIN_TOKEN_SECRET=ssm:/tenure/admin-token"}, "not both"},
			{"bad spec", []string{"TENURE_ADMIN_TOKEN_SECRET=secrets-manager:tenure"}, "secretsmanager:NAME_OR_ARN"},
		} {
			fn := start(t, secrettest.New(t), c.env...)
			select {
			case <-fn.exited:
			case <-time.After(30 * time.Second):
				t.Fatalf("%s: the function kept running", c.name)
			}
			if out := fn.output.String(); !strings.Contains(out, "bad admin token configuration") || !strings.Contains(out, c.log) {
				t.Errorf("%s: the function's log does not say why it stopped: %s", c.name, out)
			}
		}
	})
}

// waitLog waits for a log line of the function with msg that holds text;
// the output reaches the test through a pipe, after the answer may have.
func waitLog(t *testing.T, fn *function, msg, text string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, line := range strings.Split(fn.output.String(), "\n") {
			var l struct{ Msg string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == msg && strings.Contains(line, text) {
				return
			}
		}
	}
	t.Errorf("no %q log line holding %q:\n%s", msg, text, fn.output.String())
}
