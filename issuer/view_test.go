package issuer

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tenurehq/tenure/issuer/internal/store"
	"github.com/tenurehq/tenure/shared/engine"
)

// TestViewOfOneApplianceFits: the largest page of the contract view that
// fit cannot cut, one appliance, fits in MaxPageBytes: the largest
// contract, maxPeaks peaks, the appliance's largest usage (64 limits and 64
// features of the longest names, the largest counts) and its
// maxApplianceLicenses licenses.
func TestViewOfOneApplianceFits(t *testing.T) {
	name := func(i int) string { return fmt.Sprintf("n%02d", i) + strings.Repeat("x", 61) }
	at := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	ct := &store.Contract{ID: strings.Repeat("C", 64), Revision: 1 << 20, Ordered: at, Updated: at, Used: 100000, Terms: store.Terms{
		Customer: strings.Repeat("ü", 200), Product: name(0), Tier: name(1), Kind: "commercial", Limits: map[string]int64{},
		Appliances: 100000, TermMonths: 120, ExtendMonths: 120, Change: "prolongation", Status: "terminated"}}
	peaks := map[string]store.Peak{}
	limits, features := map[string]engine.Peaks{}, map[string]int{}
	for i := range 64 {
		ct.Features = append(ct.Features, name(i))
		ct.Limits[name(i)] = engine.MaxCount
		limits[name(i)] = engine.Peaks{Allowed: engine.MaxCount, Denied: engine.MaxCount}
		features[name(i)] = 1000000
	}
	for i := range maxPeaks {
		peaks[name(i)] = store.Peak{Peak: engine.MaxCount, Limit: engine.MaxCount, Appliance: "A-" + strings.Repeat("z", 40), At: at}
	}
	released := at
	v := &contractView{Contract: ct, Peaks: peaks, Next: strings.Repeat("c", 1024),
		Appliances: []applianceView{{ID: "A-" + strings.Repeat("z", 40), Platform: strings.Repeat("f", 16), Bound: at, Released: &released,
			Usage: &usageView{Report: strings.Repeat("a", 64), From: at, Until: at, Limits: limits, Features: features}}}}
	for range maxApplianceLicenses {
		v.Licenses = append(v.Licenses, licenseView{ID: "L-" + strings.Repeat("Q", 26), Appliance: "A-" + strings.Repeat("z", 40),
			Reason: engine.ReasonReallocation, From: at, Until: at, Issued: at, SupersededBy: "L-" + strings.Repeat("Q", 26), Released: &released})
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > MaxPageBytes {
		t.Fatalf("a page of one appliance is %d bytes, over %d", len(b), MaxPageBytes)
	}
	t.Logf("the largest page of one appliance: %d bytes of %d", len(b), MaxPageBytes)
}
