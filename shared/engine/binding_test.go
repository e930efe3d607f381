package engine_test

import (
	"strings"
	"testing"

	"github.com/tenurehq/tenure/schema"
	"github.com/tenurehq/tenure/shared/engine"
)

// TestBindingRefusal: a license bound elsewhere says how many classes
// matched, which differ, and what to run next.
func TestBindingRefusal(t *testing.T) {
	p, err := engine.ParseProduct(schema.EdgeProduct)
	if err != nil {
		t.Fatal(err)
	}
	raw := map[string]string{"machine_id": "m1", "dmi_uuid": "u1", "mac:aa:00:00:00:00:01": "aa:00:00:00:00:01", "mac:eth0": "aa:00:00:00:00:01"}
	l := &engine.License{Product: "edge", Appliance: "A-1", DeviceKeyHash: engine.KeyHash("k"), Platform: engine.HashPlatform("edge", raw)}
	b := engine.Binding{Appliance: "A-1", DeviceKey: "k", Product: p, Version: "0.40.0"}

	b.Platform = engine.HashPlatform("edge", map[string]string{"machine_id": "m1", "dmi_uuid": "u1"})
	if err := b.Check(l); err != nil {
		t.Errorf("no NIC at all (a private netns): %v", err)
	}
	b.Platform = engine.HashPlatform("edge", map[string]string{"machine_id": "m1", "dmi_uuid": "u2", "mac:eth0": "bb:00:00:00:00:01"})
	err = b.Check(l)
	if err == nil {
		t.Fatal("a clone matched")
	}
	for _, want := range []string{"bound to another platform (1 of 3 component classes match, 2 needed; differ: dmi, mac)", "`tenure platform`", "`tenure request`"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
}
