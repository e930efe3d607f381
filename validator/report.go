package validator

import (
	"errors"
	"fmt"

	"github.com/tenurehq/tenure/shared/engine"
)

// report ends the open usage period and prints a tenure.usage/v1 for it:
// the counters of every contract, signed with the device key and chained to
// the history by a report event, which is the commit point. The counters
// start again with the next period.
func (c *call) report(args []string) int {
	if len(args) > 0 {
		return c.usageError("report", errors.New("no arguments"))
	}
	s, err := c.writable()
	if err != nil {
		return c.fail(2, "%v", err)
	}
	if s.tampered != "" {
		return c.fail(1, "state tampered: %s; the usage counters of this period cannot be trusted, so no report is made: ask the vendor for a clock reset (`tenure request`, then install it), then report", s.tampered)
	}
	from, ok := s.periodFrom()
	if !ok {
		return c.fail(1, "no license was ever installed on this appliance: usage is counted from the first license on; install one with `tenure install`")
	}
	nonce, err := c.nonce()
	if err != nil {
		return c.fail(2, "%v", err)
	}
	until := laterOf(from, c.evalTime())
	e := &event{At: until, Kind: eventReport, Report: &reportEvent{From: from, Sequence: c.nextSequence(s), Nonce: nonce}}
	// The report is signed before the event is written, over the history
	// the event will make: a report that cannot be made ends no period.
	_, h, err := appendEvents(s.hist, c.a.st.macKey, e)
	if err != nil {
		return c.fail(2, "%v; no report was made", err)
	}
	u := &engine.Usage{Appliance: s.app.ID, Product: s.app.Product, Period: engine.Period{From: from, Until: until},
		Contracts: s.sections(), History: h.trail(len(h.events)), Sequence: e.Report.Sequence, Created: until, Nonce: nonce}
	text, err := engine.SignUsage(u, s.signer)
	if err != nil {
		return c.fail(2, "%v; no report was made", err)
	}
	s.sequence = e.Report.Sequence
	if err := c.commitThen(func() { s.facts.Usage = nil }, e); err != nil {
		return c.fail(2, "%v; no report was made", err)
	}
	c.out.Write(text)
	fmt.Fprintf(&c.errOut, "tenure: usage report for %s to %s (%d contract(s)); give it to the vendor, who uploads it to the issuer\n",
		from.Format(engine.TimeFormat), until.Format(engine.TimeFormat), len(u.Contracts))
	return 0
}
