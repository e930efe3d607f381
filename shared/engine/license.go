package engine

import (
	"fmt"

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
	if err := trust.admit(sigs, l.Issued); err != nil {
		return &l, fmt.Errorf("failed to verify license: %w", err)
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
