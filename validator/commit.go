package validator

import (
	"time"

	"github.com/tenurehq/tenure/shared/engine"
)

// commit appends events to the history and rewrites the facts record bound
// to the new head, in that order: the history is the commit point, and a
// power cut between the two leaves a record one event behind, which loading
// accepts. A state migrated in memory is stored first.
func (c *call) commit(evs ...*event) error {
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
	return c.writeFacts(s)
}

// writeFacts rewrites the facts record from s, bound to s's history head,
// with the high-water mark in memory. It does not write over a record that
// failed its check: only a newly installed license clears that (install).
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
	// A record that was not trusted stays so when rewritten, until a newly
	// issued license (install) or a clock reset re-establishes the clock.
	f.Tampered = s.tampered
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
