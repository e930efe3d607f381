package engine

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// An Entry is one installed license as [Evaluate] sees it.
type Entry struct {
	ID       string
	License  *License // nil when the file could not be opened at all
	Inactive string   // why it does not count (verification or binding); "" when it does
	Released bool
	// ReleasedAt is when it was released. A license released before its
	// from never became valid, so it does not end a trial. Zero: unknown,
	// taken as valid from its from on.
	ReleasedAt time.Time
	// Missing, when non-empty, says why the license file no longer holds
	// what was installed (deleted, emptied, altered, replaced). License is
	// then what the appliance's history recorded at install, and still
	// counts: a license file's absence proves nothing. While such a license
	// is active or pending the state is damaged (configuration frozen);
	// once it is expired, superseded or released it is a warning only.
	Missing string
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

	// Broken, when non-empty, says why the state's history cannot be read:
	// nothing is proven, so the appliance is restricted with no feature and
	// no limit, whatever the licenses say.
	Broken string
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
	cause    string    // for restricted: what ended (trial, grace, released, tampered, broken)
	damaged  string    // why the state is damaged at this instant; "" when it is not
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

// Licenses returns the licenses the mode stands on: in licensed mode those
// valid at its instant, the base licenses first, then the addons.
func (m *Mode) Licenses() []*License { return m.licensed }

// AllowsLimit reports whether n is within the limit called name. A limit the
// mode does not grant is 0.
func (m *Mode) AllowsLimit(name string, n int64) bool { return n <= m.Limits[name] }

// view is an Input's licenses sorted into what counts.
type view struct {
	in       *Input
	counting []*License // verified, bound, not released, not superseded
	// validFrom holds, for each base license that is or was valid at some
	// instant (released or superseded ones included, as long as they
	// counted for a while), the instant it first became valid: from then on
	// the platform has been licensed, and its trial is over for good.
	validFrom []time.Time
}

func newView(in *Input) *view {
	v := &view{in: in}
	superseded := map[string]bool{}
	for _, e := range in.Licenses {
		// A license issued in the future does not count, but what it
		// supersedes the issuer did replace: setting it aside must not
		// bring back what a downgrade took away.
		if e.License != nil && (e.Inactive == "" || e.Inactive == IssuedInFuture) && !e.Released {
			for _, id := range e.License.Supersedes {
				superseded[id] = true
			}
		}
	}
	for _, e := range in.Licenses {
		l := e.License
		if l == nil || e.Inactive != "" {
			continue
		}
		if !e.Released && !superseded[l.ID] {
			v.counting = append(v.counting, l)
		}
		if l.Kind != KindAddon && (!e.Released || e.ReleasedAt.IsZero() || l.From.Before(e.ReleasedAt)) {
			v.validFrom = append(v.validFrom, l.From)
		}
	}
	return v
}

// everLicensed reports whether a base license had become valid at or
// before t.
func (v *view) everLicensed(t time.Time) bool {
	return slices.ContainsFunc(v.validFrom, func(from time.Time) bool { return !from.After(t) })
}

// ModeAt returns the mode at t without the listing of a full [Status]: the
// cheap path a feature check takes.
func ModeAt(in *Input, t time.Time) Mode {
	m, _ := ModeSpan(in, t)
	return m
}

// ModeSpan returns the mode at t and the first instant after t at which it
// may change (zero: never, on these inputs). A mode is a step function of
// time that can only change at an instant the inputs name (a license's from
// or until, the end of a grace period, the end of the trial), so the mode
// returned holds for every instant in [t, until) and a caller may keep it
// that long.
func ModeSpan(in *Input, t time.Time) (m Mode, until time.Time) {
	v := newView(in)
	if bs := v.boundaries(t); len(bs) > 0 {
		until = bs[0]
	}
	return v.mode(t), until
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
		switch d := v.graceDays(l); {
		case !ok || l.Until.After(g):
			g, days, ok = l.Until, d, true
		case l.Until.Equal(g) && d > days:
			days = d
		}
	}
	return g, days, ok
}

func (v *view) trialEnds() time.Time {
	return v.in.TrialStart.Add(time.Duration(v.in.Product.TrialDays()) * Day)
}

// graceDays is the grace period after l: its own grace_days, else the
// product's.
func (v *view) graceDays(l *License) int {
	if l.GraceDays > 0 {
		return l.GraceDays
	}
	return v.in.Product.GracePeriodDays()
}

// mode is modeAt with the tampered-state override: a clock record that
// failed its check freezes the configuration and, for a product that fails
// closed, every feature, whatever the licenses say.
func (v *view) mode(t time.Time) Mode {
	if v.in.Broken != "" {
		return Mode{State: ModeRestricted, Features: []string{}, Limits: map[string]int64{}, cause: "broken"}
	}
	m := v.modeAt(t)
	if m.damaged = v.damaged(t); m.damaged != "" {
		m.Config = false
	}
	if v.in.Tampered != "" {
		m.State, m.Config, m.cause = ModeRestricted, false, "tampered"
		if v.in.Product.RestrictedFeatures == "deny" {
			m.Features, m.Limits = []string{}, map[string]int64{}
		}
	}
	return m
}

// damagedIDs lists the licenses whose file is missing or altered while
// they are active or pending at t (counting, and t before their until).
func (v *view) damagedIDs(t time.Time) []string {
	var ids []string
	for _, e := range v.in.Licenses {
		if e.Missing != "" && e.License != nil && e.Inactive == "" && slices.Contains(v.counting, e.License) && t.Before(e.License.Until) {
			ids = append(ids, e.ID)
		}
	}
	return ids
}

// damaged says why the state is damaged at t, or "".
func (v *view) damaged(t time.Time) string {
	ids := v.damagedIDs(t)
	if len(ids) == 0 {
		return ""
	}
	return fmt.Sprintf("the file of license %s is missing or altered; install that file again, or ask the vendor for a reissue", strings.Join(ids, ", "))
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
	trialEnd := v.trialEnds()
	if !v.everLicensed(t) {
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
	v.candidates(func(b time.Time) {
		if b.After(t) {
			bs = append(bs, b)
		}
	})
	slices.SortFunc(bs, func(a, b time.Time) int { return a.Compare(b) })
	return slices.CompactFunc(bs, func(a, b time.Time) bool { return a.Equal(b) })
}

// candidates calls add with every instant the inputs name at which the mode
// may change.
func (v *view) candidates(add func(time.Time)) {
	add(v.trialEnds())
	for _, l := range v.counting {
		add(l.From)
		add(l.Until)
		add(l.Until.Add(time.Duration(v.graceDays(l)) * Day))
	}
	// A license that counted for a while ends the trial at its from, even
	// once released or superseded.
	for _, from := range v.validFrom {
		add(from)
	}
}

// LastChange returns the latest instant at or before t at which the mode
// may have changed (zero when none): the start of the span of t. An
// appliance that records having passed it can never be evaluated before
// it again, whatever happens to the record of its clock.
func LastChange(in *Input, t time.Time) time.Time {
	var last time.Time
	newView(in).candidates(func(b time.Time) {
		if !b.After(t) && b.After(last) {
			last = b
		}
	})
	return last
}
