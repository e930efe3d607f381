package engine

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// Standings of an installed license at the evaluated instant.
const (
	StandingActive     = "active"
	StandingPending    = "pending"
	StandingExpired    = "expired"
	StandingSuperseded = "superseded"
	StandingReleased   = "released"
	StandingInactive   = "inactive"
)

// ExpiryWarning is how far ahead the end of coverage is announced.
const ExpiryWarning = 30 * Day

// RollbackTolerance is how far the host clock may lag the high-water mark
// before it is reported as set back.
const RollbackTolerance = 24 * time.Hour

// An Entry is one installed license as [Evaluate] sees it.
type Entry struct {
	ID       string
	License  *License // nil when the file could not be opened at all
	Inactive string   // why it does not count (verification or binding); "" when it does
	Released bool
}

// Input is everything [Evaluate] looks at. The engine reads no clock and no
// files: the caller passes the host's time and the appliance's records.
type Input struct {
	Product    *Product
	Host       time.Time  // the host's clock
	At         *time.Time // evaluate at exactly this instant, read-only, no floors (status --at)
	HighWater  time.Time  // the latest time the appliance has seen
	Floor      time.Time  // the build floor, zero when off
	TrialStart time.Time  // when this platform's trial started
	Licenses   []Entry
	Tampered   string   // non-empty: the clock record failed its check, and why
	Warnings   []string // carried into the status as they are
}

// A Status is the outcome of [Evaluate]: the JSON that `status --json`
// prints.
type Status struct {
	State         string           `json:"state"`
	At            time.Time        `json:"at"`
	Reason        string           `json:"reason"`
	Until         *time.Time       `json:"until,omitempty"`
	Features      []string         `json:"features"`
	Limits        map[string]int64 `json:"limits"`
	ConfigChanges bool             `json:"config_changes"`
	Trial         Window           `json:"trial"`
	Grace         *Window          `json:"grace,omitempty"`
	Licenses      []LicenseStatus  `json:"licenses"`
	Next          *Transition      `json:"next,omitempty"`
	Warnings      []string         `json:"warnings"`
	Clock         Clock            `json:"clock"`
}

// A Window is a period [Started, Ends).
type Window struct {
	Started time.Time `json:"started"`
	Ends    time.Time `json:"ends"`
}

// A Transition is the next change of mode.
type Transition struct {
	State string    `json:"state"`
	At    time.Time `json:"at"`
}

// Clock says which time the evaluation used and why.
type Clock struct {
	Host       time.Time `json:"host"`
	Used       time.Time `json:"used"`
	HighWater  time.Time `json:"high_water"`
	RolledBack bool      `json:"rolled_back"`
}

// LicenseStatus is one installed license in a [Status].
type LicenseStatus struct {
	ID       string           `json:"id"`
	Contract string           `json:"contract"`
	Tier     string           `json:"tier"`
	Kind     string           `json:"kind"`
	Standing string           `json:"standing"`
	Reason   string           `json:"reason"`
	From     *time.Time       `json:"from,omitempty"`
	Until    *time.Time       `json:"until,omitempty"`
	Features []string         `json:"features"`
	Limits   map[string]int64 `json:"limits"`
}

// A Mode is the state at one instant with what it allows: the part of a
// [Status] that a feature check needs.
type Mode struct {
	State    string
	Features []string // sorted; ["*"] for every feature
	Limits   map[string]int64
	Config   bool // configuration changes allowed

	grace    *Window
	ended    time.Time // for grace and restricted: when the previous mode ended
	cause    string    // for restricted: what ended (trial, grace, released, tampered)
	licensed []*License
}

// Allows reports whether feature f may be used.
func (m *Mode) Allows(f string) bool {
	if len(m.Features) == 1 && m.Features[0] == "*" {
		return true
	}
	_, ok := slices.BinarySearch(m.Features, f)
	return ok
}

// AllowsLimit reports whether n is within the limit called name. A limit the
// mode does not grant is 0.
func (m *Mode) AllowsLimit(name string, n int64) bool { return n <= m.Limits[name] }

// view is an Input's licenses sorted into what counts.
type view struct {
	in       *Input
	counting []*License // verified, bound, not released, not superseded
	ever     []*License // verified and bound, released or superseded included
}

func newView(in *Input) *view {
	v := &view{in: in}
	superseded := map[string]bool{}
	for _, e := range in.Licenses {
		if e.License != nil && e.Inactive == "" && !e.Released {
			for _, id := range e.License.Supersedes {
				superseded[id] = true
			}
		}
	}
	for _, e := range in.Licenses {
		if e.License == nil || e.Inactive != "" {
			continue
		}
		v.ever = append(v.ever, e.License)
		if !e.Released && !superseded[e.License.ID] {
			v.counting = append(v.counting, e.License)
		}
	}
	return v
}

