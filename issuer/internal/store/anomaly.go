package store

import (
	"strings"
	"time"
)

// An Anomaly is something off about an appliance, seen on a contract
// (DESIGN.md, GET /v1/anomalies): a copied state, a sequence regression, a
// released license seen again, a history fork or restore, a clock ahead.
// The ledger row of the decision records each sighting; the store keeps one
// Anomaly per (kind, appliance, contract, UTC day), counting the sightings,
// so a token holder who repeats a refused request grows a count, not a list.
type Anomaly struct {
	// ID is "DAY/CONTRACT/APPLIANCE/KIND" ([AnomalyID]): one per day,
	// contract, appliance and kind. Anomalies list in ID order, so day by
	// day.
	ID        string    `json:"id"`
	At        time.Time `json:"at"` // the first sighting that day
	Contract  string    `json:"contract"`
	Appliance string    `json:"appliance"`
	Kind      string    `json:"kind"`
	Detail    string    `json:"detail"` // what the first sighting saw
	// Count is the number of sightings that day. The store keeps it: it is
	// ignored on writes and set on reads.
	Count int64 `json:"count"`
}

// AnomalyID is the id of the anomaly of kind seen on contract for appliance
// on the UTC day of at. A contract id, an appliance id and a kind hold no
// "/".
func AnomalyID(at time.Time, contract, appliance, kind string) string {
	return strings.Join([]string{at.UTC().Format(time.DateOnly), contract, appliance, kind}, "/")
}

// SetID sets a's ID from its other fields.
func (a *Anomaly) SetID() { a.ID = AnomalyID(a.At, a.Contract, a.Appliance, a.Kind) }
