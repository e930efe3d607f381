package issuer

import "fmt"

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
)

// anomaly is one anomaly of a kind.
func anomaly(kind, format string, args ...any) string {
	return kind + ": " + fmt.Sprintf(format, args...)
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
