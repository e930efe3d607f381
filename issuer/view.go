package issuer

import (
	"context"
	"time"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

// contractView is the answer of GET /v1/contracts/{id}: the contract, one
// page of its appliances (by id) and every license of those appliances.
type contractView struct {
	Contract   *store.Contract `json:"contract"`
	Appliances []applianceView `json:"appliances"`
	Licenses   []licenseView   `json:"licenses"`
	Next       string          `json:"next,omitempty"`
}

type applianceView struct {
	ID       string     `json:"id"`
	Platform string     `json:"platform"` // fingerprint of the pinned platform
	Bound    time.Time  `json:"bound"`
	Released *time.Time `json:"released,omitempty"`
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
// license is about 300 bytes of JSON). An appliance's chain is a handful;
// only one that got a license per request before reissues returned the
// stored one has more.
const maxApplianceLicenses = 500

// viewContract is GET /v1/contracts/{id}?after=&limit=: the contract and a
// page of its appliances with their licenses.
func (s *Server) viewContract(ctx context.Context, c *call) (*answer, *store.Entry, error) {
	id, q, ct, err := s.contractPage(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	v, err := fit(q.limit, func(limit int) (any, int, error) {
		bindings, next, err := s.store.BindingPage(ctx, id, q.after, limit)
		if err != nil {
			return nil, 0, badCursor(err)
		}
		v := &contractView{Contract: ct, Appliances: []applianceView{}, Licenses: []licenseView{}, Next: next}
		for _, b := range bindings {
			v.Appliances = append(v.Appliances, applianceView{ID: b.Appliance, Platform: b.Platform.Fingerprint(), Bound: b.Bound, Released: b.Released})
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
