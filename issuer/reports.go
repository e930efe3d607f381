package issuer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"

	"github.com/tenurehq/tenure/issuer/internal/store"
	"github.com/tenurehq/tenure/shared/engine"
)

// reportBody is the body of POST /v1/reports.
type reportBody struct {
	Contract string `json:"contract"`
	Report   string `json:"report"`
}

// reportAnswer is its answer: 201 for a report stored, 200 for a replay,
// with the same body.
type reportAnswer struct {
	ID        string        `json:"id"`
	Appliance string        `json:"appliance"`
	Period    engine.Period `json:"period"`
}

// report is POST /v1/reports: a usage report (tenure.usage/v1) of an
// appliance that holds or held a seat on the contract, the true-up of a
// site that never connects (DESIGN.md, "Usage reports"). The issuer keeps
// the contract's section of it, raises the contract's peaks, and records a
// report whose period does not follow the previous one as usage_gap. Usage
// over a limit is a fact for the vendor, never a refusal.
func (s *Server) report(ctx context.Context, c *call, in *reportBody) (*answer, *store.Entry, error) {
	if in.Contract == "" || in.Report == "" {
		return nil, nil, problem(http.StatusBadRequest, "malformed", "the body needs \"contract\" and \"report\" (the text `tenure report` prints)")
	}
	if err := checkContractID(in.Contract); err != nil {
		return nil, nil, err
	}
	// The report names the appliance whose pinned key verifies it: read it
	// first, trust it only after verifying.
	claimed, err := engine.PeekUsage([]byte(in.Report))
	if errors.Is(err, engine.ErrTooLarge) {
		return nil, nil, problem(http.StatusRequestEntityTooLarge, "too-large", "%v", err)
	}
	if err != nil {
		return nil, nil, problem(http.StatusBadRequest, "malformed", "%v; send the report exactly as `tenure report` printed it", err)
	}
	entry := &store.Entry{At: s.clock(), Contract: in.Contract, Actor: c.who.actor(), Action: "report", Outcome: store.Accepted, Appliance: claimed.Appliance}
	if err := c.who.mayAct(in.Contract); err != nil {
		return nil, entry, err
	}
	ct, err := s.contract(ctx, in.Contract)
	if err != nil {
		return nil, nil, err
	}
	// Every report of a contract raises the one record of its peaks, so a
	// fleet reporting at once contends for it: more tries than the other
	// writes, a little apart.
	for i := range reportRetries {
		ans, e, err := s.reportOnce(ctx, ct, claimed.Appliance, in.Report, *entry)
		if !errors.Is(err, store.ErrConflict) {
			return ans, e, err
		}
		time.Sleep(time.Duration(rand.IntN(1<<min(i, 6))) * time.Millisecond)
	}
	return nil, entry, problem(http.StatusConflict, "conflict", "the peaks of contract %s or the records of appliance %s kept changing while the report was stored; send the report again", ct.ID, claimed.Appliance)
}

