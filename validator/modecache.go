package validator

import (
	"time"

	"github.com/tenurehq/tenure/shared/engine"
)

// modeCache is the check path's evaluation, kept with the entries of one
// snapshot, platform and version, and dropped with them. A mode is a step function of time: it can only change at an
// instant one of the inputs names (a license's from or until, the end of a
// grace period, the end of the trial), so the mode found at from holds
// until the next such instant, and a warm check between the two answers
// without evaluating.
type modeCache struct {
	mode  engine.Mode
	from  time.Time
	until time.Time // zero: the mode never changes again
}

// modeAt returns engine.ModeAt(in, t), from the snapshot's cache when t lies
// in the span the cached mode holds for. in must be the one call.input just
// built for s: building it fetched the entries, which drops a cached mode
// made for other entries. The mode returned is shared; it is not to be
// changed in place.
func (a *Appliance) modeAt(s *snapshot, in *engine.Input, t time.Time) engine.Mode {
	if mc := s.mode; mc != nil && !t.Before(mc.from) && (mc.until.IsZero() || t.Before(mc.until)) {
		return mc.mode
	}
	s.mode = &modeCache{mode: engine.ModeAt(in, t), from: t, until: nextChange(in, t)}
	return s.mode.mode
}

// nextChange returns the first instant after t at which the mode may change,
// or the zero time when none of the inputs names one. It errs on the side of
// too many instants: each costs one more evaluation, a missed one a wrong
// answer.
func nextChange(in *engine.Input, t time.Time) time.Time {
	var next time.Time
	add := func(b time.Time) {
		if b.After(t) && (next.IsZero() || b.Before(next)) {
			next = b
		}
	}
	trial := in.Product.Trial.Days
	if trial <= 0 {
		trial = 30
	}
	add(in.TrialStart.Add(time.Duration(trial) * engine.Day))
	productGrace := in.Product.GraceDays
	if productGrace <= 0 {
		productGrace = 90
	}
	for _, e := range in.Licenses {
		l := e.License
		if l == nil || e.Inactive != "" {
			continue
		}
		// Released and superseded licenses count too: whether a license was
		// ever valid changes at its from.
		add(l.From)
		add(l.Until)
		add(l.Until.Add(time.Duration(productGrace) * engine.Day))
		if l.GraceDays > 0 {
			add(l.Until.Add(time.Duration(l.GraceDays) * engine.Day))
		}
	}
	return next
}
