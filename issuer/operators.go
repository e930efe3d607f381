package issuer

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

// The vendor's operator routes (DESIGN.md, "Issuer HTTP API"): the list of
// contracts, a contract's ledger, the anomalies, and the rotation of a
// contract's token. Reads are not ledger entries; a rotation is.

// contractItem is one contract of GET /v1/contracts.
type contractItem struct {
	ID         string `json:"id"`
	Customer   string `json:"customer"`
	Product    string `json:"product"`
	Tier       string `json:"tier"`
	Kind       string `json:"kind"`
	Status     string `json:"status"`
	Appliances int    `json:"appliances"`
	Used       int    `json:"used"`
}

type contractList struct {
	Contracts []contractItem `json:"contracts"`
	Next      string         `json:"next,omitempty"`
}

// listContracts is GET /v1/contracts: every contract, in id order.
func (s *Server) listContracts(ctx context.Context, c *call) (*answer, *store.Entry, error) {
	q, err := parsePage(c.r)
	if err != nil {
		return nil, nil, err
	}
	if !c.who.admin {
		return nil, nil, problem(http.StatusForbidden, "forbidden", "only the admin token may list the contracts; a contract's token reads its own with GET /v1/contracts/%s", c.who.contract)
	}
	v, err := fit(q.limit, func(limit int) (any, int, error) {
		cs, next, err := s.store.Contracts(ctx, q.after, limit)
		if err != nil {
			return nil, 0, badCursor(err)
		}
		out := &contractList{Contracts: make([]contractItem, 0, len(cs)), Next: next}
		for _, ct := range cs {
			out.Contracts = append(out.Contracts, contractItem{ID: ct.ID, Customer: ct.Customer, Product: ct.Product, Tier: ct.Tier,
				Kind: ct.Kind, Status: ct.Status, Appliances: ct.Appliances, Used: ct.Used})
		}
		return out, len(cs), nil
	})
	if err != nil {
		return nil, nil, err
	}
	return ok(v), nil, nil
}

// ledgerItem is one entry of GET /v1/contracts/{id}/ledger.
type ledgerItem struct {
	ID        string    `json:"id"`
	At        time.Time `json:"at"`
	Action    string    `json:"action"`
	Outcome   string    `json:"outcome"`
	Status    int       `json:"status"`
	Appliance string    `json:"appliance,omitempty"`
	License   string    `json:"license,omitempty"`
	Detail    string    `json:"detail"`
}

type ledgerPage struct {
	Entries []ledgerItem `json:"entries"`
	Next    string       `json:"next,omitempty"`
}

// ledgerView is GET /v1/contracts/{id}/ledger: the contract's audit ledger,
// oldest first, for its token holder and the admin.
func (s *Server) ledgerView(ctx context.Context, c *call) (*answer, *store.Entry, error) {
	id, q, _, err := s.contractPage(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	v, err := fit(q.limit, func(limit int) (any, int, error) {
		es, next, err := s.store.Ledger(ctx, id, q.after, limit)
		if err != nil {
			return nil, 0, badCursor(err)
		}
		out := &ledgerPage{Entries: make([]ledgerItem, 0, len(es)), Next: next}
		for _, e := range es {
			out.Entries = append(out.Entries, ledgerItem{ID: e.ID, At: e.At, Action: e.Action, Outcome: e.Outcome, Status: e.Status,
				Appliance: e.Appliance, License: e.License, Detail: join(e.Reason, e.Anomaly)})
		}
		return out, len(es), nil
	})
	if err != nil {
		return nil, nil, err
	}
	return ok(v), nil, nil
}

// anomalyItem is one anomaly of GET /v1/anomalies.
type anomalyItem struct {
	ID        string    `json:"id"`
	At        time.Time `json:"at"`
	Contract  string    `json:"contract"`
	Appliance string    `json:"appliance"`
	Kind      string    `json:"kind"`
	Detail    string    `json:"detail"`
	Count     int64     `json:"count"`
}

type anomalyPage struct {
	Anomalies []anomalyItem `json:"anomalies"`
	Next      string        `json:"next,omitempty"`
}

// anomalies is GET /v1/anomalies: one anomaly per kind, appliance, contract
// and UTC day, day by day, of every contract or of ?contract=.
func (s *Server) anomalies(ctx context.Context, c *call) (*answer, *store.Entry, error) {
	q, err := parsePage(c.r, "contract")
	if err != nil {
		return nil, nil, err
	}
	contract := q.extra.Get("contract")
	if contract != "" {
		if err := checkContractID(contract); err != nil {
			return nil, nil, err
		}
	}
	if !c.who.admin {
		return nil, nil, problem(http.StatusForbidden, "forbidden", "only the admin token may read the anomalies")
	}
	if contract != "" {
		if _, err := s.contract(ctx, contract); err != nil {
			return nil, nil, err
		}
	}
	v, err := fit(q.limit, func(limit int) (any, int, error) {
		as, next, err := s.store.Anomalies(ctx, contract, q.after, limit)
		if err != nil {
			return nil, 0, badCursor(err)
		}
		out := &anomalyPage{Anomalies: make([]anomalyItem, 0, len(as)), Next: next}
		for _, a := range as {
			out.Anomalies = append(out.Anomalies, anomalyItem{ID: a.ID, At: a.At, Contract: a.Contract, Appliance: a.Appliance,
				Kind: a.Kind, Detail: a.Detail, Count: a.Count})
		}
		return out, len(as), nil
	})
	if err != nil {
		return nil, nil, err
	}
	return ok(v), nil, nil
}

// tokenBody is the body of POST /v1/contracts/{id}/token: {}.
type tokenBody struct{}

// rotateToken is POST /v1/contracts/{id}/token: a new token for a contract
// whose token leaked or was lost; the old one stops working at once.
func (s *Server) rotateToken(ctx context.Context, c *call, _ *tokenBody) (*answer, *store.Entry, error) {
	id := c.r.PathValue("id")
	if err := checkContractID(id); err != nil {
		return nil, nil, err
	}
	entry := &store.Entry{At: s.clock(), Contract: id, Actor: c.who.actor(), Action: "token", Outcome: store.Accepted}
	if !c.who.admin {
		return nil, entry, problem(http.StatusForbidden, "forbidden", "only the admin token may rotate a contract's token; ask the vendor for a new one")
	}
	if _, err := s.contract(ctx, id); err != nil {
		return nil, nil, err
	}
	entry.Status, entry.Reason = http.StatusOK, "a new token; the old one no longer works"
	for range conflictRetries {
		token := newToken()
		err := s.store.RotateToken(ctx, id, hashHex([]byte(token)), entry)
		if errors.Is(err, store.ErrConflict) {
			continue // a concurrent rotation, or a token hash in use
		}
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, problem(http.StatusNotFound, "not-found", "no contract %s", id)
		}
		if err != nil {
			return nil, nil, err
		}
		s.log.Info("token", "contract", id)
		return ok(map[string]string{"contract": id, "token": token}), nil, nil
	}
	return nil, nil, problem(http.StatusConflict, "conflict", "the token of contract %s kept changing during this rotation; send it again", id)
}
