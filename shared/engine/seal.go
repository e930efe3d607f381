package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
)

// Seal encrypts a signed license to an appliance's age X25519 recipient and
// armors it: the file that travels back to the appliance.
func Seal(signed []byte, recipient string) ([]byte, error) {
	r, err := age.ParseX25519Recipient(recipient)
	if err != nil {
		return nil, fmt.Errorf("%w: recipient: %v", ErrMalformed, err)
	}
	var b bytes.Buffer
	w, err := age.Encrypt(&b, r)
	if err != nil {
		return nil, fmt.Errorf("failed to seal license: %w", err)
	}
	if _, err := w.Write(signed); err != nil {
		return nil, fmt.Errorf("failed to seal license: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("failed to seal license: %w", err)
	}
	return Armor(LabelLicense, b.Bytes()), nil
}

// Unseal dearmors and decrypts a sealed license with the appliance's age
// identity and returns the signed note inside.
func Unseal(sealed []byte, identity age.Identity) ([]byte, error) {
	ct, err := Dearmor(LabelLicense, sealed)
	if err != nil {
		return nil, err
	}
	r, err := age.Decrypt(bytes.NewReader(ct), identity)
	if err != nil {
		var nomatch *age.NoIdentityMatchError
		if errors.As(err, &nomatch) {
			return nil, fmt.Errorf("%w: request a license for this appliance with `tenure request`", ErrSealedElsewhere)
		}
		return nil, fmt.Errorf("%w: cannot decrypt license: %v", ErrMalformed, err)
	}
	signed, err := io.ReadAll(io.LimitReader(r, MaxDocument+1))
	if err != nil {
		return nil, fmt.Errorf("%w: cannot decrypt license: %v", ErrMalformed, err)
	}
	if len(signed) > MaxDocument {
		return nil, fmt.Errorf("%w: sealed license holds over %d bytes", ErrTooLarge, MaxDocument)
	}
	return signed, nil
}
