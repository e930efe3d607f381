package issuer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tenurehq/tenure/issuer/internal/store"
	"github.com/tenurehq/tenure/shared/engine"
)

type releaseBody struct {
	Receipt string `json:"receipt"`
}

type reallocationBody struct {
	Appliance string `json:"appliance"`
	Reason    string `json:"reason"`
}

// releasedAnswer answers releases and reallocations.
type releasedAnswer struct {
	Released       []string `json:"released"`
	AppliancesFree int      `json:"appliances_free"`
}

func (s *Server) release(w http.ResponseWriter, r *http.Request) {
	var in releaseBody
	who, err := s.start(w, r, "receipt", &in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out, entry, err := s.releaseErr(r.Context(), who, &in)
	if entry != nil {
		s.record(r.Context(), *entry, err)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, http.StatusOK, out)
}

func (s *Server) releaseErr(ctx context.Context, who caller, in *releaseBody) (*releasedAnswer, *store.Entry, error) {
	if in.Receipt == "" {
		return nil, nil, problem(http.StatusBadRequest, "malformed", "the body needs \"receipt\": the text `tenure release` prints")
	}
	// The receipt names the contract and the appliance whose pinned key
	// verifies it: read them first, trust them only after verifying.
	claimed, err := peekRelease([]byte(in.Receipt))
	if err != nil {
		return nil, nil, err
	}
	entry := &store.Entry{At: s.clock(), Contract: claimed.Contract, Actor: who.actor(), Action: "release", Outcome: store.Accepted, Appliance: claimed.Appliance}
	if !who.may(claimed.Contract) {
		return nil, entry, problem(http.StatusForbidden, "forbidden", "this token is for contract %s, the receipt for %s", who.contract, claimed.Contract)
	}
	c, err := s.contract(ctx, claimed.Contract)
	if err != nil {
		return nil, nil, err
	}
	b, err := s.store.Binding(ctx, c.ID, claimed.Appliance)
	if errors.Is(err, store.ErrNotFound) {
		return nil, entry, problem(http.StatusNotFound, "not-found", "appliance %s never held a seat on contract %s; check the receipt's contract", claimed.Appliance, c.ID)
	}
	if err != nil {
		return nil, nil, err
	}
	rel, signed, err := engine.OpenRelease([]byte(in.Receipt), func(string) (string, error) { return b.DeviceKey, nil })
	if err != nil {
		return nil, entry, problem(http.StatusBadRequest, "malformed", "%v; send the receipt exactly as `tenure release` printed it, from the appliance that holds the seat", err)
	}
	entry.Request = hashHex(signed)
	now := s.clock()
	if rel.Released.After(now.Add(FreshnessSlack)) {
		return nil, entry, problem(http.StatusUnprocessableEntity, "refused", "the receipt was made %s, more than a day after the issuer's clock (%s); check the appliance's clock", rel.Released.Format(engine.TimeFormat), now.Format(engine.TimeFormat))
	}
	if b.Released != nil {
		// A replayed receipt frees nothing more and gets the same answer.
		out := &releasedAnswer{Released: []string{}, AppliancesFree: max(0, c.Appliances-c.Used)}
		if b.Receipt == entry.Request {
			out.Released = slices.Clone(b.ReleasedLicenses)
		}
		entry.Status, entry.Reason = http.StatusOK, "replay"
		return out, entry, nil
	}
	if rel.Sequence <= b.Sequence {
		return nil, entry, problem(http.StatusConflict, "sequence", "the receipt's sequence %d is not above %d, the appliance's latest request; it predates the seat's current licenses, so it frees nothing", rel.Sequence, b.Sequence)
	}
	out, err := s.free(ctx, c, b, rel.Sequence, entry.Request, entry)
	return out, nil, err
}

// peekRelease decodes a receipt without verifying it, to find the contract
// and the appliance whose pinned key must verify it.
func peekRelease(text []byte) (*engine.Release, error) {
	msg, err := engine.Dearmor(engine.LabelRelease, text)
	if errors.Is(err, engine.ErrTooLarge) {
		return nil, problem(http.StatusRequestEntityTooLarge, "too-large", "%v", err)
	}
	if err != nil {
		return nil, problem(http.StatusBadRequest, "malformed", "failed to open receipt: %v", err)
	}
	var unverified *note.UnverifiedNoteError
	if _, err := note.Open(msg, note.VerifierList()); !errors.As(err, &unverified) {
		return nil, problem(http.StatusBadRequest, "malformed", "failed to open receipt: not a signed note")
	}
	var r engine.Release
	if err := engine.Decode(engine.TypeRelease, []byte(unverified.Note.Text), &r); err != nil {
		return nil, problem(http.StatusBadRequest, "malformed", "failed to open receipt: %v", err)
	}
	if !bytes.HasPrefix(msg, []byte(engine.TypeRelease+"\n")) {
		return nil, problem(http.StatusBadRequest, "malformed", "failed to open receipt: not a %s document", engine.TypeRelease)
	}
	return &r, nil
}

// free frees an appliance's seat: every license it holds on the contract is
// released, and the largest until of its current ones is kept for the next
// appliance to take the seat.
func (s *Server) free(ctx context.Context, c *store.Contract, b *store.Binding, seq uint64, receipt string, entry *store.Entry) (*releasedAnswer, error) {
	lics, err := s.store.ApplianceLicenses(ctx, c.ID, b.Appliance)
	if err != nil {
		return nil, err
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
		Licenses: ids, Until: until, Revision: rev, Entry: e})
	if errors.Is(err, store.ErrConflict) {
		return nil, problem(http.StatusConflict, "conflict", "the seat of appliance %s on %s was freed meanwhile; read the contract with GET /v1/contracts/%s", b.Appliance, c.ID, c.ID)
	}
	if err != nil {
		return nil, err
	}
	after, err := s.store.Contract(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	s.log.Info(entry.Action, "contract", c.ID, "appliance", b.Appliance, "released", len(ids))
	return &releasedAnswer{Released: ids, AppliancesFree: max(0, after.Appliances-after.Used)}, nil
}

func (s *Server) reallocate(w http.ResponseWriter, r *http.Request) {
	var in reallocationBody
	who, err := s.start(w, r, "", &in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out, entry, err := s.reallocateErr(r.Context(), who, r.PathValue("id"), &in)
	if entry != nil {
		s.record(r.Context(), *entry, err)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, http.StatusOK, out)
}

func (s *Server) reallocateErr(ctx context.Context, who caller, id string, in *reallocationBody) (*releasedAnswer, *store.Entry, error) {
	if err := checkContractID(id); err != nil {
		return nil, nil, err
	}
	if !applianceID.MatchString(in.Appliance) {
		return nil, nil, problem(http.StatusBadRequest, "malformed", "\"appliance\" must be an appliance id like A-7f3k2m9q")
	}
	if in.Reason == "" || len(in.Reason) > 200 {
		return nil, nil, problem(http.StatusBadRequest, "malformed", "\"reason\" must say why, in at most 200 characters, for the audit ledger")
	}
	entry := &store.Entry{At: s.clock(), Contract: id, Actor: who.actor(), Action: "reallocation", Outcome: store.Accepted, Appliance: in.Appliance, Reason: in.Reason}
	if !who.admin {
		return nil, entry, problem(http.StatusForbidden, "forbidden", "only the admin token may reallocate a seat; the appliance can free it with `tenure release`")
	}
	c, err := s.contract(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	b, err := s.store.Binding(ctx, id, in.Appliance)
	if errors.Is(err, store.ErrNotFound) {
		return nil, entry, problem(http.StatusNotFound, "not-found", "appliance %s holds no seat on contract %s", in.Appliance, id)
	}
	if err != nil {
		return nil, nil, err
	}
	if b.Released != nil {
		return nil, entry, problem(http.StatusConflict, "conflict", "the seat of appliance %s on %s is already free (since %s)", in.Appliance, id, b.Released.Format(engine.TimeFormat))
	}
	// Without a receipt, the appliance's requests so far are refused: it
	// must show a newer one to come back.
	out, err := s.free(ctx, c, b, b.Sequence, "", entry)
	return out, nil, err
}
