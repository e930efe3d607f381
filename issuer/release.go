package issuer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/tenurehq/tenure/issuer/internal/store"
	"github.com/tenurehq/tenure/shared/engine"
)

type releaseBody struct {
	Receipt string `json:"receipt"`
}

var applianceID = regexp.MustCompile(`^A-[0-9a-z]{6,40}$`)

type reallocationBody struct {
	Appliance string `json:"appliance"`
	Reason    string `json:"reason"`
}

// ledgerText is what a reason an admin gives may hold (the schemas' text):
// a line, no control characters.
var ledgerText = regexp.MustCompile(`^[^\x00-\x1f\x7f]+$`)

// checkReason is the 400 of an admin's reason that is missing, too long or
// not one line: it goes in the audit ledger, and in a clock reset the
// appliance shows.
func checkReason(reason string) error {
	if !validReason(reason) {
		return problem(http.StatusBadRequest, "malformed", "\"reason\" must say why, in one line of at most 200 characters, for the audit ledger")
	}
	return nil
}

func validReason(reason string) bool {
	return ledgerText.MatchString(reason) && utf8.RuneCountInString(reason) <= 200
}

// releasedAnswer answers releases and reallocations.
type releasedAnswer struct {
	Released       []string `json:"released"`
	AppliancesFree int      `json:"appliances_free"`
}

// release is POST /v1/releases: a receipt from the appliance that holds a
// seat frees it.
func (s *Server) release(ctx context.Context, c *call, in *releaseBody) (*answer, *store.Entry, error) {
	who := c.who
	if in.Receipt == "" {
		return nil, nil, problem(http.StatusBadRequest, "malformed", "the body needs \"receipt\": the text `tenure release` prints")
	}
	// The receipt names the contract and the appliance whose pinned key
	// verifies it: read them first, trust them only after verifying.
	claimed, err := engine.PeekRelease([]byte(in.Receipt))
	if errors.Is(err, engine.ErrTooLarge) {
		return nil, nil, problem(http.StatusRequestEntityTooLarge, "too-large", "%v", err)
	}
	if err != nil {
		return nil, nil, problem(http.StatusBadRequest, "malformed", "%v; send the receipt exactly as `tenure release` printed it", err)
	}
	entry := &store.Entry{At: s.clock(), Contract: claimed.Contract, Actor: who.actor(), Action: "release", Outcome: store.Accepted, Appliance: claimed.Appliance}
	if !who.may(claimed.Contract) {
		return nil, entry, problem(http.StatusForbidden, "forbidden", "this token is for contract %s, the receipt for %s", who.contract, claimed.Contract)
	}
	ct, err := s.contract(ctx, claimed.Contract)
	if err != nil {
		return nil, nil, err
	}
	for range conflictRetries {
		ans, e, err := s.releaseOnce(ctx, ct, claimed.Appliance, in.Receipt, *entry)
		if !errors.Is(err, store.ErrConflict) {
			return ans, e, err
		}
	}
	return nil, entry, problem(http.StatusConflict, "conflict", "the records of appliance %s kept changing during this release; send the receipt again", claimed.Appliance)
}

// releaseOnce decides a receipt from fresh records: the signature against
// the pinned key, a replay, the history, the sequence, then the seat is
// freed. It returns store.ErrConflict when a concurrent write changed the
// records it decided from.
func (s *Server) releaseOnce(ctx context.Context, ct *store.Contract, appliance, receipt string, entry store.Entry) (*answer, *store.Entry, error) {
	b, err := s.store.Binding(ctx, ct.ID, appliance)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &entry, problem(http.StatusNotFound, "not-found", "appliance %s never held a seat on contract %s; check the receipt's contract", appliance, ct.ID)
	}
	if err != nil {
		return nil, nil, err
	}
	rel, signed, err := engine.OpenRelease([]byte(receipt), func(string) (string, error) { return b.DeviceKey, nil })
	if err != nil {
		return nil, &entry, problem(http.StatusBadRequest, "malformed", "%v; send the receipt exactly as `tenure release` printed it, from the appliance that holds the seat", err)
	}
	entry.Request = hashHex(signed)
	// A receipt only gives up a seat: it is accepted whatever its date, and
	// one from the future is recorded, for the appliance's clock is off.
	if now := s.clock(); rel.Released.After(now.Add(FreshnessSlack)) {
		entry.Anomaly = anomaly(anomalyClockAhead, "receipt made %s, more than a day after the issuer's clock (%s)", rel.Released.Format(engine.TimeFormat), now.Format(engine.TimeFormat))
	}
	// A replayed receipt frees nothing more and gets the same answer;
	// another receipt for a free seat frees nothing either.
	replay := func(released []string) (*answer, *store.Entry, error) {
		entry.Status, entry.Reason = http.StatusOK, "replay"
		return ok(&releasedAnswer{Released: released, AppliancesFree: max(0, ct.Appliances-ct.Used)}), &entry, nil
	}
	if b.Released != nil && b.Receipt == entry.Request {
		return replay(slices.Clone(b.ReleasedLicenses))
	}
	// The history, before the sequence: a receipt from a state put back to
	// before an accepted release is a fork, not an old receipt. A stale
	// receipt (an older one carried late) is processed as usual.
	v, err := s.judgeHistory(ctx, appliance, b.DeviceKey, rel.History)
	if err != nil {
		return nil, nil, err
	}
	switch v.standing {
	case forked:
		e := v.forkRefusal(appliance, rel.History)
		e.Anomaly = join(entry.Anomaly, e.Anomaly)
		return nil, &entry, e
	case restore:
		entry.Anomaly = join(entry.Anomaly, v.restoreAnomaly(rel.History))
	}
	if b.Released != nil {
		return replay([]string{})
	}
	if rel.Sequence <= b.Sequence {
		return nil, &entry, problem(http.StatusConflict, "sequence", "the receipt's sequence %d is not above %d, the appliance's latest request; it predates the seat's current licenses, so it frees nothing", rel.Sequence, b.Sequence)
	}
	v.released(ct.ID, rel.History)
	return s.free(ctx, ct, b, rel.Sequence, entry.Request, &entry, v.next)
}

