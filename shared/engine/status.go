package engine

import (
	"fmt"
	"slices"
	"strings"
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

// ClockAdvice is what to do when the host clock is far behind the latest
// time an appliance has seen: either the host clock is wrong, or the
// appliance once ran with a clock far ahead, which only the vendor's signed
// clock reset undoes.
const ClockAdvice = "If the host clock is right, this appliance once ran with its clock ahead: make a request with `tenure request` and ask the vendor for a clock reset, then install it with `tenure install`; otherwise set the host clock right"

// Evaluate decides the appliance's mode and builds its full status.
func Evaluate(in *Input) *Status {
	t := TimeUsed(in)
	v := newView(in)
	m := v.mode(t)
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
		s.Warnings = append(s.Warnings, fmt.Sprintf("the host clock (%s) is behind the latest time this appliance has seen (%s); evaluating at %s. %s",
			formatTime(in.Host), formatTime(in.HighWater), formatTime(t), ClockAdvice))
	}
	s.ConfigChanges = m.Config
	damaged := v.damagedIDs(t)
	for _, e := range in.Licenses {
		if e.Missing != "" && !slices.Contains(damaged, e.ID) {
			s.Warnings = append(s.Warnings, fmt.Sprintf("the file of license %s is missing or altered (%s); it is no longer active or pending, so nothing is lost; install the file again to clear this warning", e.ID, e.Missing))
		}
	}
	switch m.cause {
	case "broken":
		s.Reason = "state damaged: " + in.Broken + "; restore a backup with `tenure restore`, or move the state directory away and ask the vendor to reallocate this appliance's seat"
		return s
	case "tampered":
		s.Reason = "state tampered: " + in.Tampered + "; the clock is not known: make a request with `tenure request` and ask the vendor for a clock reset, then install it with `tenure install`"
		return s
	}
	for _, b := range v.boundaries(t) {
		if n := v.modeAt(b); n.State != m.State {
			s.Next = &Transition{State: n.State, At: b}
			until := b
			s.Until = &until
			break
		}
	}
	s.Reason = reason(s, &m)
	if s.Clock.RolledBack && m.State != ModeLicensed && m.State != ModeTrial {
		s.Reason += "; the host clock is behind the latest time this appliance has seen. " + ClockAdvice
	}
	if m.damaged != "" {
		s.Reason = "state damaged: " + m.damaged + "; until then configuration is frozen (" + s.Reason + ")"
	}
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
		r := "licensed under " + strings.Join(contracts, ", ")
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
