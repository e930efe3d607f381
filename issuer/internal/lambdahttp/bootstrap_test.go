package lambdahttp_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/aws/aws-lambda-go/events"
	"golang.org/x/mod/sumdb/note"

	"github.com/tenurehq/tenure/schema"
	"github.com/tenurehq/tenure/shared/engine"
)

// TestIssuerBootstrap builds the real tenure-issuer as a Lambda bootstrap,
// runs it behind the Runtime API above with a bbolt store and a throwaway
// key, and takes a contract through an activation whose license an
// appliance opens and evaluates as licensed.
func TestIssuerBootstrap(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the issuer")
	}
	root := moduleRoot(t)
	if _, err := os.Stat(filepath.Join(root, "issuer", "cmd", "tenure-issuer")); err != nil {
		t.Fatalf("the issuer's main is missing: %v", err)
	}
	bin := buildBootstrap(t, "./issuer/cmd/tenure-issuer")

	t.Run("key file", func(t *testing.T) {
		dir := t.TempDir()
		keyFile, passFile, vkey := issuerKey(t, bin, dir)
		runIssuer(t, bin, vkey, "TENURE_STORE=bolt:"+filepath.Join(dir, "db"),
			"TENURE_KEY_FILE="+keyFile, "TENURE_KEY_PASSPHRASE_FILE="+passFile)
	})
	t.Run("products", func(t *testing.T) {
		// The vendor's product files, packed beside bootstrap by
		// `make lambda PRODUCTS=DIR`, are what the function licenses.
		dir := t.TempDir()
		keyFile, passFile, _ := issuerKey(t, bin, dir)
		env := []string{"TENURE_STORE=bolt:" + filepath.Join(dir, "db"), "TENURE_KEY_FILE=" + keyFile, "TENURE_KEY_PASSPHRASE_FILE=" + passFile}
		fn := startFunction(t, newRuntimeAPI(t), bin, append(env, "TENURE_PRODUCTS="+filepath.Join(root, "examples", "products"))...)
		resp, _ := fn.invoke(t, httpAPIEvent("GET", "/v1/products", nil, ""))
		var got struct{ Products []struct{ ID string } }
		decode(t, resp, http.StatusOK, &got)
		if len(got.Products) != 1 || got.Products[0].ID != "plantlink" {
			t.Errorf("GET /v1/products on Lambda = %s, want the example product plantlink", resp.Body)
		}
		// A bad product file stops the function at init, saying why.
		bad := filepath.Join(dir, "bad.product")
		if err := os.WriteFile(bad, []byte("tenure.product/v1\n{}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		env[0] = "TENURE_STORE=bolt:" + filepath.Join(dir, "db2") // the first function holds db
		fn = startFunction(t, newRuntimeAPI(t), bin, append(env, "TENURE_PRODUCTS="+bad)...)
		select {
		case <-fn.exited:
		case <-time.After(30 * time.Second):
			t.Fatal("the function kept running with a bad product file")
		}
		if out := fn.output.String(); !strings.Contains(out, "bad product file") || !strings.Contains(out, "bad.product") {
			t.Errorf("the function's log does not name the bad product file: %s", out)
		}
	})
	t.Run("kms", func(t *testing.T) {
		kms := newKMSEndpoint(t)
		runIssuer(t, bin, kms.vkey, "TENURE_STORE=bolt:"+filepath.Join(t.TempDir(), "db"),
			"TENURE_KEY_FILE=kms:alias/tenure-issuer?name=tenure-issuer-2026",
			"AWS_ENDPOINT_URL_KMS="+kms.url, "AWS_ACCESS_KEY_ID=AKIDTENURETEST", "AWS_SECRET_ACCESS_KEY=not-a-secret",
			"AWS_EC2_METADATA_DISABLED=true")
		kms.mu.Lock()
		defer kms.mu.Unlock()
		if kms.signs == 0 {
			t.Errorf("the issuer never signed through KMS")
		}
	})
	t.Run("admin token secret", func(t *testing.T) { adminTokenSecret(t, bin) })
}

// adapterRefusals sends the function events the adapter cannot make into
// requests; each is answered as the handler answers a malformed request,
// with its problem type and headers, and is in its request log.
func adapterRefusals(t *testing.T, fn *function) {
	t.Helper()
	badBody := functionURLEvent("POST", "/v1/activations", nil, "not base64!")
	badBody.IsBase64Encoded = true
	noMethod := functionURLEvent("", "/v1/keys", nil, "")
	badPath := functionURLEvent("GET", "no-leading-slash-"+strings.Repeat("x", 400), nil, "")
	longPath := functionURLEvent("GET", "no-leading-slash-"+strings.Repeat("x", 9000), nil, "")
	for _, c := range []struct {
		name   string
		ev     events.APIGatewayV2HTTPRequest
		status int
		slug   string
	}{
		{"bad base64 body", badBody, 400, "malformed"},
		{"no method", noMethod, 400, "malformed"},
		{"bad path", badPath, 400, "malformed"},
		{"bad path over 8 KiB", longPath, 414, "uri-too-long"},
	} {
		before := len(fn.output.String())
		resp, _ := fn.invoke(t, c.ev)
		var p struct {
			Type, Title, Detail string
			Status              int
		}
		if resp.StatusCode != c.status || resp.Headers["Content-Type"] != "application/problem+json" || resp.Headers["Cache-Control"] != "no-store" ||
			json.Unmarshal([]byte(resp.Body), &p) != nil || p.Type != "https://tenure.dev/problems/"+c.slug || p.Status != c.status || p.Detail == "" {
			t.Errorf("%s: %d %v %s, want a %d problem of type %s with no-store", c.name, resp.StatusCode, resp.Headers, resp.Body, c.status, c.slug)
		}
		if len(p.Detail) > 300 {
			t.Errorf("%s: the detail is %d bytes; a path in it is cut", c.name, len(p.Detail))
		}
		// The function's output reaches the test through a pipe, after
		// its answer may have.
		logged := false
		for deadline := time.Now().Add(10 * time.Second); !logged && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			logged = loggedRequest(t, c.name, fn.output.String()[before:], c.ev.RequestContext.HTTP.Method, c.status)
		}
		if !logged {
			t.Errorf("%s: no request line in the log:\n%s", c.name, fn.output.String()[before:])
		}
	}
}

