package issuer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tenurehq/tenure/issuer/internal/store"
	"github.com/tenurehq/tenure/shared/engine"
)

// activationBody is the body of POST /v1/activations.
type activationBody struct {
	Contract  string  `json:"contract"`
	Request   string  `json:"request"`
	Effective *string `json:"effective,omitempty"`
}

// activationAnswer is the answer: 201 for a new license, 200 for a replay
// with the stored bytes.
type activationAnswer struct {
	ID        string    `json:"id"`
	License   string    `json:"license"`
	Reason    string    `json:"reason"`
	From      time.Time `json:"from"`
	Until     time.Time `json:"until"`
	Appliance string    `json:"appliance"`
}

func answerFor(l *store.License) *activationAnswer {
	return &activationAnswer{ID: l.ID, License: string(l.Sealed), Reason: l.Reason, From: l.From, Until: l.Until, Appliance: l.Appliance}
}

// FreshnessSlack is how far ahead of the issuer's clock a document's
// created time may be: clocks drift, but an LRF from tomorrow is a clock set
// forward. Age does not matter; air-gapped sites are slow.
const FreshnessSlack = 24 * time.Hour

// conflictRetries bounds how often an activation that lost a race (a freed
// seat retaken, the binding changed) is decided again from fresh records.
const conflictRetries = 4

func (s *Server) activate(w http.ResponseWriter, r *http.Request) {
	var in activationBody
	who, err := s.start(w, r, "request", &in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	a, err := s.prepare(r.Context(), who, &in)
	if err != nil {
		if a != nil {
			s.record(r.Context(), a.entry, err)
		}
		s.fail(w, r, err)
		return
	}
	for attempt := range conflictRetries {
		var status int
		var out *activationAnswer
		status, out, err = s.issue(r.Context(), a, attempt > 0)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			break
		}
		s.log.Info("activation", "contract", a.contract.ID, "appliance", a.req.Appliance, "license", out.ID, "reason", out.Reason, "status", status)
		s.reply(w, status, out)
		return
	}
	if errors.Is(err, store.ErrConflict) {
		err = problem(http.StatusConflict, "conflict", "the contract's records kept changing during this activation; send the request again")
	}
	var ae *apiError
	if errors.As(err, &ae) {
		s.record(r.Context(), a.entry, err)
	}
	s.fail(w, r, err)
}

// activation is a request that passed the checks that need no records of the
// appliance.
type activation struct {
	who       caller
	contract  *store.Contract
	product   *engine.Product
	req       *engine.Request
	key       string // SHA-256 of the signed LRF
	effective *time.Time
	given     string // effective as given
	entry     store.Entry
}

// prepare runs the checks up to 403, and builds the ledger entry for the
// rest; it returns the activation with an error when the refusal is to be
// recorded.
func (s *Server) prepare(ctx context.Context, who caller, in *activationBody) (*activation, error) {
	if in.Contract == "" || in.Request == "" {
		return nil, problem(http.StatusBadRequest, "malformed", "the body needs \"contract\" and \"request\" (the LRF text `tenure request` prints)")
	}
	if err := checkContractID(in.Contract); err != nil {
		return nil, err
	}
	a := &activation{who: who}
	if in.Effective != nil {
		d, err := engine.ParseDate(*in.Effective)
		if err != nil {
			return nil, problem(http.StatusBadRequest, "malformed", "effective: %v", err)
		}
		a.effective, a.given = &d, *in.Effective
	}
	req, signed, err := engine.OpenRequest([]byte(in.Request))
	if errors.Is(err, engine.ErrTooLarge) {
		return nil, problem(http.StatusRequestEntityTooLarge, "too-large", "%v", err)
	}
	if err != nil {
		return nil, problem(http.StatusBadRequest, "malformed", "%v; send the LRF exactly as `tenure request` printed it", err)
	}
	a.req, a.key = req, hashHex(signed)
	a.entry = store.Entry{Contract: in.Contract, Actor: who.actor(), Action: "activation", Outcome: store.Accepted,
		Appliance: req.Appliance, Request: a.key}
	if !who.may(in.Contract) {
		return a, problem(http.StatusForbidden, "forbidden", "this token is for contract %s, not %s", who.contract, in.Contract)
	}
	c, err := s.contract(ctx, in.Contract)
	if err != nil {
		return nil, err
	}
	a.contract = c
	a.product = s.products[c.Product]
	if a.product == nil {
		return a, problem(http.StatusUnprocessableEntity, "refused", "contract %s is for product %s, which this issuer no longer licenses", c.ID, c.Product)
	}
	return a, nil
}

