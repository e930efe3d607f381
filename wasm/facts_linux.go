package wasm

import (
	"errors"

	"github.com/tenurehq/tenure/wasm/internal/facts"
)

// Facts returns the machine's own platform components on Linux for a state
// directory at state (its disk is one of them), and the file each was read
// from; see the package doc, "The platform", for what is read and why.
func Facts(state string) (values, sources map[string]string, err error) {
	f := facts.Collect("/", state)
	if len(f.Values) == 0 {
		return nil, nil, errors.New("found no platform facts (no /etc/machine-id, no readable DMI, no network interface, no disk identity); pass the platform with --platform FILE or $TENURE_PLATFORM")
	}
	return f.Values, f.Sources, nil
}
