package engine

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Sign signs a document body with one or more signers and returns the signed
// note. The signers sign exactly body, the bytes a verifier will parse.
func Sign(body []byte, signers ...note.Signer) ([]byte, error) {
	if len(signers) == 0 {
		return nil, errors.New("failed to sign: no signer")
	}
	msg, err := note.Sign(&note.Note{Text: string(body)}, signers...)
	if err != nil {
		return nil, fmt.Errorf("failed to sign: %w", err)
	}
	return msg, nil
}

// OpenNote verifies a signed note against known verifiers and returns its
// text and the names of the keys whose signatures verified. Signatures by
// unknown keys are set aside; at least one known key must have signed.
func OpenNote(msg []byte, known note.Verifiers) (body []byte, signers []note.Signature, err error) {
	if len(msg) > MaxDocument {
		return nil, nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(msg), MaxDocument)
	}
	n, err := note.Open(msg, known)
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		switch {
		case errors.As(err, &unverified):
			e := &UntrustedError{}
			for _, s := range unverified.Note.UnverifiedSigs {
				e.Signers = append(e.Signers, s.Name)
				e.Keys = append(e.Keys, keyID(s.Name, s.Hash))
			}
			return nil, nil, e
		case errors.As(err, &invalid):
			return nil, nil, fmt.Errorf("%w: the signature of %s does not match the text; the file was altered", ErrBadSignature, invalid.Name)
		}
		return nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	// note decodes base64 leniently: a signature whose unused trailing bits
	// were changed still verifies. One exact encoding means refusing it.
	for _, sig := range append(n.Sigs, n.UnverifiedSigs...) {
		raw, err := base64.StdEncoding.Strict().DecodeString(sig.Base64)
		if err != nil || base64.StdEncoding.EncodeToString(raw) != sig.Base64 {
			return nil, nil, fmt.Errorf("%w: the signature of %s is not in canonical base64; the file was altered", ErrBadSignature, sig.Name)
		}
	}
	return []byte(n.Text), n.Sigs, nil
}

// GenerateKey makes a new Ed25519 key pair in the signed-note format: the
// private key ("PRIVATE+KEY", name, hash and data joined by "+") and the verifier key
// "name+hash+data".
func GenerateKey(rand io.Reader, name string) (skey, vkey string, err error) {
	return note.GenerateKey(rand, name)
}

// VerifierKey derives the verifier key "name+hash+base64" from a
// signed-note Ed25519 private key (the "PRIVATE+KEY" prefix, then
// "+name+hash+base64(alg ‖ seed)"): the public half under the same name, as
// [GenerateKey] returns it.
func VerifierKey(skey string) (string, error) {
	s, err := note.NewSigner(skey)
	if err != nil {
		return "", fmt.Errorf("not a signed-note private key: %w", err)
	}
	// The name holds no '+', but the base64 data may.
	parts := strings.SplitN(skey, "+", 5)
	raw, err := base64.StdEncoding.DecodeString(parts[len(parts)-1])
	if err != nil || len(raw) != 1+ed25519.SeedSize {
		return "", errors.New("not an Ed25519 signed-note private key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(s.Name(), pub)
	if err != nil {
		return "", fmt.Errorf("failed to derive the verifier key: %w", err)
	}
	return vkey, nil
}

// KeyHash is the SHA-256 of a verifier key string, in hex: how a license
// names the device key it is bound to.
func KeyHash(vkey string) string {
	h := sha256.Sum256([]byte(vkey))
	return hex.EncodeToString(h[:])
}

// A TrustedKey is an issuer verifier key the validator trusts, optionally
// only for documents issued before NotAfter.
type TrustedKey struct {
	Key      string
	Name     string
	NotAfter time.Time // zero: no end
	verifier note.Verifier
}

// A Trust is the set of issuer keys a validator is built with.
type Trust struct {
	Keys      []TrustedKey
	verifiers note.Verifiers
}

// ParseTrust reads a trust file: one verifier key a line, as GET /v1/keys
// lists them, each optionally followed by " not-after=DATE". Blank lines and
// lines starting with # are ignored.
func ParseTrust(text string) (*Trust, error) {
	t := &Trust{}
	var vs []note.Verifier
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		v, err := note.NewVerifier(fields[0])
		if err != nil {
			if strings.HasPrefix(fields[0], "PRIVATE+") {
				// Never echo a private key into a build log.
				return nil, fmt.Errorf("trust line %d: a private key is not a verifier key; list the issuer's public keys (GET /v1/keys)", i+1)
			}
			return nil, fmt.Errorf("trust line %d: %q is not a verifier key: %w", i+1, fields[0], err)
		}
		k := TrustedKey{Key: fields[0], Name: v.Name(), verifier: v}
		for _, f := range fields[1:] {
			d, ok := strings.CutPrefix(f, "not-after=")
			if !ok {
				return nil, fmt.Errorf("trust line %d: unknown option %q (expected not-after=DATE)", i+1, f)
			}
			at, err := ParseInstant(d)
			if err != nil {
				return nil, fmt.Errorf("trust line %d: %w", i+1, err)
			}
			k.NotAfter = at
		}
		t.Keys = append(t.Keys, k)
		vs = append(vs, v)
	}
	if len(t.Keys) == 0 {
		return nil, errors.New("trust: no issuer key")
	}
	t.verifiers = note.VerifierList(vs...)
	return t, nil
}

// Verifiers returns the trusted keys as note verifiers.
func (t *Trust) Verifiers() note.Verifiers { return t.verifiers }

// IDs names the trusted keys as "name+hash" (the hash in hex, as a verifier
// key writes it), so two keys of one name can be told apart.
func (t *Trust) IDs() []string {
	ids := make([]string, len(t.Keys))
	for i, k := range t.Keys {
		ids[i] = keyID(k.verifier.Name(), k.verifier.KeyHash())
	}
	return ids
}

// keyID is a key's name and hash as a verifier key starts: name+1a2b3c4d.
func keyID(name string, hash uint32) string { return fmt.Sprintf("%s+%08x", name, hash) }

// admit returns nil when one of sigs is by a trusted key whose not-after
// admits a document issued at issued, and otherwise an [*UntrustedError]
// naming the signers and the latest not-after among their keys.
func (t *Trust) admit(sigs []note.Signature, issued time.Time) error {
	e := &UntrustedError{Issued: issued}
	for _, s := range sigs {
		e.Signers = append(e.Signers, s.Name)
		for _, k := range t.Keys {
			if k.verifier.Name() == s.Name && k.verifier.KeyHash() == s.Hash {
				if k.NotAfter.IsZero() || issued.Before(k.NotAfter) {
					return nil
				}
				if k.NotAfter.After(e.NotAfter) {
					e.NotAfter = k.NotAfter
				}
			}
		}
	}
	return e
}

// selfVerifier returns a verifier for a document signed by the key it carries
// (an LRF or a receipt), or for a pinned device key.
func selfVerifier(vkey string) (note.Verifiers, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("%w: device key: %v", ErrMalformed, err)
	}
	return note.VerifierList(v), nil
}

// firstLine returns the type line of a signed note without verifying it.
func firstLine(msg []byte) string {
	line, _, _ := bytes.Cut(msg, []byte("\n"))
	return string(line)
}
