package engine

import (
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/note"
)

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