// issue decides and stores one activation. It returns store.ErrConflict
// when a concurrent write changed the records it decided from; retry says
// this attempt follows one.
func (s *Server) issue(ctx context.Context, a *activation, retry bool) (int, *activationAnswer, error) {
	now := s.clock()
	a.entry.At = now
	req, p := a.req, a.product
	// The first attempt decides from the contract prepare has just read; a
	// retry follows a concurrent change and reads it again. Either way the
	// store checks the seats again when it writes.
	c := a.contract
	if retry {
		var err error
		if c, err = s.contract(ctx, c.ID); err != nil {
			return 0, nil, err
		}
	}

	// An idempotent replay answers before any rule: the appliance lost the
	// answer, not the right to it.
	idem, err := s.store.Idempotent(ctx, c.ID, a.key)
	switch {
	case err == nil:
		l, err := s.store.License(ctx, idem.License)
		if err != nil {
			return 0, nil, fmt.Errorf("license %s of an idempotency record: %w", idem.License, err)
		}
		if l.Released != nil {
			return 0, nil, problem(http.StatusConflict, "conflict", "this request was answered with license %s, released %s; make a new request with `tenure request`", l.ID, l.Released.Format(engine.TimeFormat))
		}
		if idem.Effective != a.given {
			return 0, nil, problem(http.StatusConflict, "conflict", "this request was answered with license %s for effective date %q; send it with the same effective date, or make a new request", l.ID, idem.Effective)
		}
		e := a.entry
		e.Status, e.License, e.Reason = http.StatusOK, l.ID, "replay"
		s.record(ctx, e, nil)
		return http.StatusOK, answerFor(l), nil
	case !errors.Is(err, store.ErrNotFound):
		return 0, nil, err
	}

	// Rules (422).
	switch {
	case c.Status != "active":
		return 0, nil, problem(http.StatusUnprocessableEntity, "refused", "contract %s is %s; it issues no licenses until it is reinstated", c.ID, c.Status)
	case req.Product != c.Product:
		return 0, nil, problem(http.StatusUnprocessableEntity, "refused", "the request is for product %s, contract %s is for %s; send it to a contract for %s", req.Product, c.ID, c.Product, req.Product)
	case p.MinVersion != "" && engine.CompareVersions(req.Version, p.MinVersion) < 0:
		return 0, nil, problem(http.StatusUnprocessableEntity, "refused", "the appliance runs %s %s; licenses need %s or later: upgrade the software, then make a new request", p.ID, req.Version, p.MinVersion)
	case req.Created.After(now.Add(FreshnessSlack)):
		return 0, nil, problem(http.StatusUnprocessableEntity, "refused", "the request was created %s, more than a day after the issuer's clock (%s); check the appliance's clock and make a new request", req.Created.Format(engine.TimeFormat), now.Format(engine.TimeFormat))
	}

	// Identity and sequence (409).
	b, err := s.store.Binding(ctx, c.ID, req.Appliance)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return 0, nil, err
	}
	anomaly := s.releasedInstalled(ctx, c.ID, req.Installed)
	a.entry.Anomaly = anomaly
	bound := b != nil && b.Released == nil
	if bound {
		if b.DeviceKey != req.DeviceKey {
			e := problem(http.StatusConflict, "identity", "appliance %s is pinned to another device key since %s; this request comes from a copy or a re-initialized appliance. Release the seat (or ask the vendor for a reallocation), then request again", req.Appliance, b.Bound.Format(engine.TimeFormat))
			e.Anomaly = join(anomaly, "device key changed")
			return 0, nil, e
		}
		if m := engine.MatchPlatform(b.Platform, req.Platform, p.Binding.MinMatch); !m.OK() {
			e := problem(http.StatusConflict, "identity", "appliance %s was pinned to another platform (%s); a state copied to another machine needs a release of the old seat, or a reallocation by the vendor", req.Appliance, m)
			e.Anomaly = join(anomaly, "platform changed: "+m.String())
			return 0, nil, e
		}
		if req.Sequence <= b.Sequence {
			e := problem(http.StatusConflict, "sequence", "the request's sequence %d is not above %d, the last one accepted from appliance %s; make a new request with `tenure request`", req.Sequence, b.Sequence, req.Appliance)
			e.Anomaly = join(anomaly, fmt.Sprintf("sequence regression: %d after %d", req.Sequence, b.Sequence))
			return 0, nil, e
		}
	} else if b != nil && req.Sequence <= b.ReleasedSequence {
		e := problem(http.StatusConflict, "sequence", "appliance %s released its seat at sequence %d; this request (sequence %d) is older. Make a new request with `tenure request`", req.Appliance, b.ReleasedSequence, req.Sequence)
		e.Anomaly = join(anomaly, fmt.Sprintf("request from before the release: sequence %d, released at %d", req.Sequence, b.ReleasedSequence))
		return 0, nil, e
	}

	// The case and the window.
	revs, err := s.store.Revisions(ctx, c.ID)
	if err != nil {
		return 0, nil, err
	}
	if len(revs) == 0 {
		return 0, nil, fmt.Errorf("contract %s has no revision", c.ID)
	}
	act := engine.Activation{At: now, Order: c.Ordered, Effective: a.effective, FirstUse: req.FirstUse, GraceDays: graceDays(p)}
	op := &store.Issue{Seat: !bound}
	if b != nil {
		op.Sequence = b.Sequence
	}
	if bound {
		lics, err := s.store.ApplianceLicenses(ctx, c.ID, req.Appliance)
		if err != nil {
			return 0, nil, err
		}
		last := 0
		for _, l := range lics {
			if l.SupersededBy == "" && l.Released == nil {
				act.Chain = append(act.Chain, &engine.License{ID: l.ID, From: l.From, Until: l.Until, Revision: l.Revision})
				last = max(last, l.Revision)
			}
		}
		for _, r := range revs {
			if r.Number > last {
				act.New = append(act.New, r.Engine())
			}
		}
	} else {
		freed, err := s.store.FreedSeats(ctx, c.ID)
		if err != nil {
			return 0, nil, err
		}
		received := 0
		if len(freed) > 0 {
			// Freed seats go first, with their coverage: a reallocation
			// never extends what the freed binding had, and the revisions
			// folded into its until are not counted again.
			f := freed[0]
			op.Freed, act.Freed = f.ID, &f.Until
			received = f.Revision
		}
		for _, r := range revs {
			if r.Number > received {
				act.New = append(act.New, r.Engine())
			}
		}
	}
	d, err := engine.Decide(act)
	if errors.Is(err, engine.ErrRenewFirst) {
		return 0, nil, problem(http.StatusUnprocessableEntity, "renew-first", "renew first: %v", err)
	}
	if err != nil {
		return 0, nil, problem(http.StatusUnprocessableEntity, "refused", "%v", err)
	}
	if op.Seat && c.Used >= c.Appliances {
		return 0, nil, noSeat(c)
	}

	// The license.
	l := &engine.License{
		ID: s.randomIDs(), Contract: c.ID, Revision: c.Revision, Customer: c.Customer, Product: c.Product,
		Tier: c.Tier, Kind: c.Kind, Appliance: req.Appliance, Platform: req.Platform,
		DeviceKeyHash: engine.KeyHash(req.DeviceKey), Features: c.Features, Limits: c.Limits,
		From: d.From, Until: d.Until, GraceDays: graceDays(p), MinVersion: p.MinVersion,
		Reason: d.Reason, Supersedes: d.Supersedes, Issued: now,
	}
	signed, err := engine.SignLicense(l, s.signers...)
	if err != nil {
		return 0, nil, fmt.Errorf("failed to sign license %s: %w", l.ID, err)
	}
	sealed, err := engine.Seal(signed, req.Recipient)
	if err != nil {
		return 0, nil, problem(http.StatusBadRequest, "malformed", "cannot seal the license to the request's recipient: %v", err)
	}
	rec := store.License{ID: l.ID, Contract: c.ID, Appliance: req.Appliance, Revision: l.Revision, Reason: d.Reason,
		From: d.From, Until: d.Until, Issued: now, Supersedes: d.Supersedes, Signed: signed, Sealed: sealed}

	binding := store.Binding{Contract: c.ID, Appliance: req.Appliance, DeviceKey: req.DeviceKey, Platform: req.Platform, Bound: now, Sequence: req.Sequence}
	if bound {
		binding = *b
		binding.Sequence = req.Sequence
	}
	op.License, op.Binding = rec, binding
	op.Idempotency = store.Idempotency{Contract: c.ID, Key: a.key, License: l.ID, Appliance: req.Appliance, Effective: a.given}
	op.Entry = a.entry
	op.Entry.Status, op.Entry.License, op.Entry.Reason = http.StatusCreated, l.ID, d.Reason
	err = s.store.Issue(ctx, op)
	if errors.Is(err, store.ErrNoSeat) {
		return 0, nil, noSeat(c)
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, answerFor(&rec), nil
}

// releasedInstalled names the released licenses of a contract an LRF still
// lists as installed: a restored old state, or a release that was not one.
func (s *Server) releasedInstalled(ctx context.Context, contract string, installed []string) string {
	var found []string
	for _, id := range installed {
		l, err := s.store.License(ctx, id)
		if err == nil && l.Contract == contract && l.Released != nil {
			found = append(found, id)
		}
	}
	if len(found) == 0 {
		return ""
	}
	slices.Sort(found)
	return "released license installed: " + strings.Join(found, ", ")
}

func noSeat(c *store.Contract) error {
	return problem(http.StatusConflict, "no-seat", "contract %s has no free seat (%d of %d taken); release an appliance's licenses with `tenure release`, or raise the contract's appliances", c.ID, c.Used, c.Appliances)
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func graceDays(p *engine.Product) int {
	if p.GraceDays > 0 {
		return p.GraceDays
	}
	return 90
}
