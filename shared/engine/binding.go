package engine

import (
	"fmt"
	"strings"
)

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
		return fmt.Errorf("bound to another platform (%s; differ: %s); `tenure platform` shows each component, or request a new license with `tenure request` and release the old seat",
			m, strings.Join(unmatchedClasses(l.Platform, b.Platform), ", "))
	}
	if l.MinVersion != "" && CompareVersions(b.Version, l.MinVersion) < 0 {
		return fmt.Errorf("needs software >= %s (this is %s); upgrade the software", l.MinVersion, b.Version)
	}
	if l.MaxVersion != "" && CompareVersions(b.Version, l.MaxVersion) > 0 {
		return fmt.Errorf("needs software <= %s (this is %s); request a license for this version", l.MaxVersion, b.Version)
	}
	return nil
}
