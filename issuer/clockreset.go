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

// clockResetBody is the body of POST /v1/clock-resets.
type clockResetBody struct {
	Request string `json:"request"`
	Reason  string `json:"reason"`
}

// clockResetAnswer is its answer: the armored tenure.clock/v1 document for
// `tenure install`, the appliance it answers and the mark it sets.
type clockResetAnswer struct {
	Clock     string    `json:"clock"`
	Appliance string    `json:"appliance"`
	Mark      time.Time `json:"mark"`
}

// clockAhead is the 422 of an LRF created more than a day after the
// issuer's clock: the appliance's clock is ahead, and keeps what it saw as
// its high-water mark, so only a clock reset brings it back.
func clockAhead(req *engine.Request, now time.Time) error {
	return problem(http.StatusUnprocessableEntity, "clock-ahead",
		"the request is from the future: it was created %s, more than a day after the issuer's clock (%s), so the appliance's clock is ahead of the issuer's. "+
			"Setting the appliance's clock right is not enough, as it keeps the latest time it has seen: an admin can answer this LRF with a clock reset "+
			"(POST /v1/clock-resets), then `tenure install` the reset on the appliance and make a new request with `tenure request`",
		req.Created.Format(engine.TimeFormat), now.Format(engine.TimeFormat))
}

// clockReset is POST /v1/clock-resets: the issuer's signed word of the time,
// answering one LRF, for an appliance whose clock ran far ahead (DESIGN.md,
// "Clock recovery"). The LRF is taken whatever its created time, since a
// clock far ahead is the reason. Where the appliance is bound, the LRF must
// be signed by the pinned key and its history must not abandon an accepted
// release; the reset is then recorded in the ledger of every contract it is
// bound to. Where it is bound nowhere (its clock jumped before its first
// activation), the reset answers the LRF's own key, binds nothing, and is
// recorded in the log only.
func (s *Server) clockReset(ctx context.Context, c *call, in *clockResetBody) (*answer, *store.Entry, error) {
	if in.Request == "" {
		return nil, nil, problem(http.StatusBadRequest, "malformed", "the body needs \"request\" (the LRF text `tenure request` prints on the appliance) and \"reason\"")
	}
	if err := checkReason(in.Reason); err != nil {
		return nil, nil, err
	}
	req, signed, err := engine.OpenRequest([]byte(in.Request))
	if errors.Is(err, engine.ErrTooLarge) {
		return nil, nil, problem(http.StatusRequestEntityTooLarge, "too-large", "%v", err)
	}
	if err != nil {
		return nil, nil, problem(http.StatusBadRequest, "malformed", "%v; send the LRF exactly as `tenure request` printed it", err)
	}
	now := s.clock()
	row := store.Entry{At: now, Actor: c.who.actor(), Action: "clock-reset", Outcome: store.Accepted, Appliance: req.Appliance, Request: hashHex(signed)}
	if !c.who.admin {
		// Recorded in the token's own contract, which learns nothing of
		// where the appliance is bound.
		row.Contract = c.who.contract
		return nil, &row, problem(http.StatusForbidden, "forbidden", "only the admin token may reset an appliance's clock; ask the vendor to answer this LRF with a clock reset")
	}

	bindings, err := s.store.ApplianceBindings(ctx, req.Appliance)
	if err != nil {
		return nil, nil, err
	}
	var held []store.Binding
	for _, b := range bindings {
		if b.Released == nil {
			held = append(held, b)
		}
	}
	// One ledger row per contract the appliance is bound to.
	rows := make([]store.Entry, len(held))
	for i, b := range held {
		rows[i] = row
		rows[i].Contract = b.Contract
	}
	a, err := s.resetClock(ctx, req, in.Reason, held, rows, now)
	for _, e := range rows {
		s.record(ctx, e, err)
	}
	if err != nil {
		return nil, nil, err
	}
	contracts := make([]string, len(held))
	for i, b := range held {
		contracts[i] = b.Contract
	}
	// With no contract, the log is the record.
	s.log.Info("clock-reset", "appliance", req.Appliance, "mark", a.Mark.Format(engine.TimeFormat), "sequence", req.Sequence,
		"reason", in.Reason, "contracts", strings.Join(contracts, ","))
	return &answer{http.StatusCreated, a}, nil, nil
}

// resetClock checks and signs a clock reset for req at now, filling in the
// ledger rows of the contracts where the appliance is held (the anomalies
// seen, and the reset's detail once it is signed).
func (s *Server) resetClock(ctx context.Context, req *engine.Request, reason string, held []store.Binding, rows []store.Entry, now time.Time) (*clockResetAnswer, error) {
	// The mark is the issuer's time: it must not be behind what it signed.
	if err := s.clk.check(ctx, now); err != nil {
		return nil, err
	}
	// Identity: every pinned key must be the LRF's; the reset answers only
	// the appliance that holds the seats, not a copy or a re-initialized one.
	var other []string
	for i, b := range held {
		if b.DeviceKey != req.DeviceKey {
			other = append(other, b.Contract)
			rows[i].Anomaly = anomaly(anomalyIdentity, "device key changed")
		}
	}
	if len(other) > 0 {
		slices.Sort(other)
		return nil, problem(http.StatusConflict, "identity",
			"appliance %s is pinned to another device key on %s; this request comes from a copy or a re-initialized appliance, and a clock reset answers only the appliance that holds the seat. "+
				"Release the seat (or reallocate it: POST /v1/contracts/{id}/reallocations), then make a new request",
			req.Appliance, strings.Join(other, ", "))
	}
	// History: a state put back to before an accepted release is refused,
	// as its activations are; a restore is recorded. A reset is no
	// activation: it moves neither the history nor the sequence.
	if len(held) > 0 {
		v, err := s.judgeHistory(ctx, req.Appliance, req.DeviceKey, req.History)
		if err != nil {
			return nil, err
		}
		switch v.standing {
		case forked:
			e := v.forkRefusal(req.Appliance, req.History)
			for i := range rows {
				rows[i].Anomaly = e.Anomaly
			}
			return nil, e
		case restore:
			for i := range rows {
				rows[i].Anomaly = v.restoreAnomaly(req.History)
			}
		}
	}

	cr := &engine.ClockReset{Appliance: req.Appliance, DeviceKeyHash: engine.KeyHash(req.DeviceKey), Nonce: req.Nonce,
		Sequence: req.Sequence, Mark: now, Reason: reason, Issued: now}
	text, err := engine.SignClockReset(cr, s.signers...)
	if err != nil {
		return nil, fmt.Errorf("failed to sign a clock reset for %s: %w", req.Appliance, err)
	}
	s.clk.signed(ctx, now)
	for i := range rows {
		rows[i].Status = http.StatusCreated
		rows[i].Reason = fmt.Sprintf("clock reset to mark %s, answering the LRF of sequence %d: %s", now.Format(engine.TimeFormat), req.Sequence, reason)
	}
	return &clockResetAnswer{Clock: string(text), Appliance: req.Appliance, Mark: now}, nil
}