// loggedRequest reports whether log holds the adapter's request line of a
// refusal with status of a request with method.
func loggedRequest(t *testing.T, name, log, method string, status int) bool {
	t.Helper()
	logged := false
	for _, line := range strings.Split(log, "\n") {
		var l struct {
			Msg, Method, Path string
			Status            int
			Adapter           bool
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "request" && l.Status == status && l.Adapter && l.Method == method {
			logged = true
			if len(l.Path) > 260 {
				t.Errorf("%s: the log holds a path of %d bytes", name, len(l.Path))
			}
		}
	}
	return logged
}

// runIssuer starts the bootstrap with env and takes one contract through an
// activation; vkey is the verifier key the issuer must sign with.
func runIssuer(t *testing.T, bin, vkey string, env ...string) {
	admin := randomToken(t)
	rt := newRuntimeAPI(t)
	fn := startFunction(t, rt, bin, append(env, "TENURE_ADMIN_TOKEN="+admin)...)

	// Cold: from starting the process to the first answer.
	resp, first := fn.invoke(t, functionURLEvent("GET", "/healthz", nil, ""))
	cold := time.Since(fn.started)
	select {
	case <-rt.polled:
	default:
		t.Fatal("answered without polling the Runtime API")
	}
	var health struct{ OK bool }
	decode(t, resp, http.StatusOK, &health)
	if !health.OK {
		t.Errorf("healthz = %s", resp.Body)
	}

	resp, _ = fn.invoke(t, httpAPIEvent("GET", "/v1/keys", nil, ""))
	var keys struct{ Keys []string }
	decode(t, resp, http.StatusOK, &keys)
	if !slices.Contains(keys.Keys, vkey) {
		t.Fatalf("keys = %q, want the throwaway key %q", keys.Keys, vkey)
	}

	contract := `{"customer":"ACME Networks","product":"edge","tier":"pro","kind":"commercial",` +
		`"features":["monitoring","peering","scion","vpn"],"limits":{"peering_tunnels":100,"vpn_users":250},` +
		`"appliances":2,"term_months":12,"change":"order","status":"active"}`
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	resp, _ = fn.invoke(t, functionURLEvent("PUT", "/v1/contracts/IC-1042", bearer(admin), contract))
	var created struct{ Token string }
	decode(t, resp, http.StatusCreated, &created)
	if created.Token == "" {
		t.Fatalf("contract created without a token: %s", resp.Body)
	}

	// The appliance: a device key named for it, an age identity, a platform.
	const appliance = "A-7f3k2m9q"
	dskey, dvkey, err := engine.GenerateKey(rand.Reader, appliance)
	if err != nil {
		t.Fatal(err)
	}
	device, err := note.NewSigner(dskey)
	if err != nil {
		t.Fatal(err)
	}
	identity, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	platform := engine.HashPlatform("edge", map[string]string{"machine_id": "4c4c4544-0042", "dmi_uuid": "b1e2", "mac:eth0": "02:42:ac:11:00:02"})
	now := engine.Normalize(time.Now())
	lrf, err := engine.SignRequest(&engine.Request{
		Appliance: appliance, Platform: platform, Product: "edge", Version: "0.40.0",
		DeviceKey: dvkey, Recipient: identity.Recipient().String(), TrialStart: now.Add(-24 * time.Hour),
		Mode: engine.ModeTrial, Installed: []string{}, Sequence: 1, Created: now, Nonce: randomToken(t)[:22],
	}, device)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"contract": "IC-1042", "request": string(lrf)})

	// Without a token: 401, as a problem document.
	resp, _ = fn.invoke(t, functionURLEvent("POST", "/v1/activations", nil, string(body)))
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Headers["Content-Type"], "application/problem+json") {
		t.Errorf("activation without a token: %d %s %s, want a 401 problem", resp.StatusCode, resp.Headers["Content-Type"], resp.Body)
	}

	adapterRefusals(t, fn)

	resp, activation := fn.invoke(t, functionURLEvent("POST", "/v1/activations", bearer(created.Token), string(body)))
	var issued struct {
		ID, License, Reason, From, Until, Appliance string
	}
	decode(t, resp, http.StatusCreated, &issued)
	if issued.Appliance != appliance || issued.Reason != engine.ReasonInitial {
		t.Errorf("activation = %+v", issued)
	}

	trust, err := engine.ParseTrust(vkey + "\n")
	if err != nil {
		t.Fatal(err)
	}
	lic, _, err := engine.OpenLicense([]byte(issued.License), identity, trust)
	if err != nil {
		t.Fatalf("the appliance cannot open its license: %v", err)
	}
	if lic.ID != issued.ID || lic.Contract != "IC-1042" || lic.Appliance != appliance {
		t.Errorf("license = %+v", lic)
	}
	product, err := engine.ParseProduct(schema.EdgeProduct)
	if err != nil {
		t.Fatal(err)
	}
	if err := (engine.Binding{Appliance: appliance, Platform: platform, DeviceKey: dvkey, Product: product, Version: "0.40.0"}).Check(lic); err != nil {
		t.Fatalf("license does not bind to the appliance: %v", err)
	}
	st := engine.Evaluate(&engine.Input{Product: product, Host: now.Add(time.Hour), TrialStart: now.Add(-24 * time.Hour),
		Licenses: []engine.Entry{{ID: lic.ID, License: lic}}})
	if st.State != engine.ModeLicensed || !slices.Contains(st.Features, "vpn") || st.Limits["vpn_users"] != 250 {
		t.Errorf("status with the license: %s %v %v, want licensed with vpn and 250 vpn_users", st.State, st.Features, st.Limits)
	}

	// The same LRF through the HTTP API: a replay, the same bytes.
	resp, _ = fn.invoke(t, httpAPIEvent("POST", "/v1/activations", bearer(created.Token), string(body)))
	var replay struct{ License string }
	decode(t, resp, http.StatusOK, &replay)
	if replay.License != issued.License {
		t.Errorf("replay returned other license bytes")
	}

	// Warm: the function is up; time a few round trips.
	var warm []time.Duration
	for range 20 {
		_, d := fn.invoke(t, functionURLEvent("GET", "/healthz", nil, ""))
		warm = append(warm, d)
	}
	sort.Slice(warm, func(i, j int) bool { return warm[i] < warm[j] })
	t.Logf("cold: %v from process start to the first answer (init %v, first invoke %v); warm healthz: p50 %v, max %v; activation %v (budget: cold first invoke <= 30ms, warm <= 2ms)",
		cold.Round(time.Microsecond), rt.polledAt.Sub(fn.started).Round(time.Microsecond), first.Round(time.Microsecond),
		warm[len(warm)/2].Round(time.Microsecond), warm[len(warm)-1].Round(time.Microsecond), activation.Round(time.Microsecond))
}

