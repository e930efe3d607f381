package issuer

import (
	"context"
	"errors"
	"time"

	"github.com/tenurehq/tenure/issuer/internal/store"
	"github.com/tenurehq/tenure/shared/engine"
)

// contractView is the answer of GET /v1/contracts/{id}: the contract, its
// peaks of usage over every report, one page of its appliances (by id) and
// every license of those appliances.
type contractView struct {
	Contract   *store.Contract       `json:"contract"`
	Peaks      map[string]store.Peak `json:"peaks"`
	Appliances []applianceView       `json:"appliances"`
	Licenses   []licenseView         `json:"licenses"`
	Next       string                `json:"next,omitempty"`
}

type applianceView struct {
	ID       string     `json:"id"`
	Platform string     `json:"platform"` // fingerprint of the pinned platform
	Bound    time.Time  `json:"bound"`
	Released *time.Time `json:"released,omitempty"`
	// Usage is the appliance's report with the latest until on this
	// contract; absent before its first.
	Usage *usageView `json:"usage,omitempty"`
}

// usageView is an appliance's latest usage report on the contract: its
// id, its period, and the contract's section of it.
type usageView struct {
	Report   string                  `json:"report"`
	From     time.Time               `json:"from"`
	Until    time.Time               `json:"until"`
	Limits   map[string]engine.Peaks `json:"limits"`
	Features map[string]int          `json:"features"`
}

type licenseView struct {
	ID           string     `json:"id"`
	Appliance    string     `json:"appliance"`
	Reason       string     `json:"reason"`
	From         time.Time  `json:"from"`
	Until        time.Time  `json:"until"`
	Issued       time.Time  `json:"issued"`
	SupersededBy string     `json:"superseded_by,omitempty"`
	Released     *time.Time `json:"released,omitempty"`
}

// maxApplianceLicenses bounds the licenses one appliance shows in the view,
// the newest, so that a page of one appliance stays under MaxPageBytes (a
// license is about 300 bytes of JSON, 150 KiB for 500; the appliance's usage
// is at most 64 limits and 64 features, under 12 KiB, and the contract's
// peaks as many limits as its product knows). An appliance's chain is a
// handful; only one that got a license per request before reissues
// returned the stored one has more.
const maxApplianceLicenses = 500

// viewContract is GET /v1/contracts/{id}?after=&limit=: the contract and a
// page of its appliances with their licenses.
func (s *Server) viewContract(ctx context.Context, c *call) (*answer, *store.Entry, error) {
	id, q, ct, err := s.contractPage(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	peaks, err := s.store.Peaks(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	v, err := fit(q.limit, func(limit int) (any, int, error) {
		bindings, next, err := s.store.BindingPage(ctx, id, q.after, limit)
		if err != nil {
			return nil, 0, badCursor(err)
		}
		v := &contractView{Contract: ct, Peaks: nonNil(peaks.Limits), Appliances: []applianceView{}, Licenses: []licenseView{}, Next: next}
		for _, b := range bindings {
			usage, err := s.latestUsage(ctx, id, b.Appliance)
			if err != nil {
				return nil, 0, err
			}
			v.Appliances = append(v.Appliances, applianceView{ID: b.Appliance, Platform: b.Platform.Fingerprint(), Bound: b.Bound, Released: b.Released, Usage: usage})
			lics, err := s.store.ApplianceLicenses(ctx, id, b.Appliance)
			if err != nil {
				return nil, 0, err
			}
			for _, l := range lics[max(0, len(lics)-maxApplianceLicenses):] {
				v.Licenses = append(v.Licenses, licenseView{ID: l.ID, Appliance: l.Appliance, Reason: l.Reason, From: l.From,
					Until: l.Until, Issued: l.Issued, SupersededBy: l.SupersededBy, Released: l.Released})
			}
		}
		return v, len(bindings), nil
	})
	if err != nil {
		return nil, nil, err
	}
	return ok(v), nil, nil
}

// latestUsage is an appliance's latest report on a contract, nil when it
// sent none.
func (s *Server) latestUsage(ctx context.Context, contract, appliance string) (*usageView, error) {
	r, err := s.store.LatestReport(ctx, contract, appliance)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &usageView{Report: r.ID, From: r.From, Until: r.Until, Limits: nonNil(r.Limits), Features: nonNil(r.Features)}, nil
}

// contractPage runs the checks of a paged read of one contract, in the
// API's order: 400 the id and the page's query, 403 the token, 404 the
// contract; it returns the contract read.
func (s *Server) contractPage(ctx context.Context, c *call) (string, *pageQuery, *store.Contract, error) {
	id := c.r.PathValue("id")
	if err := checkContractID(id); err != nil {
		return "", nil, nil, err
	}
	q, err := parsePage(c.r)
	if err != nil {
		return "", nil, nil, err
	}
	if err := c.who.mayAct(id); err != nil {
		return "", nil, nil, err
	}
	ct, err := s.contract(ctx, id)
	if err != nil {
		return "", nil, nil, err
	}
	return id, q, ct, nil
}
