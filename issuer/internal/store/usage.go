package store

import (
	"fmt"
	"time"

	"github.com/tenurehq/tenure/shared/engine"
)

// A Report is one usage report an appliance sent for one contract: the
// contract's section of a tenure.usage/v1, as accepted. Reports are kept for
// ever; a replay of the same signed report is the same Report.
type Report struct {
	// ID is the SHA-256 (hex) of the report's signed note: the same
	// report sent twice, or for the same contract with another token, has
	// one ID.
	ID        string                  `json:"id"`
	Contract  string                  `json:"contract"`
	Appliance string                  `json:"appliance"`
	From      time.Time               `json:"from"`
	Until     time.Time               `json:"until"`
	Created   time.Time               `json:"created"`
	Received  time.Time               `json:"received"`
	Limits    map[string]engine.Peaks `json:"limits"`
	Features  map[string]int          `json:"features"`
	// Text is the armored report as received, so the vendor can verify it
	// again.
	Text string `json:"text"`
}

// A Peak is the largest value one limit of a contract was reported at,
// allowed or denied, over every report: the limit the appliance had then
// (its largest base plus addons), which appliance, and the until of the
// report that showed it.
type Peak struct {
	Peak      int64     `json:"peak"`
	Limit     int64     `json:"limit"`
	Appliance string    `json:"appliance"`
	At        time.Time `json:"at"`
}

// Peaks are a contract's peaks by limit name, versioned like a [History].
type Peaks struct {
	Contract string          `json:"contract"`
	Limits   map[string]Peak `json:"limits"`
	// Version is the version of the stored record, 0 when there is none.
	// The store keeps it: a write succeeds only if the stored record is
	// still at Version, and then sets it one higher.
	Version uint64 `json:"-"`
}

// ReportPageBytes bounds one page of [Store.Reports]: a report's Text alone
// may be 64 KiB, so a page holds fewer reports than its limit once their
// JSON would pass this (and always at least one), which keeps it well under
// the API's 256 KiB page.
const ReportPageBytes = 128 << 10

// PutReport is one accepted usage report's writes, applied atomically by
// [Store.PutReport].
type PutReport struct {
	Report Report
	// Peaks is the contract's peaks after the report (Peaks.Contract is
	// the report's contract), written if the stored record is still at
	// Peaks.Version, which is then set one higher; nil when the report
	// raises none.
	Peaks *Peaks
	Entry Entry
	// History, when set, is the appliance's history after the report,
	// written (bounded) if the stored one is still at History.Version,
	// which is then set one higher.
	History *History
}

// Check refuses a PutReport whose peaks are another contract's.
func (op *PutReport) Check() error {
	if op.Peaks != nil && op.Peaks.Contract != op.Report.Contract {
		return fmt.Errorf("the peaks of contract %q cannot be written with a report of contract %q", op.Peaks.Contract, op.Report.Contract)
	}
	return nil
}

// UntilKey is t as fixed-width hex that sorts as the instants do: seconds
// since 1970 with the sign bit flipped, then nanoseconds. Both stores order
// a contract's reports by it.
func UntilKey(t time.Time) string {
	return fmt.Sprintf("%016x%08x", uint64(t.Unix())^1<<63, t.Nanosecond())
}