func decode(t *testing.T, resp events.APIGatewayV2HTTPResponse, status int, v any) {
	t.Helper()
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			t.Fatal(err)
		}
	}
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
}

func randomToken(t *testing.T) string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// issuerKey makes a throwaway issuer key with `tenure-issuer keygen` and
// returns the private key file, its passphrase file and the verifier key.
func issuerKey(t *testing.T, bin, dir string) (keyFile, passFile, vkey string) {
	t.Helper()
	keys := filepath.Join(dir, "key")
	cmd := exec.Command(bin, "keygen", "--name", "tenure-issuer-test", "--dir", keys)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tenure-issuer keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(filepath.Join(keys, "issuer.pub"))
	if err != nil {
		t.Fatalf("keygen wrote no public key: %v", err)
	}
	vkey = strings.TrimSpace(string(pub))
	if _, err := note.NewVerifier(vkey); err != nil {
		t.Fatalf("issuer.pub %q is not a verifier key: %v", vkey, err)
	}
	return filepath.Join(keys, "issuer.key"), filepath.Join(keys, "issuer.pass"), vkey
}

// kmsEndpoint speaks the two operations of AWS KMS's JSON protocol the
// issuer uses, with a real Ed25519 key, so the production signing path runs
// inside the real bootstrap.
type kmsEndpoint struct {
	url, vkey string
	mu        sync.Mutex
	signs     int
}