// free frees an appliance's seat: every license it holds on the contract is
// released, and the largest until of its current ones is kept for the next
// appliance to take the seat. hist, when not nil, is the appliance's history
// to write with it. It returns store.ErrConflict when the seat or the
// history changed since they were read.
func (s *Server) free(ctx context.Context, c *store.Contract, b *store.Binding, seq uint64, receipt string, entry *store.Entry, hist *store.History) (*answer, *store.Entry, error) {
	lics, err := s.store.ApplianceLicenses(ctx, c.ID, b.Appliance)
	if err != nil {
		return nil, nil, err
	}
	var ids []string
	var until time.Time
	rev := 0
	for _, l := range lics {
		if l.Released != nil {
			continue
		}
		ids = append(ids, l.ID)
		if l.SupersededBy == "" && l.Until.After(until) {
			until = l.Until
		}
		rev = max(rev, l.Revision)
	}
	slices.Sort(ids)
	if ids == nil {
		ids = []string{}
	}
	e := *entry
	e.Status = http.StatusOK
	e.Reason = join(e.Reason, fmt.Sprintf("released %d license(s)", len(ids)))
	err = s.store.Free(ctx, &store.Free{Contract: c.ID, Appliance: b.Appliance, At: s.clock(), Sequence: seq, Receipt: receipt,
		Licenses: ids, Until: until, Revision: rev, Entry: e, History: hist})
	if err != nil {
		return nil, nil, err
	}
	s.noteAnomalies(ctx, &e)
	after, err := s.store.Contract(ctx, c.ID)
	if err != nil {
		return nil, nil, err
	}
	s.log.Info(entry.Action, "contract", c.ID, "appliance", b.Appliance, "released", len(ids))
	return ok(&releasedAnswer{Released: ids, AppliancesFree: max(0, after.Appliances-after.Used)}), nil, nil
}

// reallocate is POST /v1/contracts/{id}/reallocations: the vendor frees an
// appliance's seat without a receipt.
func (s *Server) reallocate(ctx context.Context, c *call, in *reallocationBody) (*answer, *store.Entry, error) {
	who, id := c.who, c.r.PathValue("id")
	if err := checkContractID(id); err != nil {
		return nil, nil, err
	}
	if !applianceID.MatchString(in.Appliance) {
		return nil, nil, problem(http.StatusBadRequest, "malformed", "\"appliance\" must be an appliance id like A-7f3k2m9q")
	}
	if err := checkReason(in.Reason); err != nil {
		return nil, nil, err
	}
	entry := &store.Entry{At: s.clock(), Contract: id, Actor: who.actor(), Action: "reallocation", Outcome: store.Accepted, Appliance: in.Appliance, Reason: in.Reason}
	if !who.admin {
		return nil, entry, problem(http.StatusForbidden, "forbidden", "only the admin token may reallocate a seat; the appliance can free it with `tenure release`")
	}
	ct, err := s.contract(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	for range conflictRetries {
		ans, e, err := s.reallocateOnce(ctx, ct, in, *entry)
		if !errors.Is(err, store.ErrConflict) {
			return ans, e, err
		}
	}
	return nil, entry, problem(http.StatusConflict, "conflict", "the records of appliance %s kept changing during this reallocation; send it again", in.Appliance)
}

// reallocateOnce frees the appliance's seat from fresh records, and clears
// the releases of the contract from its history, so that a state put back
// to before them is served again. A seat already free whose history holds
// such a release is only cleared. It returns store.ErrConflict when a
// concurrent write changed the records it decided from.
func (s *Server) reallocateOnce(ctx context.Context, ct *store.Contract, in *reallocationBody, entry store.Entry) (*answer, *store.Entry, error) {
	b, err := s.store.Binding(ctx, ct.ID, in.Appliance)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &entry, problem(http.StatusNotFound, "not-found", "appliance %s holds no seat on contract %s", in.Appliance, ct.ID)
	}
	if err != nil {
		return nil, nil, err
	}
	h, err := s.history(ctx, in.Appliance)
	if err != nil {
		return nil, nil, err
	}
	hist := without(h, ct.ID)
	if hist != nil {
		entry.Reason = join(entry.Reason, fmt.Sprintf("cleared %d release(s) of %s from the appliance's history", len(h.Releases)-len(hist.Releases), ct.ID))
	}
	if b.Released != nil {
		if hist == nil {
			return nil, &entry, problem(http.StatusConflict, "conflict", "the seat of appliance %s on %s is already free (since %s)", in.Appliance, ct.ID, b.Released.Format(engine.TimeFormat))
		}
		entry.Status = http.StatusOK
		if err := s.store.PutHistory(ctx, hist, &entry); err != nil {
			return nil, nil, err
		}
		s.log.Info(entry.Action, "contract", ct.ID, "appliance", in.Appliance, "released", 0)
		return ok(&releasedAnswer{Released: []string{}, AppliancesFree: max(0, ct.Appliances-ct.Used)}), nil, nil
	}
	// Without a receipt, the appliance's requests so far are refused: it
	// must show a newer one to come back.
	return s.free(ctx, ct, b, b.Sequence, "", &entry, hist)
}