// TimeUsed applies the clock rule: unless at is set, the evaluation runs at
// the latest of the host time, the high-water mark, the newest issue time of a
// verified license, and the build floor, so setting the clock back gains
// nothing.
func TimeUsed(in *Input) time.Time {
	if in.At != nil {
		return Normalize(*in.At)
	}
	t := maxTime(in.Host, in.HighWater, in.Floor)
	for _, e := range in.Licenses {
		if e.License != nil && e.Inactive == "" {
			t = maxTime(t, e.License.Issued)
		}
	}
	return Normalize(t)
}

// ModeAt returns the mode at t without the listing of a full [Status]: the
// cheap path a feature check takes.
func ModeAt(in *Input, t time.Time) Mode {
	return newView(in).modeAt(t)
}

func (v *view) licensedAt(t time.Time) (features []string, limits map[string]int64, lics []*License) {
	var bases, addons []*License
	for _, l := range v.counting {
		if !l.From.After(t) && t.Before(l.Until) {
			if l.Kind == KindAddon {
				addons = append(addons, l)
			} else {
				bases = append(bases, l)
			}
		}
	}
	if len(bases) == 0 {
		return nil, nil, nil
	}
	limits = map[string]int64{}
	for _, l := range bases {
		features = append(features, l.Features...)
		for k, n := range l.Limits {
			if n > limits[k] {
				limits[k] = n
			}
		}
	}
	for _, l := range addons {
		features = append(features, l.Features...)
		for k, n := range l.Limits {
			limits[k] += n
		}
	}
	slices.Sort(features)
	return slices.Compact(features), limits, append(bases, addons...)
}

// lastCoverage returns the end G of the latest base coverage that ended at or
// before t, and the grace days that follow it.
func (v *view) lastCoverage(t time.Time) (g time.Time, days int, ok bool) {
	for _, l := range v.counting {
		if l.Kind == KindAddon || l.Until.After(t) {
			continue
		}
		switch {
		case !ok || l.Until.After(g):
			g, days, ok = l.Until, l.GraceDays, true
		case l.Until.Equal(g) && l.GraceDays > days:
			days = l.GraceDays
		}
	}
	if ok && days <= 0 {
		days = v.in.Product.graceDays()
	}
	return g, days, ok
}

func (v *view) trialEnds() time.Time {
	return v.in.TrialStart.Add(time.Duration(v.in.Product.trialDays()) * Day)
}

func (v *view) modeAt(t time.Time) Mode {
	if f, l, lics := v.licensedAt(t); lics != nil {
		return Mode{State: ModeLicensed, Features: f, Limits: l, Config: true, licensed: lics}
	}
	if g, days, ok := v.lastCoverage(t); ok {
		end := g.Add(time.Duration(days) * Day)
		f, l, lics := v.licensedAt(g.Add(-time.Second))
		if f == nil {
			f, l = []string{}, map[string]int64{}
		}
		w := &Window{Started: g, Ends: end}
		if t.Before(end) {
			return Mode{State: ModeGrace, Features: f, Limits: l, Config: true, grace: w, ended: g, licensed: lics}
		}
		return v.restricted(Mode{Features: f, Limits: l, grace: w, ended: end, cause: "grace"})
	}
	everValid := slices.ContainsFunc(v.ever, func(l *License) bool { return l.Kind != KindAddon && !l.From.After(t) })
	trialEnd := v.trialEnds()
	if !everValid {
		if t.Before(trialEnd) {
			return Mode{State: ModeTrial, Features: []string{"*"}, Limits: maps.Clone(v.in.Product.Trial.Limits), Config: true}
		}
		return v.restricted(Mode{Features: []string{"*"}, Limits: maps.Clone(v.in.Product.Trial.Limits), ended: trialEnd, cause: "trial"})
	}
	return v.restricted(Mode{Features: []string{}, Limits: map[string]int64{}, cause: "released"})
}

// restricted turns the mode that came before into restricted mode: the
// configuration is frozen and features keep answering from before, unless
// the product fails closed.
func (v *view) restricted(m Mode) Mode {
	m.State, m.Config = ModeRestricted, false
	if v.in.Product.RestrictedFeatures == "deny" {
		m.Features, m.Limits = []string{}, map[string]int64{}
	}
	if m.Limits == nil {
		m.Limits = map[string]int64{}
	}
	return m
}

// boundaries lists the instants after t where the mode may change.
func (v *view) boundaries(t time.Time) []time.Time {
	var bs []time.Time
	add := func(b time.Time) {
		if b.After(t) {
			bs = append(bs, b)
		}
	}
	add(v.trialEnds())
	for _, l := range v.counting {
		add(l.From)
		add(l.Until)
		days := l.GraceDays
		if days <= 0 {
			days = v.in.Product.graceDays()
		}
		add(l.Until.Add(time.Duration(days) * Day))
	}
	slices.SortFunc(bs, func(a, b time.Time) int { return a.Compare(b) })
	return slices.CompactFunc(bs, func(a, b time.Time) bool { return a.Equal(b) })
}

