package signer

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"golang.org/x/mod/sumdb/note"

	"github.com/tenurehq/tenure/shared/engine"
)

// fakeKMS answers GetPublicKey and Sign the way KMS does for an
// ECC_NIST_EDWARDS25519 key, with a real Ed25519 key, and checks that the
// signer asks for exactly what KMS needs.
type fakeKMS struct {
	t       *testing.T
	keyID   string
	priv    ed25519.PrivateKey
	spec    types.KeySpec
	usage   types.KeyUsageType
	der     []byte // overrides the public key KMS returns
	corrupt bool   // return a signature that does not verify
	remote  bool   // called through HTTP, where the caller's deadline does not travel
	signs   int
}

func newFakeKMS(t *testing.T) *fakeKMS {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeKMS{t: t, keyID: "alias/tenure-issuer", priv: priv,
		spec: types.KeySpecEccNistEdwards25519, usage: types.KeyUsageTypeSignVerify}
}

func (f *fakeKMS) GetPublicKey(ctx context.Context, in *kms.GetPublicKeyInput, _ ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error) {
	if aws.ToString(in.KeyId) != f.keyID {
		return nil, &types.NotFoundException{Message: aws.String("key " + aws.ToString(in.KeyId) + " does not exist")}
	}
	der := f.der
	if der == nil {
		var err error
		if der, err = x509.MarshalPKIXPublicKey(f.priv.Public()); err != nil {
			f.t.Fatal(err)
		}
	}
	return &kms.GetPublicKeyOutput{
		KeyId:   aws.String("arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
		KeySpec: f.spec, KeyUsage: f.usage, PublicKey: der,
		SigningAlgorithms: []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecEd25519Sha512, types.SigningAlgorithmSpecEd25519PhSha512},
	}, nil
}

func (f *fakeKMS) Sign(ctx context.Context, in *kms.SignInput, _ ...func(*kms.Options)) (*kms.SignOutput, error) {
	f.signs++
	if aws.ToString(in.KeyId) != f.keyID {
		return nil, &types.NotFoundException{Message: aws.String("no such key")}
	}
	if in.MessageType != types.MessageTypeRaw || in.SigningAlgorithm != types.SigningAlgorithmSpecEd25519Sha512 {
		return nil, &types.InvalidKeyUsageException{Message: aws.String(fmt.Sprintf("signer asked for %s/%s", in.MessageType, in.SigningAlgorithm))}
	}
	if len(in.Message) > 4096 {
		return nil, errors.New("message too long")
	}
	if _, ok := ctx.Deadline(); !ok && !f.remote {
		f.t.Errorf("Sign called without a deadline")
	}
	sig := ed25519.Sign(f.priv, in.Message)
	if f.corrupt {
		sig[0] ^= 1
	}
	return &kms.SignOutput{KeyId: in.KeyId, Signature: sig, SigningAlgorithm: in.SigningAlgorithm}, nil
}

// testLicense is a license body that passes its schema.
func testLicense(t *testing.T) *engine.License {
	_, dvkey, err := engine.GenerateKey(rand.Reader, "A-7f3k2m9q")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	return &engine.License{ID: "L-000001", Contract: "IC-1042", Revision: 1, Customer: "ACME", Product: "edge", Tier: "pro",
		Kind: engine.KindCommercial, Appliance: "A-7f3k2m9q",
		Platform:      engine.HashPlatform("edge", map[string]string{"machine_id": "m1", "dmi_uuid": "u1"}),
		DeviceKeyHash: engine.KeyHash(dvkey), Features: []string{"scion", "vpn"}, Limits: map[string]int64{"vpn_users": 250},
		From: engine.Floor(now), Until: engine.AddMonths(engine.Floor(now), 12), GraceDays: 90, Reason: engine.ReasonInitial, Issued: now}
}

