package issuer

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/tenurehq/tenure/issuer/internal/store"
	"github.com/tenurehq/tenure/shared/engine"
)

// A standing is how a document's history stands against what the issuer
// has seen of its appliance's (DESIGN.md, "State integrity", property 4).
type standing int

const (
	// untracked: the document carries no history (a validator from before
	// it); it is accepted, and the next document with one is the baseline.
	untracked standing = iota
	// first: the issuer has no baseline yet; the document's head becomes it.
	first
	// continues: the document's history holds the baseline.
	continues
	// stale: the document's own head is one the issuer has seen: an older
	// document carried late.
	stale
	// restore: a fork that abandons no accepted release (a restore after a
	// disk failure); accepted, recorded, and its head becomes the baseline.
	restore
	// forked: a fork whose abandoned branch holds a release the issuer
	// accepted; refused until an admin reallocation clears that release.
	forked
	// foreign: signed by another key than the documents the history was
	// built from, so not this appliance's history; the identity checks deal
	// with it, and it neither is judged nor moves the history.
	foreign
)

// A verdict is a document's standing and the history to write when the
// document is accepted (nil: nothing changes).
type verdict struct {
	standing  standing
	was       *store.History     // the history judged against; nil when none is stored
	abandoned *store.ReleaseHead // the release a forked document abandons
	next      *store.History
}

// judge classifies a document signed by key, carrying trail t (nil for
// none), against h, what the issuer has seen of the appliance's history
// (nil for nothing yet), and makes the history to write if it is accepted.
//
// A fork abandons an accepted release when its history cannot be shown to
// pass through the release's head: it does not list the head, nor a seen head
// of the release's branch at or above it (the heads of one branch lie on one
// chain, so holding one holds those below it). A document's history starts
// at the head its newest license names, so a restore from a backup made
// after a release and a later activation holds that activation's head, not
// the release's, and is a restore, not a fork.
func judge(h *store.History, appliance, key string, t *engine.Trail) verdict {
	if h != nil && h.DeviceKey != key {
		return verdict{standing: foreign, was: h}
	}
	v := verdict{was: h, next: clone(h, appliance, key)}
	switch {
	case t == nil:
		v.standing = untracked
		if h == nil || h.Baseline == nil {
			v.next = nil
			break
		}
		v.next.Baseline = nil
	case h == nil || h.Baseline == nil:
		v.standing = first
		branch(v.next, t)
	case t.Holds(*h.Baseline):
		v.standing = continues
		see(v.next, t, h.Branch)
		if t.Head.N > h.Baseline.N {
			head := t.Head
			v.next.Baseline = &head
		}
	case seen(h, t.Head) >= 0:
		v.standing = stale
	default:
		if r := abandoned(h, t); r != nil {
			return verdict{standing: forked, was: h, abandoned: r}
		}
		v.standing = restore
		branch(v.next, t)
	}
	return v
}

// released adds the head of an accepted receipt for contract, carrying
// trail t, to the history the verdict writes.
func (v *verdict) released(contract string, t *engine.Trail) {
	if v.next == nil || t == nil {
		return
	}
	r := store.ReleaseHead{Contract: contract, Head: t.Head, Branch: v.next.Branch}
	if i := seen(v.next, t.Head); i >= 0 {
		r.Branch = v.next.Seen[i].Branch
	}
	v.next.Releases = append(v.next.Releases, r)
}

// clone returns a copy of h to change, or a new history for the appliance
// and key when h is nil.
func clone(h *store.History, appliance, key string) *store.History {
	if h == nil {
		return &store.History{Appliance: appliance, DeviceKey: key, Seen: []store.SeenHead{}, Releases: []store.ReleaseHead{}}
	}
	next := *h
	next.Seen, next.Releases = slices.Clone(h.Seen), slices.Clone(h.Releases)
	if h.Baseline != nil {
		b := *h.Baseline
		next.Baseline = &b
	}
	return &next
}

// branch makes t's head the baseline, on a new branch: the heads of t not
// seen before are its heads.
func branch(h *store.History, t *engine.Trail) {
	h.Branches++
	h.Branch = h.Branches
	see(h, t, h.Branch)
	head := t.Head
	h.Baseline = &head
}

// see records the heads t lists that h has not seen, on branch.
func see(h *store.History, t *engine.Trail, branch uint64) {
	for _, hd := range t.Heads() {
		if seen(h, hd) < 0 {
			h.Seen = append(h.Seen, store.SeenHead{Head: hd, Branch: branch})
		}
	}
}

// seen returns the index of head among h's seen heads, or -1.
func seen(h *store.History, head engine.Head) int {
	return slices.IndexFunc(h.Seen, func(s store.SeenHead) bool { return s.Head == head })
}

// abandoned returns an accepted release that t's history does not pass
// through, or nil.
func abandoned(h *store.History, t *engine.Trail) *store.ReleaseHead {
	// reach is, per branch, the highest seen head that t holds.
	reach := map[uint64]uint64{}
	for _, s := range h.Seen {
		if t.Holds(s.Head) {
			reach[s.Branch] = max(reach[s.Branch], s.N)
		}
	}
	for i, r := range h.Releases {
		if t.Holds(r.Head) {
			continue
		}
		if n, ok := reach[r.Branch]; ok && n >= r.N {
			continue
		}
		return &h.Releases[i]
	}
	return nil
}

// without returns a copy of h without the release heads of contract, or
// nil when it has none.
func without(h *store.History, contract string) *store.History {
	if h == nil || !slices.ContainsFunc(h.Releases, func(r store.ReleaseHead) bool { return r.Contract == contract }) {
		return nil
	}
	next := clone(h, h.Appliance, h.DeviceKey)
	next.Releases = slices.DeleteFunc(next.Releases, func(r store.ReleaseHead) bool { return r.Contract == contract })
	return next
}

// history reads what the issuer has seen of an appliance's history; nil
// when nothing.
func (s *Server) history(ctx context.Context, appliance string) (*store.History, error) {
	h, err := s.store.History(ctx, appliance)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return h, err
}

// judgeHistory judges a document of an appliance, signed by key and carrying
// trail t, against the stored history.
func (s *Server) judgeHistory(ctx context.Context, appliance, key string, t *engine.Trail) (verdict, error) {
	h, err := s.history(ctx, appliance)
	if err != nil {
		return verdict{}, err
	}
	return judge(h, appliance, key, t), nil
}

// forkRefusal is the 409 of a document whose history abandons an accepted
// release, with its anomaly.
func (v *verdict) forkRefusal(appliance string, t *engine.Trail) *apiError {
	r := v.abandoned
	e := problem(http.StatusConflict, "history-fork",
		"appliance %s's history (entry %d) no longer holds its release of contract %s (entry %d): its state was put back to before that release. "+
			"The issuer serves it again once the vendor reallocates appliance %s on %s (POST /v1/contracts/%s/reallocations)",
		appliance, t.Head.N, r.Contract, r.N, appliance, r.Contract, r.Contract)
	e.Anomaly = anomaly(anomalyFork, "history at entry %d (%s) abandons the release of %s at entry %d (%s)", t.Head.N, short(t.Head.Hash), r.Contract, r.N, short(r.Hash))
	return e
}

// restoreAnomaly is the anomaly of an accepted restore.
func (v *verdict) restoreAnomaly(t *engine.Trail) string {
	b := v.was.Baseline
	return anomaly(anomalyRestore, "history at entry %d (%s) does not continue entry %d (%s), the newest accepted; it is the baseline now", t.Head.N, short(t.Head.Hash), b.N, short(b.Hash))
}

func short(hash string) string { return hash[:min(len(hash), 12)] }
