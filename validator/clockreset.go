package validator

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tenurehq/tenure/shared/engine"
)

// installReset applies a clock reset (tenure.clock/v1): the vendor's signed
// word of the time, answering this appliance's newest request. The
// high-water mark goes back to where the reset says the clock should be, a
// tampered clock is re-established, and it is the command's last write. A
// reset applies once, and only while it answers the newest request: kept
// for later, it would be a clock rollback on demand. Exit 1 refuses the
// reset (nothing changed), 2 is a state that cannot be written.
func (c *call) installReset(s *snapshot, text []byte) int {
	trust := c.a.cfg.Trust
	if trust == nil {
		trust = nobody()
	}
	r, err := engine.OpenClockReset(text, trust)
	if err != nil {
		return c.fail(1, "clock reset refused: %v", explainReset(err, c.a.cfg.Trust))
	}
	if i := slices.IndexFunc(s.resets, func(e *event) bool { return e.Clock.Nonce == r.Nonce }); i >= 0 {
		e := s.resets[i]
		if e.Clock.SHA256 == sha256Hex(text) {
			c.printf("clock reset already applied on %s; nothing changed\n", e.At.Format(engine.TimeFormat))
			return 0
		}
		return c.fail(1, "clock reset refused: the request it answers was answered by another reset, applied on %s; a request is answered once (make a new request with `tenure request` if the clock is wrong again)", e.At.Format(engine.TimeFormat))
	}
	newest, err := c.answers(s, r)
	if err != nil {
		return c.fail(1, "clock reset refused: %v", err)
	}
	if newest.Created.After(r.Mark.Add(engine.RollbackTolerance)) && !c.host.Before(newest.Created.Add(-engine.RollbackTolerance)) {
		// The request was made with the clock far ahead, and the host
		// clock is that far ahead still: the next run would record that
		// time again, and the reset would be spent for nothing.
		return c.fail(1, "clock reset refused: the host clock says %s, as far ahead as when the request was made (%s), and the vendor's clock said %s; set the host clock right, then install the reset again (it is not spent)",
			c.host.Format(engine.TimeFormat), newest.Created.Format(engine.TimeFormat), r.Mark.Format(engine.TimeFormat))
	}
	mark := resetMark(r, newest, engine.ClockAt(c.host, c.a.hw, c.a.cfg.Floor, time.Time{}))
	was := c.a.hw
	e := &event{At: mark, Kind: eventClock, Clock: &clockEvent{Mark: mark, Nonce: r.Nonce, Sequence: r.Sequence, Reason: r.Reason, SHA256: sha256Hex(text)}}
	// The history event is the commit point; the facts record written
	// after it holds the new mark. Nothing after it in this command writes.
	err = c.commitThen(func() {
		c.a.hw, c.a.hwReset, s.tampered = mark, e.N, ""
		s.facts.HighWater, s.facts.Tampered = mark, ""
		s.resets = append(s.resets, e)
	}, e)
	if err != nil {
		return c.fail(2, "%v; the clock reset was not applied", err)
	}
	c.final = true
	if err := c.reload(); err != nil {
		return c.fail(2, "%v", err)
	}
	st := engine.Evaluate(c.input(c.a.snap, nil))
	c.printf("clock reset applied: the clock is now %s (it was %s); reason: %s\n", st.At.Format(engine.TimeFormat), was.Format(engine.TimeFormat), r.Reason)
	for _, l := range st.Licenses {
		if l.Reason == engine.IssuedInFuture {
			c.printf("license %s is inactive: %s\n", l.ID, l.Reason)
		}
	}
	c.printf("appliance is %s: %s\n", st.State, st.Reason)
	return 0
}

// resetMark is where reset r, answering request q, puts a mark that stands
// at hw now. The request was dated with the appliance's clock and the
// reset with the vendor's: the difference is how far ahead the appliance
// ran, and the mark goes back by that much and no further. A reset kept
// while time passed thus takes back none of that time, and one carried
// slowly to a site whose clock is right again lands on the vendor's mark.
func resetMark(r *engine.ClockReset, q requestFact, hw time.Time) time.Time {
	ahead := q.Created.Sub(r.Mark)
	if ahead < 0 {
		ahead = 0
	}
	m := hw.Add(-ahead)
	if m.Before(r.Mark) {
		m = r.Mark
	}
	return engine.Normalize(m)
}

// answers checks that reset r is for this appliance and answers its newest
// request, and returns that request.
func (c *call) answers(s *snapshot, r *engine.ClockReset) (requestFact, error) {
	if r.Appliance != s.app.ID {
		return requestFact{}, fmt.Errorf("it is for appliance %s, and this is %s; ask the vendor for a reset of this appliance's request", r.Appliance, s.app.ID)
	}
	if r.DeviceKeyHash != engine.KeyHash(s.verifier) {
		return requestFact{}, errors.New("it is bound to another device key than this appliance's; ask the vendor for a reset of a request made here with `tenure request`")
	}
	reqs := s.facts.Requests
	if len(reqs) == 0 {
		return requestFact{}, errors.New("it answers no request this appliance remembers; make a request with `tenure request` and ask the vendor for a reset of that one")
	}
	newest := reqs[len(reqs)-1]
	if newest.Nonce == r.Nonce && newest.Sequence == r.Sequence {
		return newest, nil
	}
	if i := slices.IndexFunc(reqs, func(q requestFact) bool { return q.Nonce == r.Nonce && q.Sequence == r.Sequence }); i >= 0 {
		return requestFact{}, fmt.Errorf("it answers an older request (sequence %d, made %s), and the newest is sequence %d; a reset applies only to the newest request: ask the vendor for a reset of that one",
			reqs[i].Sequence, reqs[i].Created.Format(engine.TimeFormat), newest.Sequence)
	}
	return requestFact{}, fmt.Errorf("it answers a request this appliance did not make (sequence %d); make a request with `tenure request` and ask the vendor for a reset of that one", r.Sequence)
}

// explainReset says why a reset did not open, and what to do.
func explainReset(err error, trust *engine.Trust) error {
	if u, ok := errors.AsType[*engine.UntrustedError](err); ok {
		if !u.NotAfter.IsZero() {
			return fmt.Errorf("signed by a retired issuer key (%s) after its not-after date %s; ask the vendor for a reset signed with a current key", strings.Join(u.Signers, ", "), u.NotAfter.Format(engine.TimeFormat))
		}
		return fmt.Errorf("signed by an unknown key (%s), and this validator trusts %s; only the vendor's issuer keys can reset the clock", signerIDs(u), trustedIDs(trust))
	}
	if errors.Is(err, engine.ErrBadSignature) {
		return errors.New("it was altered: its signature does not verify; ask the vendor for the file again")
	}
	return fmt.Errorf("it is damaged or altered (%v); ask the vendor for the file again", err)
}
