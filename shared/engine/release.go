package engine

import (
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/note"
)

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

// PeekRelease dearmors a release receipt and decodes its body without
// verifying it, for a caller that must first find the appliance whose
// pinned key verifies it (the issuer). Nothing it returns may be trusted
// until [OpenRelease] accepts the same receipt.
func PeekRelease(armored []byte) (*Release, error) {
	msg, err := Dearmor(LabelRelease, armored)
	if err != nil {
		return nil, fmt.Errorf("failed to open receipt: %w", err)
	}
	var r Release
	if err := peekSigned(TypeRelease, msg, &r); err != nil {
		return nil, fmt.Errorf("failed to open receipt: %w", err)
	}
	return &r, nil
}
