package engine

import (
	"errors"
	"fmt"
	"slices"

	"filippo.io/age"
	"golang.org/x/mod/sumdb/note"
)

// SignLicense encodes and signs a license with the issuer's signers. The
// result is the signed note the issuer keeps and [Seal]s.
func SignLicense(l *License, signers ...note.Signer) ([]byte, error) {
	body, err := Encode(TypeLicense, l)
	if err != nil {
		return nil, err
	}
	return Sign(body, signers...)
}

// VerifyLicense opens a signed license (not sealed) against the trusted keys:
// the signature, the key's not-after date, the schema and the exact encoding.
func VerifyLicense(signed []byte, trust *Trust) (*License, error) {
	if first := firstLine(signed); first != TypeLicense {
		return nil, fmt.Errorf("%w: expected a %s document, found %q", ErrMalformed, TypeLicense, truncate(first, 40))
	}
	body, sigs, err := OpenNote(signed, trust.Verifiers())
	if err != nil {
		return nil, fmt.Errorf("failed to verify license: %w", err)
	}
	var l License
	if err := Decode(TypeLicense, body, &l); err != nil {
		return nil, fmt.Errorf("failed to verify license: %w", err)
	}
	if !trust.allows(sigs, l.Issued) {
		return &l, fmt.Errorf("failed to verify license: %w: issued %s, after its key's not-after date", ErrUntrusted, formatTime(l.Issued))
	}
	return &l, nil
}

// OpenLicense unseals a license file with the appliance's age identity and
// verifies it with [VerifyLicense]. It returns the signed note as well, for
// records that keep it.
func OpenLicense(sealed []byte, identity age.Identity, trust *Trust) (*License, []byte, error) {
	signed, err := Unseal(sealed, identity)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to open license: %w", err)
	}
	l, err := VerifyLicense(signed, trust)
	return l, signed, err
}

// A Binding is what a license must match to count on an appliance.
type Binding struct {
	Appliance string
	Platform  Components
	DeviceKey string // the appliance's verifier key
	Product   *Product
	Version   string
}

// Check says why l does not count on this appliance, or returns nil. Each
// reason says what to do next.
func (b Binding) Check(l *License) error {
	switch {
	case l.Product != b.Product.ID:
		return fmt.Errorf("license is for product %s, this appliance runs %s; request a license for %s", l.Product, b.Product.ID, b.Product.ID)
	case l.Appliance != b.Appliance:
		return fmt.Errorf("license is for appliance %s, this is %s; request a license for this appliance with `tenure request`", l.Appliance, b.Appliance)
	case l.DeviceKeyHash != KeyHash(b.DeviceKey):
		return fmt.Errorf("license is bound to another device key; request a new one with `tenure request`")
	}
	if m := MatchPlatform(l.Platform, b.Platform, b.Product.Binding.MinMatch); !m.OK() {
		return fmt.Errorf("bound to another platform (%s); request a new license with `tenure request` and release the old seat", m)
	}
	if l.MinVersion != "" && CompareVersions(b.Version, l.MinVersion) < 0 {
		return fmt.Errorf("needs software >= %s (this is %s); upgrade the software", l.MinVersion, b.Version)
	}
	if l.MaxVersion != "" && CompareVersions(b.Version, l.MaxVersion) > 0 {
		return fmt.Errorf("needs software <= %s (this is %s); request a license for this version", l.MaxVersion, b.Version)
	}
	return nil
}

// SignRequest encodes and signs an LRF with the appliance's device key and
// armors it.
func SignRequest(r *Request, device note.Signer) ([]byte, error) {
	if device.Name() != r.Appliance {
		return nil, errors.New("failed to sign request: the device key is not named for the appliance")
	}
	body, err := Encode(TypeRequest, r)
	if err != nil {
		return nil, err
	}
	msg, err := Sign(body, device)
	if err != nil {
		return nil, err
	}
	return Armor(LabelRequest, msg), nil
}

// OpenRequest dearmors an LRF and verifies it against the device key it
// carries, which must be named for the appliance. It returns the signed note,
// whose hash identifies the request.
func OpenRequest(armored []byte) (*Request, []byte, error) {
	msg, err := Dearmor(LabelRequest, armored)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to open request: %w", err)
	}
	var r Request
	if err := decodeSelfSigned(TypeRequest, msg, &r, func() (string, string) { return r.DeviceKey, r.Appliance }); err != nil {
		return nil, nil, fmt.Errorf("failed to open request: %w", err)
	}
	return &r, msg, nil
}

// SignRelease encodes, signs and armors a release receipt.
func SignRelease(r *Release, device note.Signer) ([]byte, error) {
	if device.Name() != r.Appliance {
		return nil, errors.New("failed to sign receipt: the device key is not named for the appliance")
	}
	body, err := Encode(TypeRelease, r)
	if err != nil {
		return nil, err
	}
	msg, err := Sign(body, device)
	if err != nil {
		return nil, err
	}
	return Armor(LabelRelease, msg), nil
}

// OpenRelease dearmors a release receipt and verifies it against the device
// key that deviceKey returns for the receipt's appliance (the key the issuer
// pinned at activation).
func OpenRelease(armored []byte, deviceKey func(appliance string) (string, error)) (*Release, []byte, error) {
	msg, err := Dearmor(LabelRelease, armored)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to open receipt: %w", err)
	}
	var r Release
	var keyErr error
	err = decodeSelfSigned(TypeRelease, msg, &r, func() (string, string) {
		k, err := deviceKey(r.Appliance)
		keyErr = err
		return k, r.Appliance
	})
	if keyErr != nil {
		return nil, nil, fmt.Errorf("failed to open receipt: %w", keyErr)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("failed to open receipt: %w", err)
	}
	return &r, msg, nil
}

// decodeSelfSigned decodes the body of a signed note into v before verifying
// it, because the key to verify with is named by the body; key returns that
// key and the signer name it must carry once v is decoded. Nothing in v may be
// trusted unless it returns nil.
func decodeSelfSigned(typ string, msg []byte, v any, key func() (vkey, name string)) error {
	if len(msg) > MaxDocument {
		return fmt.Errorf("%w: %d bytes", ErrTooLarge, len(msg))
	}
	if first := firstLine(msg); first != typ {
		return fmt.Errorf("%w: expected a %s document, found %q", ErrMalformed, typ, truncate(first, 40))
	}
	var unverified *note.UnverifiedNoteError
	_, err := note.Open(msg, note.VerifierList())
	if !errors.As(err, &unverified) {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := Decode(typ, []byte(unverified.Note.Text), v); err != nil {
		return err
	}
	vkey, name := key()
	if vkey == "" {
		return fmt.Errorf("%w: no device key", ErrUntrusted)
	}
	known, err := selfVerifier(vkey)
	if err != nil {
		return err
	}
	_, sigs, err := OpenNote(msg, known)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(sigs, func(s note.Signature) bool { return s.Name == name }) {
		return fmt.Errorf("%w: signed by %s, not by appliance %s", ErrUntrusted, sigs[0].Name, name)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
