package validator

import (
	"slices"
	"strconv"
	"time"

	"github.com/tenurehq/tenure/shared/engine"
)

// The usage counters (DESIGN.md, "Usage reports"): per contract with a
// license valid when a check is asked, the largest value each limit was
// checked at, allowed and denied apart, and the UTC days each feature was
// checked. They are running counters in the facts record, not history
// events, and `tenure report` hands them to the vendor and starts them
// again. They are facts for the vendor, never an enforcement.

// contractCounters are one contract's counters in the open period.
type contractCounters struct {
	Limits   map[string]*engine.Peaks `json:"limits,omitempty"`
	Features map[string]*dayCount     `json:"features,omitempty"`
}

// dayCount is how many UTC days a feature was checked, and the last of
// them, so the first check of a day is known.
type dayCount struct {
	Days int   `json:"days"`
	Last int64 `json:"last"` // days since 1970-01-01, UTC
}

// Bounds of the counters, so the facts record, and an LRF or report that
// carries them, stay small whatever names the checks ask for: a name beyond
// them is not counted until the next report starts the counters again.
const (
	maxUsageContracts = 8
	maxUsageEntries   = 128 // limits and features, over every contract
	maxSectionNames   = 64  // limits, and features, of one contract (the schema's bound)
)

// count records one answered check in the open period's counters: code is
// its answer (0 allowed, 1 denied), limit the limit's name ("" for a
// feature), word the feature or the value, and now the time the clock rule
// gives (evalTime). Only the contracts of
// licenses valid now count (a trial or grace counts nothing; a state whose
// clock is not trusted still counts for them), and only names in the
// product's catalog. It allocates nothing
// unless the check is the first of its name for a contract.
func (c *call) count(s *snapshot, limit, word string, code int, now time.Time) {
	mc := s.mode
	if code > 1 || mc == nil || len(mc.mode.Licenses()) == 0 || s.broken != "" {
		return
	}
	day := now.Unix() / (24 * 60 * 60)
	last := &c.a.lastCount
	if last.mode == mc && last.day == day && last.code == code && last.limit == limit && last.word == word {
		return // the check just counted, asked again the same day
	}
	p := c.a.cfg.Product
	var n int64
	if limit != "" {
		v, err := strconv.ParseInt(word, 10, 64)
		if err != nil || v < 0 || !p.HasLimit(limit) {
			return
		}
		n = min(v, engine.MaxCount)
	} else if !p.HasFeature(word) {
		return
	}
	lics := mc.mode.Licenses()
	for i, l := range lics {
		if now.Before(l.From) || !now.Before(l.Until) {
			continue // not valid now: grace counts nothing
		}
		if slices.ContainsFunc(lics[:i], func(o *engine.License) bool { return o.Contract == l.Contract }) {
			continue // a second license of one contract (an upgrade that overlaps)
		}
		addon := l.Kind == engine.KindAddon
		if addon && (limit != "" || !slices.Contains(l.Features, word)) {
			continue // an addon counts the features it grants, and no limit
		}
		if c.a.counters(s, l.Contract).bump(s, limit, word, n, code == 0, day) {
			c.counted = true
		}
	}
	*last = lastCount{mode: mc, day: day, code: code, limit: limit, word: word}
}

// lastCount is the check counted last, for the mode it was counted in: the
// same check asked again that day changes no counter (a value checked
// again raises no peak), so it is not looked up again.
type lastCount struct {
	mode        *modeCache
	day         int64
	code        int
	limit, word string
}

// counters returns contract's counters in s, made when missing.
func (a *Appliance) counters(s *snapshot, contract string) *contractCounters {
	if cc := s.facts.Usage[contract]; cc != nil {
		return cc
	}
	if s.facts.Usage == nil {
		s.facts.Usage = map[string]*contractCounters{}
	}
	if len(s.facts.Usage) >= maxUsageContracts {
		return nil
	}
	cc := &contractCounters{}
	s.facts.Usage[contract] = cc
	return cc
}

// bump records a limit checked at n (allowed or denied), or feature word
// checked on day, and reports whether the counters changed: a peak raised,
// or a feature's first check of the day.
func (cc *contractCounters) bump(s *snapshot, limit, word string, n int64, allowed bool, day int64) bool {
	if cc == nil {
		return false
	}
	if limit != "" {
		p := cc.Limits[limit]
		if p == nil {
			if !s.roomForCounter() || len(cc.Limits) >= maxSectionNames {
				return false
			}
			if cc.Limits == nil {
				cc.Limits = map[string]*engine.Peaks{}
			}
			p = &engine.Peaks{}
			cc.Limits[limit] = p
		}
		peak := &p.Denied
		if allowed {
			peak = &p.Allowed
		}
		if n <= *peak {
			return false
		}
		*peak = n
		return true
	}
	d := cc.Features[word]
	if d == nil {
		if !s.roomForCounter() || len(cc.Features) >= maxSectionNames {
			return false
		}
		if cc.Features == nil {
			cc.Features = map[string]*dayCount{}
		}
		d = &dayCount{Last: -1}
		cc.Features[word] = d
	}
	if d.Last == day {
		return false
	}
	d.Days, d.Last = d.Days+1, day
	return true
}

// roomForCounter reports whether s's counters may take one more name.
func (s *snapshot) roomForCounter() bool {
	n := 0
	for _, cc := range s.facts.Usage {
		n += len(cc.Limits) + len(cc.Features)
	}
	return n < maxUsageEntries
}

// sections returns the counters as a report's sections, sorted by contract.
func (s *snapshot) sections() []engine.UsageSection {
	out := []engine.UsageSection{}
	for contract, cc := range s.facts.Usage {
		sec := engine.UsageSection{Contract: contract, Limits: map[string]engine.Peaks{}, Features: map[string]int{}}
		for name, p := range cc.Limits {
			sec.Limits[name] = *p
		}
		for name, d := range cc.Features {
			sec.Features[name] = d.Days
		}
		out = append(out, sec)
	}
	slices.SortFunc(out, func(a, b engine.UsageSection) int {
		if a.Contract < b.Contract {
			return -1
		}
		if a.Contract > b.Contract {
			return 1
		}
		return 0
	})
	return out
}

// periodFrom returns when the open period started: at the latest report,
// else at the appliance's first license; a restore starts a period too (the
// counters since the last report may be those of the backup, so the issuer
// is to see a period that does not meet the last one), and a clock reset
// caps the start at its mark. ok is false before the first license:
// nothing is counted yet.
func (s *snapshot) periodFrom() (from time.Time, ok bool) {
	for _, e := range s.hist.events {
		switch {
		case e.Kind == eventReport:
			from, ok = e.At, true
		case e.Kind == eventRestore && ok:
			from = e.At
		case e.Kind == eventClock && ok && from.After(e.Clock.Mark):
			from = e.Clock.Mark
		case e.Kind == eventInstall && !ok:
			from, ok = e.At, true
		}
	}
	return from, ok
}

// summary is the running usage an LRF carries: the open period until at,
// and its counters; nil when nothing was counted.
func (s *snapshot) summary(at time.Time) *engine.UsageSummary {
	from, ok := s.periodFrom()
	if !ok || len(s.facts.Usage) == 0 {
		return nil
	}
	return &engine.UsageSummary{Period: engine.Period{From: from, Until: laterOf(from, at)}, Contracts: s.sections()}
}

func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