// Evaluate decides the appliance's mode and builds its full status.
func Evaluate(in *Input) *Status {
	t := TimeUsed(in)
	v := newView(in)
	m := v.modeAt(t)
	s := &Status{
		State:    m.State,
		At:       t,
		Features: m.Features,
		Limits:   m.Limits,
		Trial:    Window{Started: in.TrialStart, Ends: v.trialEnds()},
		Grace:    m.grace,
		Licenses: listLicenses(in, v, t),
		Warnings: append([]string{}, in.Warnings...),
		Clock:    Clock{Host: Normalize(in.Host), Used: t, HighWater: Normalize(in.HighWater)},
	}
	if in.At == nil && in.Host.Before(in.HighWater.Add(-RollbackTolerance)) {
		s.Clock.RolledBack = true
		s.Warnings = append(s.Warnings, fmt.Sprintf("the host clock (%s) is behind the latest time this appliance has seen (%s); evaluating at %s",
			formatTime(in.Host), formatTime(in.HighWater), formatTime(t)))
	}
	if in.Tampered != "" {
		s.State, s.Reason = ModeRestricted, "state tampered: "+in.Tampered+"; install a newly issued license to restore the clock record"
		s.ConfigChanges = false
		if in.Product.RestrictedFeatures == "deny" {
			s.Features, s.Limits = []string{}, map[string]int64{}
		}
		return s
	}
	s.ConfigChanges = m.Config
	for _, b := range v.boundaries(t) {
		if n := v.modeAt(b); n.State != m.State {
			s.Next = &Transition{State: n.State, At: b}
			until := b
			s.Until = &until
			break
		}
	}
	s.Reason = reason(s, &m)
	if m.State == ModeLicensed && s.Until != nil && s.Until.Sub(t) <= ExpiryWarning {
		s.Warnings = append(s.Warnings, fmt.Sprintf("license coverage ends %s, in %s; install a renewal before then",
			formatTime(*s.Until), days(s.Until.Sub(t))))
	}
	return s
}

func reason(s *Status, m *Mode) string {
	switch m.State {
	case ModeLicensed:
		contracts := []string{}
		for _, l := range m.licensed {
			if !slices.Contains(contracts, l.Contract) {
				contracts = append(contracts, l.Contract)
			}
		}
		slices.Sort(contracts)
		r := fmt.Sprintf("licensed under %v", contracts)
		if s.Until != nil {
			r += " until " + formatTime(*s.Until)
		}
		return r
	case ModeTrial:
		return fmt.Sprintf("trial ends %s, in %s; make a license request with `tenure request`", formatTime(s.Trial.Ends), days(s.Trial.Ends.Sub(s.At)))
	case ModeGrace:
		return fmt.Sprintf("license coverage ended %s; grace ends %s; install a renewal", formatTime(m.grace.Started), formatTime(m.grace.Ends))
	}
	switch m.cause {
	case "trial":
		return fmt.Sprintf("trial ended %s; configuration is frozen until a license is installed (make a request with `tenure request`)", formatTime(m.ended))
	case "grace":
		return fmt.Sprintf("grace ended %s; configuration is frozen until a renewal is installed (make a request with `tenure request`)", formatTime(m.ended))
	}
	return "no valid license (released); configuration is frozen until a license is installed (make a request with `tenure request`)"
}

func days(d time.Duration) string {
	n := int((d + Day - 1) / Day)
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}

func listLicenses(in *Input, v *view, t time.Time) []LicenseStatus {
	counting := map[*License]bool{}
	for _, l := range v.counting {
		counting[l] = true
	}
	baseValid := slices.ContainsFunc(v.counting, func(l *License) bool {
		return l.Kind != KindAddon && !l.From.After(t) && t.Before(l.Until)
	})
	out := make([]LicenseStatus, 0, len(in.Licenses))
	for _, e := range in.Licenses {
		ls := LicenseStatus{ID: e.ID, Features: []string{}, Limits: map[string]int64{}}
		if l := e.License; l != nil {
			from, until := l.From, l.Until
			ls.Contract, ls.Tier, ls.Kind, ls.Reason = l.Contract, l.Tier, l.Kind, l.Reason
			ls.From, ls.Until = &from, &until
			ls.Features, ls.Limits = l.Features, l.Limits
		}
		switch {
		case e.License == nil || e.Inactive != "":
			ls.Standing, ls.Reason = StandingInactive, e.Inactive
		case e.Released:
			ls.Standing = StandingReleased
		case !counting[e.License]:
			ls.Standing = StandingSuperseded
		case e.License.From.After(t):
			ls.Standing = StandingPending
		case !t.Before(e.License.Until):
			ls.Standing = StandingExpired
		case e.License.Kind == KindAddon && !baseValid:
			ls.Standing, ls.Reason = StandingInactive, "an addon counts only while a base license is valid"
		default:
			ls.Standing = StandingActive
		}
		out = append(out, ls)
	}
	slices.SortStableFunc(out, func(a, b LicenseStatus) int {
		if a.From != nil && b.From != nil {
			if c := a.From.Compare(*b.From); c != 0 {
				return c
			}
		}
		return compareStrings(a.ID, b.ID)
	})
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
