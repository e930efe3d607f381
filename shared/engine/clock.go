package engine

import (
	"time"
)

// RollbackTolerance is how far the host clock may lag the high-water mark
// before it is reported as set back.
const RollbackTolerance = 24 * time.Hour

// TimeUsed applies the clock rule to an input: unless at is set, the
// evaluation runs at [ClockAt] of the host time, the high-water mark, the
// build floor and the newest issue time of a verified license.
func TimeUsed(in *Input) time.Time {
	if in.At != nil {
		return Normalize(*in.At)
	}
	return ClockAt(in.Host, in.HighWater, in.Floor, NewestIssued(in.Licenses))
}

// ClockAt is the clock rule: the latest of the host time, the high-water
// mark (the latest time the appliance has seen), the build floor and the
// newest issue time of its licenses, so setting the clock back gains
// nothing. Zero values take no part; a caller dating a new record passes a
// zero issued.
func ClockAt(host, highWater, floor, issued time.Time) time.Time {
	return Normalize(maxTime(host, highWater, floor, issued))
}

// NewestIssued returns the newest issue time among the verified licenses
// of entries, zero when there is none.
func NewestIssued(entries []Entry) time.Time {
	var t time.Time
	for _, e := range entries {
		if e.License != nil && e.Inactive == "" && e.License.Issued.After(t) {
			t = e.License.Issued
		}
	}
	return t
}
