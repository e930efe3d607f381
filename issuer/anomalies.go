package issuer

import (
	"context"
	"fmt"
	"strings"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

// Anomaly kinds (DESIGN.md, GET /v1/anomalies): what a ledger row records
// beside its decision when something about the appliance is off. A row's
// anomaly is one or more "kind: what was seen", joined with "; ".
const (
	anomalyIdentity   = "identity_conflict"   // another device key, or another platform, for a pinned appliance
	anomalySequence   = "sequence_regression" // a request not newer than the last one accepted
	anomalyReleased   = "released_installed"  // an LRF still lists a released license
	anomalyFork       = "history_fork"        // a history that abandons an accepted release
	anomalyRestore    = "history_restore"     // a history put back that abandons none
	anomalyClockAhead = "clock_ahead"         // a receipt dated more than a day after the issuer's clock
	anomalyUsageGap   = "usage_gap"           // a usage report whose period does not start where the previous one ended
)

// anomaly is one anomaly of a kind.
func anomaly(kind, format string, args ...any) string {
	return kind + ": " + fmt.Sprintf(format, args...)
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	if b == "" {
		return a
	}
	return a + "; " + b
}

// anomalyKinds are the kinds a ledger row's anomaly may name.
var anomalyKinds = []string{anomalyIdentity, anomalySequence, anomalyReleased, anomalyFork, anomalyRestore, anomalyClockAhead, anomalyUsageGap}

// sightings splits a ledger row's anomaly ("kind: what; kind: what") into
// its kinds and what each saw. Only known kinds start a part, so a "; " in
// what was seen does not.
func sightings(s string) (kinds, details []string) {
	var starts []int
	for i := 0; i < len(s); i++ {
		j := i
		if i > 0 {
			if !strings.HasPrefix(s[i:], "; ") {
				continue
			}
			j += 2
		}
		for _, k := range anomalyKinds {
			if strings.HasPrefix(s[j:], k+": ") {
				starts = append(starts, i)
				break
			}
		}
	}
	for n, i := range starts {
		end := len(s)
		if n+1 < len(starts) {
			end = starts[n+1]
		}
		part := strings.TrimPrefix(s[i:end], "; ")
		k, d, _ := strings.Cut(part, ": ")
		kinds, details = append(kinds, k), append(details, d)
	}
	return kinds, details
}

// noteAnomalies records the anomalies of a ledger row written, one sighting
// of each: the store keeps one per kind, appliance, contract and UTC day,
// with a count. A failure is logged; the row in the ledger is the record.
func (s *Server) noteAnomalies(ctx context.Context, e *store.Entry) {
	if e.Anomaly == "" {
		return
	}
	kinds, details := sightings(e.Anomaly)
	for i, k := range kinds {
		a := &store.Anomaly{At: e.At, Contract: e.Contract, Appliance: e.Appliance, Kind: k, Detail: details[i]}
		if err := s.store.NoteAnomaly(ctx, a); err != nil {
			s.log.Error("failed to record an anomaly", "contract", e.Contract, "appliance", e.Appliance, "kind", k, "error", err.Error())
		}
	}
}