func TestKMSSignerSignsNotesAndLicenses(t *testing.T) {
	fake := newFakeKMS(t)
	s, err := newKMSSigner(context.Background(), fake, fake.keyID, "tenure-issuer-2026")
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != "tenure-issuer-2026" {
		t.Errorf("name = %q", s.Name())
	}
	wantVkey, _ := note.NewEd25519VerifierKey("tenure-issuer-2026", fake.priv.Public().(ed25519.PublicKey))
	if s.VerifierKey() != wantVkey {
		t.Errorf("verifier key = %q, want %q", s.VerifierKey(), wantVkey)
	}
	v, err := note.NewVerifier(s.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	if v.KeyHash() != s.KeyHash() || v.Name() != s.Name() {
		t.Errorf("signer says %s/%08x, its verifier key says %s/%08x", s.Name(), s.KeyHash(), v.Name(), v.KeyHash())
	}

	// A plain signed note verifies with the key the signer reports.
	msg, err := note.Sign(&note.Note{Text: "tenure.test/v1\nhello\n"}, s)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		t.Fatalf("note signed via KMS does not open: %v", err)
	}
	if n.Text != "tenure.test/v1\nhello\n" || len(n.Sigs) != 1 || n.Sigs[0].Name != "tenure-issuer-2026" {
		t.Errorf("opened note = %+v", n)
	}

	// A license signed via KMS verifies as a validator verifies it.
	lic := testLicense(t)
	signed, err := engine.SignLicense(lic, s)
	if err != nil {
		t.Fatal(err)
	}
	trust, err := engine.ParseTrust(s.VerifierKey() + "\n")
	if err != nil {
		t.Fatal(err)
	}
	got, err := engine.VerifyLicense(signed, trust)
	if err != nil {
		t.Fatalf("license signed via KMS does not verify: %v", err)
	}
	if got.ID != lic.ID || !got.Until.Equal(lic.Until) {
		t.Errorf("verified license = %+v", got)
	}

	// And together with a second, local key, as during a key rotation.
	skey, vkey2, _ := engine.GenerateKey(rand.Reader, "tenure-issuer-2025")
	local, _ := note.NewSigner(skey)
	both, err := engine.SignLicense(lic, local, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{s.VerifierKey(), vkey2} {
		trust, _ := engine.ParseTrust(k + "\n")
		if _, err := engine.VerifyLicense(both, trust); err != nil {
			t.Errorf("rotation: license does not verify under %s alone: %v", k, err)
		}
	}
}

func TestKMSSignerRefusesLongMessages(t *testing.T) {
	fake := newFakeKMS(t)
	s, err := newKMSSigner(context.Background(), fake, fake.keyID, "tenure-issuer-2026")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sign(make([]byte, 4096)); err != nil {
		t.Errorf("4096 bytes: %v", err)
	}
	if _, err := s.Sign(make([]byte, 4097)); err == nil || !strings.Contains(err.Error(), "4096") {
		t.Errorf("4097 bytes: err = %v, want a refusal naming the limit", err)
	}
	if fake.signs != 1 {
		t.Errorf("KMS was asked %d times, want once (the long message is refused before the call)", fake.signs)
	}
}

func TestKMSSignerRefusesABadSignature(t *testing.T) {
	fake := newFakeKMS(t)
	s, err := newKMSSigner(context.Background(), fake, fake.keyID, "tenure-issuer-2026")
	if err != nil {
		t.Fatal(err)
	}
	fake.corrupt = true
	if _, err := s.Sign([]byte("body")); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Errorf("err = %v, want a signature that does not verify refused", err)
	}
}