func newKMSEndpoint(t testing.TB) *kmsEndpoint {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	k := &kmsEndpoint{}
	if k.vkey, err = note.NewEd25519VerifierKey("tenure-issuer-2026", pub); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			KeyId, MessageType, SigningAlgorithm string
			Message                              []byte
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.KeyId != "alias/tenure-issuer" {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"__type": "NotFoundException", "message": "no such key"})
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		arn := "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
		switch r.Header.Get("X-Amz-Target") {
		case "TrentService.GetPublicKey":
			json.NewEncoder(w).Encode(map[string]any{"KeyId": arn, "KeySpec": "ECC_NIST_EDWARDS25519",
				"KeyUsage": "SIGN_VERIFY", "PublicKey": der, "SigningAlgorithms": []string{"ED25519_SHA_512"}})
		case "TrentService.Sign":
			if in.MessageType != "RAW" || in.SigningAlgorithm != "ED25519_SHA_512" {
				w.WriteHeader(http.StatusBadRequest)
				json.NewEncoder(w).Encode(map[string]string{"__type": "InvalidKeyUsageException", "message": in.MessageType + "/" + in.SigningAlgorithm})
				return
			}
			k.mu.Lock()
			k.signs++
			k.mu.Unlock()
			json.NewEncoder(w).Encode(map[string]any{"KeyId": arn, "Signature": ed25519.Sign(priv, in.Message), "SigningAlgorithm": in.SigningAlgorithm})
		default:
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"__type": "UnknownOperationException", "message": r.Header.Get("X-Amz-Target")})
		}
	}))
	t.Cleanup(srv.Close)
	k.url = srv.URL
	return k
}
