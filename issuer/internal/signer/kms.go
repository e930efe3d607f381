package signer

// Signing with a key held in AWS KMS.
//
// A key spec of the form
//
//	kms:KEY?name=NAME
//
// signs with the KMS key KEY, given as a key id
// (1234abcd-12ab-34cd-56ef-1234567890ab), a key ARN
// (arn:aws:kms:eu-west-1:111122223333:key/1234abcd-...), an alias
// (alias/tenure-issuer) or an alias ARN. NAME is the note key name licenses
// are signed under, such as tenure-issuer-2026: validators trust a key by
// name and hash, so the name is part of the key's identity and must stay the
// same for as long as the key signs. For example
//
//	TENURE_KEY_FILE=kms:alias/tenure-issuer?name=tenure-issuer-2026
//
// The key must be an asymmetric signing key with KeySpec
// ECC_NIST_EDWARDS25519 and KeyUsage SIGN_VERIFY. The function needs
// kms:GetPublicKey (once, at start) and kms:Sign; the private key never leaves
// KMS. Credentials and region come from the AWS SDK's usual chain (on Lambda,
// the function's role); a key ARN names its own region, which wins.
// AWS_ENDPOINT_URL_KMS points the client at another endpoint.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"golang.org/x/mod/sumdb/note"
)

// kmsMaxMessage is the largest message KMS signs in RAW mode. A license body
// is a few KiB at most; anything larger is refused rather than pre-hashed,
// because a pre-hashed (Ed25519ph) signature would not verify as a signed note.
const kmsMaxMessage = 4096

// kmsSignTimeout bounds one Sign call. note.Signer passes no context, and a
// request should fail with a clear error well before Lambda's own deadline.
const kmsSignTimeout = 10 * time.Second

// kmsAPI is the part of the KMS client the signer uses.
type kmsAPI interface {
	GetPublicKey(ctx context.Context, in *kms.GetPublicKeyInput, opts ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error)
	Sign(ctx context.Context, in *kms.SignInput, opts ...func(*kms.Options)) (*kms.SignOutput, error)
}

// openKMS opens a signer for a "kms:" key spec; see the comment at the top of
// this file for its form.
func openKMS(ctx context.Context, spec string) (note.Signer, error) {
	keyID, name, err := parseKMSSpec(spec)
	if err != nil {
		return nil, err
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("failed to load the AWS configuration for KMS key %s: %w", keyID, err)
	}
	client := kms.NewFromConfig(cfg, func(o *kms.Options) {
		// A key ARN only works in its own region; use it so the spec alone
		// is enough.
		if a, err := arn.Parse(keyID); err == nil && a.Region != "" {
			o.Region = a.Region
		}
	})
	return newKMSSigner(ctx, client, keyID, name)
}

// parseKMSSpec splits "kms:KEY?name=NAME" into the key and the note key name.
func parseKMSSpec(spec string) (keyID, name string, err error) {
	rest, ok := strings.CutPrefix(spec, "kms:")
	if !ok {
		return "", "", fmt.Errorf("key spec %q is not a KMS key; write kms:KEY_ID_OR_ARN_OR_ALIAS?name=NAME", spec)
	}
	keyID, query, _ := strings.Cut(rest, "?")
	if keyID == "" {
		return "", "", fmt.Errorf("key spec %q names no KMS key; write kms:KEY_ID_OR_ARN_OR_ALIAS?name=NAME", spec)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", "", fmt.Errorf("key spec %q: bad options: %w", spec, err)
	}
	for k := range q {
		if k != "name" {
			return "", "", fmt.Errorf("key spec %q: unknown option %q; the only option is name", spec, k)
		}
	}
	name = q.Get("name")
	if name == "" {
		return "", "", fmt.Errorf("key spec %q has no key name; add ?name=NAME (such as tenure-issuer-2026), the name validators trust the key under", spec)
	}
	return keyID, name, nil
}

// kmsSigner is a note.Signer whose private key stays in KMS. It names its
// verifier key (it is a [Signer]), so the issuer can publish it on
// GET /v1/keys.
type kmsSigner struct {
	client kmsAPI
	keyID  string
	name   string
	hash   uint32
	pub    ed25519.PublicKey
	vkey   string
}

var _ Signer = (*kmsSigner)(nil)

// newKMSSigner fetches the key's public half once and checks that it is an
// Ed25519 signing key, so a misconfigured key fails at start, not at the
// first activation.
func newKMSSigner(ctx context.Context, client kmsAPI, keyID, name string) (*kmsSigner, error) {
	out, err := client.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(keyID)})
	if err != nil {
		return nil, fmt.Errorf("failed to read the public key of KMS key %s (the function needs kms:GetPublicKey on it): %w", keyID, err)
	}
	if out.KeySpec != types.KeySpecEccNistEdwards25519 {
		return nil, fmt.Errorf("KMS key %s has key spec %s; licenses are signed with Ed25519: create a key with KeySpec ECC_NIST_EDWARDS25519", keyID, out.KeySpec)
	}
	if out.KeyUsage != "" && out.KeyUsage != types.KeyUsageTypeSignVerify {
		return nil, fmt.Errorf("KMS key %s has key usage %s; create it with KeyUsage SIGN_VERIFY", keyID, out.KeyUsage)
	}
	parsed, err := x509.ParsePKIXPublicKey(out.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("KMS key %s returned a public key that does not parse: %w", keyID, err)
	}
	pub, ok := parsed.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("KMS key %s returned a %T public key, not Ed25519", keyID, parsed)
	}
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		return nil, fmt.Errorf("failed to make the verifier key for KMS key %s: %w", keyID, err)
	}
	// NewVerifier checks the name as every reader of the note will.
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("key name %q cannot name a signed-note key (no spaces or '+'): %w", name, err)
	}
	return &kmsSigner{client: client, keyID: keyID, name: name, hash: v.KeyHash(), pub: pub, vkey: vkey}, nil
}

func (s *kmsSigner) Name() string    { return s.name }
func (s *kmsSigner) KeyHash() uint32 { return s.hash }

// VerifierKey is the note verifier key of the KMS key, as GET /v1/keys lists
// it and validators are built to trust.
func (s *kmsSigner) VerifierKey() string { return s.vkey }

// Sign signs msg in KMS with pure Ed25519 (ED25519_SHA_512 over the RAW
// message), the signature a signed note carries.
func (s *kmsSigner) Sign(msg []byte) ([]byte, error) {
	if len(msg) > kmsMaxMessage {
		return nil, fmt.Errorf("message of %d bytes is over the %d bytes KMS signs in one piece; shorten the document (fewer features or platform components)", len(msg), kmsMaxMessage)
	}
	ctx, cancel := context.WithTimeout(context.Background(), kmsSignTimeout)
	defer cancel()
	out, err := s.client.Sign(ctx, &kms.SignInput{
		KeyId:            aws.String(s.keyID),
		Message:          msg,
		MessageType:      types.MessageTypeRaw,
		SigningAlgorithm: types.SigningAlgorithmSpecEd25519Sha512,
	})
	if err != nil {
		return nil, fmt.Errorf("failed to sign with KMS key %s (the function needs kms:Sign on it): %w", s.keyID, err)
	}
	// A signature that does not verify under the key the issuer publishes
	// would make a license every validator refuses; never hand one out.
	if len(out.Signature) != ed25519.SignatureSize || !ed25519.Verify(s.pub, msg, out.Signature) {
		return nil, errors.New("KMS returned a signature that does not verify under the key's public key; check that the key is not being replaced")
	}
	return bytes.Clone(out.Signature), nil
}