func TestKMSSignerRefusesWrongKeys(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	tests := []struct {
		name    string
		change  func(*fakeKMS)
		keyID   string
		keyName string
		want    string
	}{
		{"unknown key", func(*fakeKMS) {}, "alias/other", "tenure-issuer-2026", "kms:GetPublicKey"},
		{"P-256 key spec", func(f *fakeKMS) { f.spec = types.KeySpecEccNistP256 }, "", "tenure-issuer-2026", "ECC_NIST_EDWARDS25519"},
		{"encryption key", func(f *fakeKMS) { f.usage = types.KeyUsageTypeEncryptDecrypt }, "", "tenure-issuer-2026", "SIGN_VERIFY"},
		{"bad DER", func(f *fakeKMS) { f.der = []byte("not DER") }, "", "tenure-issuer-2026", "does not parse"},
		{"not Ed25519 DER", func(f *fakeKMS) { f.der = ecDER }, "", "tenure-issuer-2026", "not Ed25519"},
		{"name with a plus", func(*fakeKMS) {}, "", "tenure+issuer", "key name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFakeKMS(t)
			tt.change(fake)
			keyID := tt.keyID
			if keyID == "" {
				keyID = fake.keyID
			}
			_, err := newKMSSigner(context.Background(), fake, keyID, tt.keyName)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestParseKMSSpec(t *testing.T) {
	tests := []struct {
		spec, key, name, err string
	}{
		{"kms:alias/tenure-issuer?name=tenure-issuer-2026", "alias/tenure-issuer", "tenure-issuer-2026", ""},
		{"kms:1234abcd-12ab-34cd-56ef-1234567890ab?name=k", "1234abcd-12ab-34cd-56ef-1234567890ab", "k", ""},
		{"kms:arn:aws:kms:eu-west-1:111122223333:key/1234abcd?name=tenure-issuer-2026",
			"arn:aws:kms:eu-west-1:111122223333:key/1234abcd", "tenure-issuer-2026", ""},
		{"kms:alias/tenure-issuer", "", "", "?name=NAME"},
		{"kms:?name=x", "", "", "names no KMS key"},
		{"kms:alias/x?name=a&region=b", "", "", "unknown option"},
		{"file:/etc/key", "", "", "not a KMS key"},
	}
	for _, tt := range tests {
		key, name, err := parseKMSSpec(tt.spec)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err = %v, want one mentioning %q", tt.spec, err, tt.err)
			}
			continue
		}
		if err != nil || key != tt.key || name != tt.name {
			t.Errorf("%s: got %q, %q, %v; want %q, %q", tt.spec, key, name, err, tt.key, tt.name)
		}
	}
}

// TestOpenKMSThroughTheSDK runs openKMS with the real AWS SDK client against
// an endpoint that speaks KMS's JSON protocol (awsJson1_1), so the spec
// parsing, the SDK configuration and the wire format are all exercised.
func TestOpenKMSThroughTheSDK(t *testing.T) {
	fake := newFakeKMS(t)
	fake.remote = true
	var targets []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.Header.Get("X-Amz-Target")
		targets = append(targets, target)
		if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
			t.Errorf("%s: request not signed with SigV4", target)
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		var out any
		var err error
		switch target {
		case "TrentService.GetPublicKey":
			var in kms.GetPublicKeyInput
			if err = json.NewDecoder(r.Body).Decode(&in); err == nil {
				out, err = fake.GetPublicKey(r.Context(), &in)
			}
		case "TrentService.Sign":
			var in struct {
				KeyId            string
				Message          []byte
				MessageType      types.MessageType
				SigningAlgorithm types.SigningAlgorithmSpec
			}
			if err = json.NewDecoder(r.Body).Decode(&in); err == nil {
				out, err = fake.Sign(r.Context(), &kms.SignInput{KeyId: &in.KeyId, Message: in.Message,
					MessageType: in.MessageType, SigningAlgorithm: in.SigningAlgorithm})
			}
		default:
			err = fmt.Errorf("unexpected operation %q", target)
		}
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			var nf *types.NotFoundException
			code := "ValidationException"
			if errors.As(err, &nf) {
				code = "NotFoundException"
			}
			json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": err.Error()})
			return
		}
		json.NewEncoder(w).Encode(out)
	}))
	defer srv.Close()

	t.Setenv("AWS_ENDPOINT_URL_KMS", srv.URL)
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTENURETEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-a-secret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	s, err := openKMS(context.Background(), "kms:alias/tenure-issuer?name=tenure-issuer-2026")
	if err != nil {
		t.Fatal(err)
	}
	lic := testLicense(t)
	signed, err := engine.SignLicense(lic, s)
	if err != nil {
		t.Fatal(err)
	}
	vk := s.(interface{ VerifierKey() string }).VerifierKey()
	trust, err := engine.ParseTrust(vk + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := engine.VerifyLicense(signed, trust); err != nil {
		t.Fatalf("license signed through the SDK does not verify: %v", err)
	}
	if got := strings.Join(targets, ","); got != "TrentService.GetPublicKey,TrentService.Sign" {
		t.Errorf("operations = %s, want GetPublicKey once, then Sign", got)
	}

	if _, err := openKMS(context.Background(), "kms:alias/missing?name=tenure-issuer-2026"); err == nil ||
		!strings.Contains(err.Error(), "kms:GetPublicKey") {
		t.Errorf("missing key: err = %v, want a message naming kms:GetPublicKey", err)
	}
}
