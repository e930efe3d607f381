package issuer

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/tenurehq/tenure/issuer/internal/store"
	"github.com/tenurehq/tenure/schema"
	"github.com/tenurehq/tenure/shared/engine"
)

// contractBody is the body of PUT /v1/contracts/{id}: the whole contract
// every time, and the change this revision is.
type contractBody struct {
	Customer     string           `json:"customer"`
	Product      string           `json:"product"`
	Tier         string           `json:"tier"`
	Kind         string           `json:"kind"`
	Features     []string         `json:"features"`
	Limits       map[string]int64 `json:"limits"`
	Appliances   int              `json:"appliances"`
	TermMonths   int              `json:"term_months"`
	Change       string           `json:"change"`
	ExtendMonths int              `json:"extend_months,omitempty"`
	Status       string           `json:"status"`
}

func (s *Server) putContract(w http.ResponseWriter, r *http.Request) {
	c, rec, err := s.putContractErr(w, r)
	if err != nil {
		if rec != nil {
			s.record(r.Context(), *rec, err)
		}
		s.fail(w, r, err)
		return
	}
	s.reply(w, c.status, c.body)
}

type answer struct {
	status int
	body   any
}

func (s *Server) putContractErr(w http.ResponseWriter, r *http.Request) (*answer, *store.Entry, error) {
	ctx := r.Context()
	body, err := readBody(w, r)
	if err != nil {
		return nil, nil, err
	}
	who, err := s.authenticate(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	id := r.PathValue("id")
	if err := checkContractID(id); err != nil {
		return nil, nil, err
	}
	if err := schema.Validate("contract", body); err != nil {
		return nil, nil, problem(http.StatusBadRequest, "malformed", "%v", err)
	}
	var in contractBody
	if err := decode(body, &in); err != nil {
		return nil, nil, err
	}
	switch {
	case in.Change != engine.ChangeProlongation && in.ExtendMonths != 0:
		return nil, nil, problem(http.StatusBadRequest, "malformed", "extend_months applies to a prolongation only; drop it or set change to \"prolongation\"")
	case in.Change == engine.ChangeSuspension && in.Status == "active":
		return nil, nil, problem(http.StatusBadRequest, "malformed", "a suspension sets status \"suspended\" (or \"terminated\")")
	case in.Change == engine.ChangeReinstatement && in.Status != "active":
		return nil, nil, problem(http.StatusBadRequest, "malformed", "a reinstatement sets status \"active\"")
	}
	if !who.admin {
		return nil, nil, problem(http.StatusForbidden, "forbidden", "only the admin token may create or change contracts")
	}
	now := s.clock()
	entry := &store.Entry{At: now, Contract: id, Actor: who.actor(), Action: in.Change, Outcome: store.Accepted}

	p := s.products[in.Product]
	if p == nil {
		return nil, entry, problem(http.StatusUnprocessableEntity, "refused", "this issuer does not license product %q; it licenses %v", in.Product, s.productIDs())
	}
	if _, ok := p.Tiers[in.Tier]; !ok {
		return nil, entry, problem(http.StatusUnprocessableEntity, "refused", "product %s has no tier %q; use one of %v", p.ID, in.Tier, tierNames(p))
	}
	for _, f := range in.Features {
		if !p.HasFeature(f) {
			return nil, entry, problem(http.StatusUnprocessableEntity, "refused", "feature %q is not in product %s's catalog %v", f, p.ID, p.Features)
		}
	}
	features := slices.Clone(in.Features)
	slices.Sort(features)
	features = slices.Compact(features)
	if features == nil {
		features = []string{}
	}
	limits := in.Limits
	if limits == nil {
		limits = map[string]int64{}
	}
	c := &store.Contract{ID: id, Customer: in.Customer, Product: in.Product, Tier: in.Tier, Kind: in.Kind,
		Features: features, Limits: limits, Appliances: in.Appliances, TermMonths: in.TermMonths,
		ExtendMonths: in.ExtendMonths, Change: in.Change, Status: in.Status, Updated: now}

	old, err := s.store.Contract(ctx, id)
	switch {
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return nil, nil, err
	case in.Change == engine.ChangeOrder:
		if old != nil {
			return nil, entry, problem(http.StatusConflict, "conflict", "contract %s exists (revision %d); send a change such as \"renewal\" or \"correction\", not \"order\"", id, old.Revision)
		}
		c.Revision, c.Ordered = 1, now
		token := newToken()
		entry.Status = http.StatusCreated
		err := s.store.CreateContract(ctx, c, hashHex([]byte(token)), &store.Revision{Contract: id, Number: 1, At: now, Record: *c}, entry)
		if errors.Is(err, store.ErrConflict) {
			return nil, entry, problem(http.StatusConflict, "conflict", "contract %s was created meanwhile; read it with GET /v1/contracts/%s", id, id)
		}
		if err != nil {
			return nil, nil, err
		}
		return &answer{http.StatusCreated, map[string]any{"contract": c, "token": token}}, nil, nil
	case old == nil:
		return nil, nil, problem(http.StatusNotFound, "not-found", "no contract %s; create it first with change \"order\"", id)
	}
	if old.Status == "terminated" && in.Change != engine.ChangeCorrection {
		return nil, entry, problem(http.StatusUnprocessableEntity, "refused", "contract %s is terminated; order a new contract", id)
	}
	if old.Product != in.Product {
		return nil, entry, problem(http.StatusUnprocessableEntity, "refused", "contract %s is for product %s; a contract cannot change product, order a new one", id, old.Product)
	}
	c.Revision, c.Ordered = old.Revision+1, old.Ordered
	entry.Status = http.StatusOK
	err = s.store.UpdateContract(ctx, c, &store.Revision{Contract: id, Number: c.Revision, At: now, Record: *c}, entry)
	if errors.Is(err, store.ErrConflict) {
		return nil, entry, problem(http.StatusConflict, "conflict", "contract %s changed meanwhile; read it and send the change again", id)
	}
	if err != nil {
		return nil, nil, err
	}
	c.Used = old.Used
	return &answer{http.StatusOK, map[string]any{"contract": c}}, nil, nil
}

func (s *Server) productIDs() []string {
	var ids []string
	for id := range s.products {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func tierNames(p *engine.Product) []string {
	var names []string
	for n := range p.Tiers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// contractView is the answer of GET /v1/contracts/{id}.
type contractView struct {
	Contract   *store.Contract `json:"contract"`
	Appliances []applianceView `json:"appliances"`
	Licenses   []licenseView   `json:"licenses"`
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

func (s *Server) getContract(w http.ResponseWriter, r *http.Request) {
	v, err := s.viewContract(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, http.StatusOK, v)
}

func (s *Server) viewContract(r *http.Request) (*contractView, error) {
	ctx := r.Context()
	who, err := s.authenticate(ctx, r)
	if err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	if err := checkContractID(id); err != nil {
		return nil, err
	}
	if !who.may(id) {
		return nil, problem(http.StatusForbidden, "forbidden", "this token is for contract %s, not %s", who.contract, id)
	}
	c, err := s.contract(ctx, id)
	if err != nil {
		return nil, err
	}
	v := &contractView{Contract: c, Appliances: []applianceView{}, Licenses: []licenseView{}}
	bindings, err := s.store.Bindings(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, b := range bindings {
		v.Appliances = append(v.Appliances, applianceView{ID: b.Appliance, Platform: b.Platform.Fingerprint(), Bound: b.Bound, Released: b.Released})
	}
	cursor := ""
	for {
		page, next, err := s.store.Licenses(ctx, id, cursor, 500)
		if err != nil {
			return nil, err
		}
		for _, l := range page {
			v.Licenses = append(v.Licenses, licenseView{ID: l.ID, Appliance: l.Appliance, Reason: l.Reason, From: l.From,
				Until: l.Until, Issued: l.Issued, SupersededBy: l.SupersededBy, Released: l.Released})
		}
		if next == "" {
			return v, nil
		}
		cursor = next
	}
}