// reportOnce decides a report from fresh records: the signature against the
// pinned key, a replay, the report's clock, the history, then the report,
// the peaks it raises and the history are written together. It returns
// store.ErrConflict when a concurrent write changed the records it decided
// from.
func (s *Server) reportOnce(ctx context.Context, ct *store.Contract, appliance, text string, entry store.Entry) (*answer, *store.Entry, error) {
	b, err := s.store.Binding(ctx, ct.ID, appliance)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &entry, problem(http.StatusNotFound, "not-found", "appliance %s never held a seat on contract %s; send the report with the contract its licenses are for", appliance, ct.ID)
	}
	if err != nil {
		return nil, nil, err
	}
	// A released seat still pins its key: a report carried after the
	// release covers the time the appliance held it.
	u, signed, err := engine.OpenUsage([]byte(text), func(string) (string, error) { return b.DeviceKey, nil })
	if err != nil {
		return nil, &entry, problem(http.StatusBadRequest, "malformed", "%v; send the report exactly as `tenure report` printed it, from the appliance that holds the seat", err)
	}
	id := hashHex(signed)
	entry.Request = id
	// The same report again gets the same answer and changes nothing.
	stored, err := s.store.Report(ctx, ct.ID, id)
	switch {
	case err == nil:
		entry.Status, entry.Reason = http.StatusOK, "replay"
		return ok(&reportAnswer{ID: stored.ID, Appliance: stored.Appliance, Period: engine.Period{From: stored.From, Until: stored.Until}}), &entry, nil
	case !errors.Is(err, store.ErrNotFound):
		return nil, nil, err
	}
	now := s.clock()
	switch {
	case u.Product != ct.Product:
		return nil, &entry, problem(http.StatusUnprocessableEntity, "refused", "the report is for product %s, contract %s is for %s; send it to the contract of its licenses", u.Product, ct.ID, ct.Product)
	case u.Created.After(now.Add(FreshnessSlack)):
		return nil, &entry, reportClockAhead(u, now)
	case u.Period.Until.After(u.Created):
		// tenure report ends the period when it makes the report.
		return nil, &entry, problem(http.StatusUnprocessableEntity, "refused", "the report's period ends %s, after the report was made (%s); send the report exactly as `tenure report` printed it",
			u.Period.Until.Format(engine.TimeFormat), u.Created.Format(engine.TimeFormat))
	}
	// A stale report (an older one carried late) is processed as usual; a
	// fork that abandons an accepted release is refused, a restore recorded.
	// Reports take no part in the sequence check.
	v, err := s.judgeHistory(ctx, appliance, b.DeviceKey, u.History)
	if err != nil {
		return nil, nil, err
	}
	switch v.standing {
	case forked:
		return nil, &entry, v.forkRefusal(appliance, u.History)
	case restore:
		entry.Anomaly = join(entry.Anomaly, v.restoreAnomaly(u.History))
	}

	sec := u.Section(ct.ID)
	if sec == nil {
		// The period was reported and nothing of this contract was used.
		sec = &engine.UsageSection{Contract: ct.ID}
	}
	r := store.Report{ID: id, Contract: ct.ID, Appliance: appliance, From: u.Period.From, Until: u.Period.Until, Created: u.Created,
		Received: now, Limits: nonNil(sec.Limits), Features: nonNil(sec.Features), Text: text}
	gap, err := s.usageGap(ctx, &r)
	if err != nil {
		return nil, nil, err
	}
	entry.Anomaly = join(entry.Anomaly, gap)
	peaks, raised, err := s.raisePeaks(ctx, ct, &r)
	if err != nil {
		return nil, nil, err
	}
	entry.Status = http.StatusCreated
	entry.Reason = fmt.Sprintf("usage report for %s to %s: %d limit(s), %d feature(s)", r.From.Format(engine.TimeFormat), r.Until.Format(engine.TimeFormat), len(r.Limits), len(r.Features))
	if raised != "" {
		entry.Reason += "; new peak " + raised
	}
	if err := s.store.PutReport(ctx, &store.PutReport{Report: r, Peaks: peaks, Entry: entry, History: v.next}); err != nil {
		return nil, nil, err
	}
	s.noteAnomalies(ctx, &entry)
	s.log.Info("report", "contract", ct.ID, "appliance", appliance, "report", id, "from", r.From.Format(engine.TimeFormat),
		"until", r.Until.Format(engine.TimeFormat), "peaks", raised)
	return &answer{http.StatusCreated, &reportAnswer{ID: id, Appliance: appliance, Period: u.Period}}, nil, nil
}

// reportClockAhead is the 422 of a report created more than a day after
// the issuer's clock, as an LRF's ([clockAhead]).
func reportClockAhead(u *engine.Usage, now time.Time) error {
	return problem(http.StatusUnprocessableEntity, "clock-ahead",
		"the report is from the future: it was created %s, more than a day after the issuer's clock (%s), so the appliance's clock is ahead of the issuer's. "+
			"Ask the vendor to answer one of the appliance's LRFs with a clock reset (POST /v1/clock-resets), `tenure install` it on the appliance, then make a new report with `tenure report`",
		u.Created.Format(engine.TimeFormat), now.Format(engine.TimeFormat))
}

// usageGap is the usage_gap anomaly of a report whose period does not meet
// the appliance's reports beside it on the contract, or "": the newest
// report must start where the latest one ended. An older report carried
// late is held to its neighbours among the stored ones, found by reading
// the contract's reports (a bounded number of pages): it must start where
// the one before it ended and end where the one after it starts, so that
// uploading the newest first and the oldest last shows a period left out
// in between, and the report that fills a gap raises none.
func (s *Server) usageGap(ctx context.Context, r *store.Report) (string, error) {
	prev, err := s.store.LatestReport(ctx, r.Contract, r.Appliance)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if r.Until.After(prev.Until) {
		if r.From.Equal(prev.Until) {
			return "", nil
		}
		return anomaly(anomalyUsageGap, "period from %s, the previous report's ended %s (report %s)", r.From.Format(engine.TimeFormat), prev.Until.Format(engine.TimeFormat), short(prev.ID)), nil
	}
	before, after, err := s.neighbours(ctx, r)
	if err != nil {
		return "", err
	}
	switch {
	case before != nil && !r.From.Equal(before.Until):
		return anomaly(anomalyUsageGap, "period from %s, the report before it ended %s (report %s)", r.From.Format(engine.TimeFormat), before.Until.Format(engine.TimeFormat), short(before.ID)), nil
	case after != nil && !after.From.Equal(r.Until):
		return anomaly(anomalyUsageGap, "period until %s, the report after it starts %s (report %s)", r.Until.Format(engine.TimeFormat), after.From.Format(engine.TimeFormat), short(after.ID)), nil
	}
	return "", nil
}

// maxNeighbourPages bounds the pages of a contract's reports read to place
// a report carried late.
const maxNeighbourPages = 64

