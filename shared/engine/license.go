package engine

import (
	"fmt"
	"time"

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
	var l License
	decoded, err := verifyIssued(TypeLicense, signed, trust, &l, func() time.Time { return l.Issued })
	switch {
	case err == nil:
		return &l, nil
	case decoded:
		// Signed by a key past its not-after date: what it says is known.
		return &l, fmt.Errorf("failed to verify license: %w", err)
	}
	return nil, fmt.Errorf("failed to verify license: %w", err)
}

// verifyIssued opens a document the issuer signed into v: its type line,
// a trusted signature, its schema and one exact encoding, and the not-after
// date of the signing key for the time issued reads from v. decoded says
// whether v holds the document (only the not-after date failed).
func verifyIssued(typ string, signed []byte, trust *Trust, v any, issued func() time.Time) (decoded bool, err error) {
	if first := firstLine(signed); first != typ {
		return false, fmt.Errorf("%w: expected a %s document, found %q", ErrMalformed, typ, truncate(first, 40))
	}
	body, sigs, err := OpenNote(signed, trust.Verifiers())
	if err != nil {
		return false, err
	}
	if err := Decode(typ, body, v); err != nil {
		return false, err
	}
	return true, trust.admit(sigs, issued())
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
