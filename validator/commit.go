package validator

import (
	"time"

	"github.com/tenurehq/tenure/shared/engine"
)

// commit appends events to the history and rewrites the facts record bound
// to the new head, in that order: the history is the commit point, and a
// power cut between the two leaves a record one event behind, which loading
// accepts. A state migrated in memory is stored first.
func (c *call) commit(evs ...*event) error { return c.commitThen(nil, evs...) }

// commitThen is commit with a step between the two writes: then runs once
// the history holds evs, before the facts record is written after it, so a
// record written ahead of the history (Next) still says what it said.
func (c *call) commitThen(then func(), evs ...*event) error {
	if err := c.persistMigration(); err != nil {
		return err
	}
	s := c.a.snap
	for _, e := range evs {
		if e.At.IsZero() {
			e.At = c.evalTime()
		}
	}
	data, h, err := appendEvents(s.hist, c.a.st.macKey, evs...)
	if err != nil {
		return err
	}
	c.changed = true
	if next := h.head(); next.N != s.facts.Head.N+1 {
		// More than one event past the record on disk: the record names
		// the history to come before it is written.
		f := s.facts
		f.Next = &next
		f.Tampered = s.tampered
		if err := c.a.st.putRecord(fileFacts, f); err != nil {
			return err
		}
	}
	if err := c.a.st.write(fileHistory, data); err != nil {
		return err
	}
	s.hist = h
	if then != nil {
		then()
	}
	// The history is the commit point: the command did its job. A record
	// left a step behind is what a power cut leaves, and loading takes it.
	if err := c.writeFacts(s); err != nil {
		c.warnWrite(err)
	}
	return nil
}

// writeFacts rewrites the facts record from s, bound to s's history head,
// with the high-water mark in memory. A record that failed its check is
// rewritten still marked tampered: only a clock reset clears that.
func (c *call) writeFacts(s *snapshot) error {
	if err := c.persistMigration(); err != nil {
		return err
	}
	f := s.facts
	f.Head, f.Next = s.hist.head(), nil
	f.Sequence = max(f.Sequence, s.sequence)
	if c.a.hw.After(f.HighWater) {
		f.HighWater = c.a.hw
	}
	// A record that was not trusted stays so when rewritten, until a clock
	// reset re-establishes the clock.
	f.Tampered = s.tampered
	f.Reset = s.resetN()
	if err := c.a.st.putRecord(fileFacts, f); err != nil {
		return err
	}
	s.facts = f
	c.wrote = true
	return nil
}

// rememberRequest keeps an LRF's sequence and nonce in the facts record, the
// newest last.
func (f *factsRecord) rememberRequest(r *engine.Request) {
	f.Requests = append(f.Requests, requestFact{Sequence: r.Sequence, Nonce: r.Nonce, Created: r.Created})
	if n := len(f.Requests); n > maxRequests {
		f.Requests = append([]requestFact(nil), f.Requests[n-maxRequests:]...)
	}
	f.Sequence = max(f.Sequence, r.Sequence)
}

// eventAt is an event of kind at t.
func eventAt(kind string, t time.Time) *event { return &event{Kind: kind, At: t} }

// markPassed records in the history that the clock has passed the last
// instant at which the mode may have changed (a license's from or until, the
// end of a grace period or of the trial), when the history does not prove
// it yet. The high-water mark lives in the facts record, which can be lost;
// the history cannot be cut unseen, so with these events a lost record
// lets the clock go back only within the mode it is in, where it gains
// nothing.
func (c *call) markPassed(s *snapshot) error {
	last := s.hist.last()
	if last == nil {
		return nil
	}
	in := c.input(s, nil)
	t := engine.TimeUsed(in)
	if since := engine.LastChange(in, t); since.After(last.At) {
		// A mark changes nothing the snapshot derives but its history and
		// clock, which commit updates in place: the snapshot (and the
		// answers kept for it) stays.
		changed := c.changed
		if err := c.commit(&event{At: t, Kind: eventMark}); err != nil {
			return err
		}
		c.changed, c.wrote = changed, true
		if t.After(s.highWater) {
			s.highWater = t
		}
	}
	return nil
}
