package validator

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tenurehq/tenure/shared/engine"
)

func (c *call) request(args []string) int {
	if len(args) > 0 {
		return c.usageError("request", errors.New("no arguments"))
	}
	s, err := c.writable()
	if err != nil {
		return c.fail(2, "%v", err)
	}
	if err := c.ensureTrial(s); err != nil {
		return c.fail(2, "%v", err)
	}
	st := engine.Evaluate(c.input(s, nil))
	nonce, err := c.nonce()
	if err != nil {
		return c.fail(2, "%v", err)
	}
	r := &engine.Request{
		Appliance:   s.app.ID,
		Platform:    c.plat,
		Product:     s.app.Product,
		ProductHash: c.a.cfg.Product.SHA256,
		Version:     c.version,
		DeviceKey:   s.verifier,
		Recipient:   s.identity.Recipient().String(),
		TrialStart:  st.Trial.Started,
		FirstUse:    s.firstUse,
		Mode:        st.State,
		Installed:   installed(s),
		Sequence:    c.nextSequence(s),
		Created:     st.At,
		Nonce:       nonce,
		History:     s.hist.trail(len(s.hist.events)),
		Usage:       s.summary(st.At),
	}
	if st.Grace != nil && st.State == engine.ModeGrace {
		g := st.Grace.Started
		r.GraceStart = &g
	}
	lrf, err := engine.SignRequest(r, s.signer)
	if err != nil {
		return c.fail(2, "%v", err)
	}
	// The sequence is on disk before the request leaves: the issuer refuses
	// a sequence that does not grow, so one must never be handed out twice.
	s.facts.rememberRequest(r)
	s.sequence = r.Sequence
	if err := c.writeFacts(s); err != nil {
		return c.fail(2, "%v; no request was made", err)
	}
	c.out.Write(lrf)
	return 0
}

// nextSequence is the sequence of the next LRF or receipt. It only grows,
// and the issuer refuses one that does not. A tampered facts record lost
// the sequences handed out since the last release, so the next one skips
// ahead to the clock's Unix time, past any count of requests made before.
func (c *call) nextSequence(s *snapshot) uint64 {
	n := s.sequence + 1
	if s.tampered != "" {
		n = max(n, uint64(c.evalTime().Unix()))
	}
	return n
}

// installed lists the ids of the licenses this appliance holds, whose file
// is good, and has not released, as an LRF reports them: a license whose
// file is missing is left out, so the issuer sends its bytes again.
func installed(s *snapshot) []string {
	ids := []string{}
	for _, l := range s.licenses {
		if _, released := s.released[l.id]; !released && l.ev != nil && l.missing == "" && l.err == nil && l.owner == s.app.ID {
			ids = append(ids, l.id)
		}
	}
	slices.Sort(ids)
	return ids
}

func (c *call) release(args []string) int {
	if len(args) != 1 {
		return c.usageError("release", errors.New("name one license id"))
	}
	id := args[0]
	s, err := c.writable()
	if err != nil {
		return c.fail(2, "%v", err)
	}
	if e, ok := s.released[id]; ok {
		text, err := s.receiptFor(e)
		if err != nil {
			return c.fail(2, "%v", err)
		}
		c.out.Write(text)
		return 0
	}
	i := slices.IndexFunc(s.licenses, func(l *stored) bool { return l.id == id })
	if i < 0 {
		return c.fail(2, "no license %s on this appliance; `tenure status` lists them", id)
	}
	target := s.licenses[i]
	if target.ev == nil {
		return c.fail(1, "license %s belongs to appliance %s, whose state was restored here; have the vendor reallocate its seat", id, target.owner)
	}
	// The history proves what was installed, so a license whose file is
	// damaged is released all the same.
	var ids []string
	for _, l := range s.licenses {
		if _, done := s.released[l.id]; !done && l.ev != nil && l.lic.Contract == target.lic.Contract {
			ids = append(ids, l.id)
		}
	}
	slices.Sort(ids)
	nonce, err := c.nonce()
	if err != nil {
		return c.fail(2, "%v", err)
	}
	// The release event is the commit point: once it is in the history the
	// licenses are released, and the receipt is made from it, now and
	// whenever release is asked again.
	e := &event{At: c.evalTime(), Kind: eventRelease, Release: &releaseEvent{Contract: target.lic.Contract, Licenses: ids, Sequence: c.nextSequence(s), Nonce: nonce}}
	s.sequence = e.Release.Sequence
	if err := c.commit(e); err != nil {
		return c.fail(2, "%v; nothing was released", err)
	}
	text, err := s.receiptFor(e)
	if err != nil {
		return c.fail(2, "%v", err)
	}
	c.out.Write(text)
	c.errOut.WriteString(fmt.Sprintf("tenure: released %s of contract %s; give this receipt to the vendor to free the seat\n", strings.Join(ids, ", "), e.Release.Contract))
	return 0
}
