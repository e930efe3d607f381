package issuer

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"slices"

	"github.com/tenurehq/tenure/issuer/internal/store"
	"github.com/tenurehq/tenure/schema"
	"github.com/tenurehq/tenure/shared/engine"
)

var contractID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func checkContractID(id string) error {
	if !contractID.MatchString(id) {
		return problem(http.StatusBadRequest, "malformed", "%q is not a contract id (letters, digits, '.', '_', '-', up to 64, like IC-1042)", id)
	}
	return nil
}

// contract reads a contract for a caller already allowed to act for it.
func (s *Server) contract(ctx context.Context, id string) (*store.Contract, error) {
	c, err := s.store.Contract(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, problem(http.StatusNotFound, "not-found", "no contract %s; create it with PUT /v1/contracts/%s and change \"order\"", id, id)
	}
	return c, err
}

// putContract is PUT /v1/contracts/{id}: the body is the whole contract
// every time ([store.Terms]), and its change names the revision.
func (s *Server) putContract(ctx context.Context, c *call) (*answer, *store.Entry, error) {
	id := c.r.PathValue("id")
	if err := checkContractID(id); err != nil {
		return nil, nil, err
	}
	if err := schema.Validate("contract", c.body); err != nil {
		return nil, nil, problem(http.StatusBadRequest, "malformed", "%v", err)
	}
	var in store.Terms
	if err := decode(c.body, &in); err != nil {
		return nil, nil, err
	}
	if err := checkChange(&in); err != nil {
		return nil, nil, err
	}
	if !c.who.admin {
		return nil, &store.Entry{At: s.clock(), Action: in.Change, Outcome: store.Accepted}, problem(http.StatusForbidden, "forbidden", "only the admin token may create or change contracts")
	}
	now := s.clock()
	entry := &store.Entry{At: now, Contract: id, Actor: c.who.actor(), Action: in.Change, Outcome: store.Accepted}
	if err := s.checkTerms(&in); err != nil {
		return nil, entry, err
	}
	ct := &store.Contract{ID: id, Terms: in, Updated: now}
	// Features are kept as a set, sorted; no features or limits are empty,
	// never null, in every answer.
	ct.Features = slices.Compact(slices.Sorted(slices.Values(in.Features)))
	if ct.Features == nil {
		ct.Features = []string{}
	}
	if ct.Limits == nil {
		ct.Limits = map[string]int64{}
	}

	old, err := s.store.Contract(ctx, id)
	switch {
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return nil, nil, err
	case in.Change == engine.ChangeOrder:
		return s.order(ctx, ct, old, entry)
	case old == nil:
		return nil, nil, problem(http.StatusNotFound, "not-found", "no contract %s; create it first with change \"order\"", id)
	}
	return s.change(ctx, ct, old, entry)
}

// checkChange is the 400 of terms whose change does not fit their fields.
func checkChange(in *store.Terms) error {
	switch {
	case in.Change != engine.ChangeProlongation && in.ExtendMonths != 0:
		return problem(http.StatusBadRequest, "malformed", "extend_months applies to a prolongation only; drop it or set change to \"prolongation\"")
	case in.Change == engine.ChangeSuspension && in.Status == "active":
		return problem(http.StatusBadRequest, "malformed", "a suspension sets status \"suspended\" (or \"terminated\")")
	case in.Change == engine.ChangeReinstatement && in.Status != "active":
		return problem(http.StatusBadRequest, "malformed", "a reinstatement sets status \"active\"")
	}
	return nil
}

// checkTerms is the 422 of terms this issuer cannot license: an unknown
// product, tier or feature.
func (s *Server) checkTerms(in *store.Terms) error { return s.catalog.checkTerms(in) }

// order creates the contract at revision 1 with its token, shown once.
func (s *Server) order(ctx context.Context, c, old *store.Contract, entry *store.Entry) (*answer, *store.Entry, error) {
	if old != nil {
		return nil, entry, problem(http.StatusConflict, "conflict", "contract %s exists (revision %d); send a change such as \"renewal\" or \"correction\", not \"order\"", c.ID, old.Revision)
	}
	c.Revision, c.Ordered = 1, c.Updated
	token := newToken()
	entry.Status = http.StatusCreated
	err := s.store.CreateContract(ctx, c, hashHex([]byte(token)), &store.Revision{Contract: c.ID, Number: 1, At: c.Updated, Record: *c}, entry)
	if errors.Is(err, store.ErrConflict) {
		return nil, entry, problem(http.StatusConflict, "conflict", "contract %s was created meanwhile; read it with GET /v1/contracts/%s", c.ID, c.ID)
	}
	if err != nil {
		return nil, nil, err
	}
	return &answer{http.StatusCreated, map[string]any{"contract": c, "token": token}}, nil, nil
}

// change stores the next revision of an existing contract.
func (s *Server) change(ctx context.Context, c, old *store.Contract, entry *store.Entry) (*answer, *store.Entry, error) {
	if old.Status == "terminated" && c.Change != engine.ChangeCorrection {
		return nil, entry, problem(http.StatusUnprocessableEntity, "refused", "contract %s is terminated; order a new contract", c.ID)
	}
	if old.Product != c.Product {
		return nil, entry, problem(http.StatusUnprocessableEntity, "refused", "contract %s is for product %s; a contract cannot change product, order a new one", c.ID, old.Product)
	}
	c.Revision, c.Ordered = old.Revision+1, old.Ordered
	entry.Status = http.StatusOK
	err := s.store.UpdateContract(ctx, c, &store.Revision{Contract: c.ID, Number: c.Revision, At: c.Updated, Record: *c}, entry)
	if errors.Is(err, store.ErrConflict) {
		return nil, entry, problem(http.StatusConflict, "conflict", "contract %s changed meanwhile; read it and send the change again", c.ID)
	}
	if err != nil {
		return nil, nil, err
	}
	c.Used = old.Used
	return ok(map[string]any{"contract": c}), nil, nil
}
