package issuer

import (
	"bytes"
	"context"
	"errors"
	"net/http"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

// An answer is a handler's reply: its status and its JSON body.
type answer struct {
	status int
	body   any
}

func ok(body any) *answer { return &answer{http.StatusOK, body} }

// A call is a request that passed the checks every route shares, as its
// handler sees it.
type call struct {
	r    *http.Request
	who  caller // zero on a public route
	body []byte // nil on a GET route, which reads none
}

// A handler answers one route's call with its answer, or the refusal that
// ends it. entry is the ledger row of the decision when no store write of
// the handler appends it: a refusal is recorded in it as refused, an answer
// (a replay) as it stands. A refusal with no row (nil entry) is one before
// the contract is known to exist.
type handler func(s *Server, ctx context.Context, c *call) (*answer, *store.Entry, error)

// typed makes a handler of one that takes its body as one JSON object of
// type In, with no unknown fields (400 otherwise).
func typed[In any](h func(s *Server, ctx context.Context, c *call, in *In) (*answer, *store.Entry, error)) handler {
	return func(s *Server, ctx context.Context, c *call) (*answer, *store.Entry, error) {
		var in In
		if err := decode(c.body, &in); err != nil {
			return nil, nil, err
		}
		return h(s, ctx, c, &in)
	}
}

// optional is typed for a route whose whole body is optional ({} and no
// body mean the same).
func optional[In any](h func(s *Server, ctx context.Context, c *call, in *In) (*answer, *store.Entry, error)) handler {
	return func(s *Server, ctx context.Context, c *call) (*answer, *store.Entry, error) {
		var in In
		if len(bytes.TrimSpace(c.body)) > 0 {
			if err := decode(c.body, &in); err != nil {
				return nil, nil, err
			}
		}
		return h(s, ctx, c, &in)
	}
}

// adapt turns a route's handler into an http.Handler, as lambdaurl.Wrap does
// for a Lambda's, so that every route runs the same sequence: the checks all
// routes share, the handler, the ledger row, then the answer as JSON or the
// refusal as a problem.
func (s *Server) adapt(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, err := s.run(w, r, rt)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.reply(w, a.status, a.body)
	})
}

// run runs the shared checks in the API's order, 413 the body, 413 a
// document in it, 401 the token (a public route skips them all), then the
// handler, and records its decision.
func (s *Server) run(w http.ResponseWriter, r *http.Request, rt route) (*answer, error) {
	ctx := r.Context()
	c := &call{r: r}
	if rt.who != anyone {
		var err error
		if rt.method != http.MethodGet {
			if c.body, err = readBody(w, r); err != nil {
				return nil, err
			}
			if err := checkType(r, c.body); err != nil {
				return nil, err
			}
			if rt.doc != "" {
				if err := checkDocument(c.body, rt.doc); err != nil {
					return nil, err
				}
			}
		}
		if c.who, err = s.authenticate(ctx, r); err != nil {
			return nil, err
		}
		if err := checkNumbers(c.body); err != nil {
			return nil, err
		}
	}
	a, entry, err := rt.serve(s, ctx, c)
	if e, ok := isStatus(err, http.StatusForbidden); ok {
		entry = s.forbidden(c, rt, entry, e)
	}
	if entry != nil {
		s.record(ctx, *entry, err)
	}
	return a, err
}

// forbidden is the ledger row of a 403: in the ledger of the token's own
// contract, never in the one it tried to reach (which would let a contract's
// token holder fill another's ledger); for an admin token, only a log line.
// row is the handler's row, nil when it made none.
func (s *Server) forbidden(c *call, rt route, row *store.Entry, e *apiError) *store.Entry {
	if c.who.admin || c.who.contract == "" {
		s.log.Info("forbidden", "route", rt.method+" "+rt.pattern, "actor", c.who.actor(), "detail", e.Detail)
		return nil
	}
	out := store.Entry{Action: rt.method + " " + rt.pattern}
	if row != nil {
		out = *row
	}
	out.Contract, out.Actor = c.who.contract, c.who.actor()
	return &out
}

// record appends a decision to the ledger: a refusal with its status and
// detail, an accepted decision as it stands. A failure of the issuer is no
// decision and records nothing; a ledger failure is logged, and the answer
// stands either way.
func (s *Server) record(ctx context.Context, e store.Entry, err error) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		e.Outcome, e.Status, e.Reason = store.Refused, ae.Status, ae.Detail
		if ae.Anomaly != "" {
			e.Anomaly = ae.Anomaly
		}
	case err != nil:
		return
	}
	if e.At.IsZero() {
		e.At = s.clock()
	}
	if err := s.store.Append(ctx, &e); err != nil {
		s.log.Error("failed to append to the ledger", "contract", e.Contract, "action", e.Action, "error", err.Error())
	}
	s.noteAnomalies(ctx, &e)
}
