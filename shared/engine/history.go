package engine

import (
	"fmt"
	"slices"
)

// MaxTrail is how many history entries a document carries at most.
const MaxTrail = 256

// A Head names the end of an appliance's history: how many entries it holds
// and the hash of the last (SHA-256 in hex). Every document an appliance
// signs carries its head in a [Trail], and a license carries the head of the
// LRF it answers, so the issuer can tell a continuation of a history it has
// seen from a stale document, a restore and a fork.
type Head struct {
	N    uint64 `json:"n"`
	Hash string `json:"hash"`
}

// A Trail is what a document carries of its appliance's history: the head,
// and the hashes of the entries From to Head.N, in order, the last being
// Head.Hash. It starts at the head the appliance's newest license names (a
// head the issuer has seen) and lists at most [MaxTrail] entries, so it stays
// small however long the appliance runs.
type Trail struct {
	Head    Head     `json:"head"`
	From    uint64   `json:"from"`
	Entries []string `json:"entries"`
}

// Check holds a trail to its shape: From..Head.N are the entries listed,
// and the last is the head. A nil trail (a document from before the
// history) passes. [Decode] checks it for every document.
func (t *Trail) Check() error {
	if t == nil {
		return nil
	}
	switch n := uint64(len(t.Entries)); {
	case t.From < 1 || t.From > t.Head.N:
		return fmt.Errorf("history from %d is outside 1..%d", t.From, t.Head.N)
	case n != t.Head.N-t.From+1:
		return fmt.Errorf("history lists %d entries for %d..%d", n, t.From, t.Head.N)
	case t.Entries[n-1] != t.Head.Hash:
		return fmt.Errorf("history's last entry is not its head")
	}
	return nil
}

// Holds reports whether h, a head of the same appliance's history, is one of
// the entries the trail lists: the document continues a history that had
// reached h. A head before the trail's first entry cannot be shown and is
// not held.
func (t *Trail) Holds(h Head) bool {
	if t == nil || h.N < t.From || h.N > t.Head.N {
		return false
	}
	return t.Entries[h.N-t.From] == h.Hash
}

// LicenseHead returns the head a license answering a document with this
// trail carries: nil for a document without one (a validator from before
// the history, which would refuse a license with a head).
func (t *Trail) LicenseHead() *Head {
	if t == nil {
		return nil
	}
	h := t.Head
	return &h
}

// Heads returns every head the trail lists, oldest first.
func (t *Trail) Heads() []Head {
	if t == nil {
		return nil
	}
	hs := make([]Head, len(t.Entries))
	for i, e := range t.Entries {
		hs[i] = Head{N: t.From + uint64(i), Hash: e}
	}
	return hs
}

// NewTrail returns the trail of a history whose entry hashes are hashes
// (entry 1 first), starting at since (the head the newest license names; 0
// for none) and listing at most [MaxTrail] entries. It returns nil for an
// empty history.
func NewTrail(hashes []string, since uint64) *Trail {
	n := uint64(len(hashes))
	if n == 0 {
		return nil
	}
	from := max(since, 1)
	if from > n {
		from = n
	}
	if n-from+1 > MaxTrail {
		from = n - MaxTrail + 1
	}
	return &Trail{Head: Head{N: n, Hash: hashes[n-1]}, From: from, Entries: slices.Clone(hashes[from-1:])}
}
