//go:build !linux

package wasm

import "errors"

// Facts returns the machine's own platform components. Only Linux is
// supported; elsewhere pass the platform with --platform FILE or
// $TENURE_PLATFORM.
func Facts(state string) (values, sources map[string]string, err error) {
	return nil, nil, errors.New("this host collects platform facts only on Linux; pass the platform with --platform FILE or $TENURE_PLATFORM")
}
