package store

import (
	"cmp"
	"slices"

	"github.com/tenurehq/tenure/shared/engine"
)

// Bounds of a [History], so that its record stays under 200 KB (a DynamoDB
// item holds 400 KB) however long the appliance runs.
const (
	// MaxSeen is how many seen heads a History keeps: the newest by N. A
	// document carries at most [engine.MaxTrail] entries, starting at the
	// head its newest license names, so four documents' worth is plenty to
	// recognise a stale one.
	MaxSeen = 1024
	// MaxReleases is how many release heads a History keeps: the newest by
	// N. An appliance releases a contract rarely, and an admin reallocation
	// clears a contract's.
	MaxReleases = 256
)

// A History is what the issuer has seen of one appliance's history, across
// every contract: the baseline (the newest accepted head), the heads seen in
// accepted documents, and the heads of the release receipts it accepted.
//
// Heads carry a branch number: the heads of one branch lie on one chain, so
// a document that holds a head of a branch also holds every head of that
// branch at or below it. A document that continues the baseline adds its new
// heads to the baseline's branch; a restore and a first document start a new
// branch.
type History struct {
	Appliance string `json:"appliance"`
	// DeviceKey is the key that signed the documents the history was built
	// from; a document signed by another key is not this appliance's.
	DeviceKey string `json:"device_key"`
	// Baseline is the newest accepted head; nil before the first document
	// with a history, and after a document without one (an older
	// validator): the next document with a history is the new baseline.
	Baseline *engine.Head `json:"baseline,omitempty"`
	// Branch is the baseline's branch, Branches the number of branches made.
	Branch   uint64 `json:"branch"`
	Branches uint64 `json:"branches"`
	// Seen are the heads seen in accepted documents, the newest MaxSeen by
	// N, in order of N.
	Seen []SeenHead `json:"seen"`
	// Releases are the heads of accepted release receipts, the newest
	// MaxReleases by N, in order of N.
	Releases []ReleaseHead `json:"releases"`

	// Version is the version of the stored record, 0 when there is none.
	// The store keeps it: a write succeeds only if the stored record is
	// still at Version, and then sets it one higher.
	Version uint64 `json:"-"`
}

// A SeenHead is a head seen in an accepted document, and its branch.
type SeenHead struct {
	engine.Head
	Branch uint64 `json:"branch"`
}

// A ReleaseHead is the head of an accepted release receipt: the history
// entry of the release itself.
type ReleaseHead struct {
	Contract string `json:"contract"`
	engine.Head
	Branch uint64 `json:"branch"`
}

// Bound keeps the newest MaxSeen seen heads and MaxReleases release heads,
// each in order of N (then hash), without repeats. Every store applies it
// when it writes a History.
func (h *History) Bound() {
	h.Seen = newest(h.Seen, MaxSeen, func(a, b SeenHead) int { return compareHeads(a.Head, b.Head) })
	h.Releases = newest(h.Releases, MaxReleases, func(a, b ReleaseHead) int {
		return cmp.Or(compareHeads(a.Head, b.Head), cmp.Compare(a.Contract, b.Contract))
	})
}

func compareHeads(a, b engine.Head) int {
	return cmp.Or(cmp.Compare(a.N, b.N), cmp.Compare(a.Hash, b.Hash))
}

// newest sorts hs, drops repeats (keeping the first of equal ones), and
// keeps the last max.
func newest[T any](hs []T, max int, compare func(a, b T) int) []T {
	slices.SortStableFunc(hs, compare)
	hs = slices.CompactFunc(hs, func(a, b T) bool { return compare(a, b) == 0 })
	if len(hs) > max {
		hs = slices.Delete(hs, 0, len(hs)-max)
	}
	if hs == nil {
		hs = []T{}
	}
	return hs
}