// neighbours returns the appliance's stored reports on r's contract that
// end last before r ends and first after it.
func (s *Server) neighbours(ctx context.Context, r *store.Report) (before, after *store.Report, err error) {
	cursor := ""
	for range maxNeighbourPages {
		page, next, err := s.store.Reports(ctx, r.Contract, cursor, MaxPage)
		if err != nil {
			return nil, nil, err
		}
		for i := range page {
			o := &page[i]
			switch {
			case o.Appliance != r.Appliance || o.ID == r.ID:
			case o.Until.After(r.Until):
				return before, o, nil
			default:
				before = o
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	return before, nil, nil
}

// maxPeaks bounds the limits a contract's peaks keep, as a contract's and
// a report section's limits are bounded (64 in the schemas), so that the
// record and the contract view stay small whatever reports name.
const maxPeaks = 64

// raisePeaks returns the contract's peaks after the report, nil when it
// raises none, and the peaks it raised as text for the ledger. A peak is
// the larger of a limit's allowed and denied values, kept with the
// appliance's effective limit when it was reached. Limits neither the
// contract nor its product knows are not kept, nor new ones beyond
// maxPeaks.
func (s *Server) raisePeaks(ctx context.Context, ct *store.Contract, r *store.Report) (*store.Peaks, string, error) {
	stored, err := s.store.Peaks(ctx, ct.ID)
	if err != nil {
		return nil, "", err
	}
	var next *store.Peaks
	var limits map[string]int64
	raised := ""
	kept := len(stored.Limits)
	for _, name := range slices.Sorted(maps.Keys(r.Limits)) {
		p := r.Limits[name].Peak()
		was, had := stored.Limits[name]
		if !s.knownLimit(ct, name) || p <= was.Peak || !had && kept >= maxPeaks {
			continue
		}
		if !had {
			kept++
		}
		if limits == nil {
			if limits, err = s.effectiveLimits(ctx, ct, r.Appliance, r.From, r.Until); err != nil {
				return nil, "", err
			}
		}
		if next == nil {
			next = &store.Peaks{Contract: ct.ID, Limits: maps.Clone(stored.Limits), Version: stored.Version}
			if next.Limits == nil {
				next.Limits = map[string]store.Peak{}
			}
		}
		next.Limits[name] = store.Peak{Peak: p, Limit: limits[name], Appliance: r.Appliance, At: r.Until}
		over := "within"
		if p > limits[name] {
			over = "over"
		}
		raised = join(raised, fmt.Sprintf("%s %d (%s its limit %d)", name, p, over, limits[name]))
	}
	return next, raised, nil
}

// knownLimit reports whether a limit is the contract's or in the catalog of
// a loaded version of its product.
func (s *Server) knownLimit(ct *store.Contract, name string) bool {
	if _, ok := ct.Limits[name]; ok {
		return true
	}
	return slices.ContainsFunc(s.catalog.byID[ct.Product], func(p *engine.Product) bool { return p.HasLimit(name) })
}

// reportRetries bounds the tries of one report.
const reportRetries = 16

// effectiveLimits are the limits an appliance has from its contracts for
// ct's product, as the engine counts licenses: per limit the largest among
// base contracts, plus the sum of the addon contracts', which count only
// beside a base. The contract reported on counts whether or not its seat is
// still held, for the report covers a time it was; the others count while
// held, and only when a license of theirs covered some of the period
// [from, until]. A contract's limits are those of its latest revision.
func (s *Server) effectiveLimits(ctx context.Context, ct *store.Contract, appliance string, from, until time.Time) (map[string]int64, error) {
	bindings, err := s.store.ApplianceBindings(ctx, appliance)
	if err != nil {
		return nil, err
	}
	base, addons := map[string]int64{}, map[string]int64{}
	hasBase := false
	count := func(c *store.Contract) {
		for name, v := range c.Limits {
			if c.Kind == engine.KindAddon {
				addons[name] = min(addons[name]+v, engine.MaxCount)
			} else {
				base[name] = max(base[name], v)
			}
		}
		hasBase = hasBase || c.Kind != engine.KindAddon
	}
	count(ct)
	for _, b := range bindings {
		if b.Contract == ct.ID || b.Released != nil {
			continue
		}
		c, err := s.store.Contract(ctx, b.Contract)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if c.Product != ct.Product {
			continue
		}
		covered, err := s.covered(ctx, c.ID, appliance, from, until)
		if err != nil {
			return nil, err
		}
		if covered {
			count(c)
		}
	}
	if hasBase {
		for name, v := range addons {
			base[name] = min(base[name]+v, engine.MaxCount)
		}
	}
	return base, nil
}

// covered reports whether a license of the appliance on contract was valid
// at some time of [from, until]: a contract that ended before the period,
// or began after it, gave it no limit then.
func (s *Server) covered(ctx context.Context, contract, appliance string, from, until time.Time) (bool, error) {
	lics, err := s.store.ApplianceLicenses(ctx, contract, appliance)
	if err != nil {
		return false, err
	}
	for _, l := range lics {
		if l.Released == nil && !l.From.After(until) && l.Until.After(from) {
			return true, nil
		}
	}
	return false, nil
}

// nonNil is m, or an empty map for nil, so that answers show {} rather than
// null.
func nonNil[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return m
}
