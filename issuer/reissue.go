package issuer

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"

	"github.com/tenurehq/tenure/issuer/internal/store"
	"github.com/tenurehq/tenure/shared/engine"
)

// storedReissue returns the license a reissue gives back (DESIGN.md,
// "Issuing", case 3): when the decision is a reissue of a bound appliance's
// chain and the appliance's current license of the contract's current
// revision is sealed to the LRF's recipient and binds the LRF's platform,
// that license, if it carries the LRF's history head (a request is no
// event of the history, so LRFs with nothing new between them carry one
// head), is the answer, with its stored bytes, rather than a new one.
// So repeated requests never mint another license, and an appliance that
// sends fresh LRFs with nothing new costs the issuer a ledger row each, not
// a license. A license stored before recipients were kept is never
// returned: the next reissue mints one that is.
func (s *Server) storedReissue(ctx context.Context, a *activation, c *store.Contract, b *store.Binding, d *engine.Decision) (*store.License, error) {
	if d.Reason != engine.ReasonReissue || b == nil || b.Released != nil || len(d.Supersedes) > 0 {
		return nil, nil
	}
	lics, err := s.store.ApplianceLicenses(ctx, c.ID, a.req.Appliance)
	if err != nil {
		return nil, err
	}
	// The features the LRF's product version gets: a validator upgraded to
	// a newer product file must get the features it now has, one
	// downgraded must not keep those it lost.
	want, _ := licensed(a.product, c.Features)
	for i := len(lics) - 1; i >= 0; i-- {
		l := &lics[i]
		if l.SupersededBy == "" && l.Released == nil && l.Revision == c.Revision && l.From.Equal(d.From) && l.Until.Equal(d.Until) &&
			l.Recipient != "" && l.Recipient == a.req.Recipient && maps.Equal(l.Platform, pinnedPlatform(b, a.req.Platform)) &&
			sameHead(l.Head, a.req.History.LicenseHead()) && slices.Equal(storedFeatures(l.Signed), want) {
			return l, nil
		}
	}
	return nil, nil
}

// reissue answers a reissue with the stored license l, writing what an
// accepted request moves, in one atomic write: the binding's sequence, the
// appliance's history (op.History), the LRF's idempotency record and the
// ledger row. It returns store.ErrConflict as commit does.
func (s *Server) reissue(ctx context.Context, a *activation, b *store.Binding, op *store.Issue, l *store.License) (*answer, error) {
	op.Reissue, op.License = true, *l
	op.Binding = *b
	op.Binding.Sequence = a.req.Sequence
	op.Idempotency = store.Idempotency{Contract: b.Contract, Key: a.key, License: l.ID, Appliance: a.req.Appliance, Effective: a.given}
	op.Entry = a.entry
	op.Entry.Status, op.Entry.License, op.Entry.Reason = http.StatusOK, l.ID, engine.ReasonReissue
	if err := s.store.Issue(ctx, op); err != nil {
		return nil, err
	}
	s.noteAnomalies(ctx, &op.Entry)
	// The answer names the case, as a new license's does.
	out := *l
	out.Reason = engine.ReasonReissue
	return s.answered(a, http.StatusOK, &out), nil
}

func sameHead(a, b *engine.Head) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

// storedFeatures reads the features of a license the issuer signed and
// stored (the signed note's body), without verifying what it wrote itself;
// nil when it cannot.
func storedFeatures(signed []byte) []string {
	_, rest, ok := bytes.Cut(signed, []byte("\n"))
	if !ok {
		return nil
	}
	j, _, _ := bytes.Cut(rest, []byte("\n"))
	var l struct {
		Features []string `json:"features"`
	}
	if json.Unmarshal(j, &l) != nil {
		return nil
	}
	return l.Features
}
