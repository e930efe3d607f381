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
	if s.mode != nil {
		a.cur.crossed = true
	}
	m, until := engine.ModeSpan(in, t)
	s.mode = &modeCache{mode: m, from: t, until: until}
	return s.mode.mode
}

// checkMemo keeps the answers of the last checks: the exit code and the
// output of each question asked, for one snapshot, platform, version and
// cached mode. An answer depends on nothing else (the time only through
// the mode, the state only through the snapshot), so while the time the
// clock rule gives stays in the span the cached mode holds for, a check
// asked again prints the same answer without building the engine's input.
type checkMemo struct {
	snap     *snapshot
	mode     *modeCache
	platKey  string
	version  string
	issued   time.Time // the newest issue time of the active licenses
	answers  []checkAnswer
	replaced int // the next answer to give way when the memo is full
}

type checkAnswer struct {
	args []string
	code int
	out  string
}

// maxAnswers bounds the questions a memo keeps.
const maxAnswers = 16

// current reports whether the memo was made for c's snapshot s, platform
// and version, and for the mode s caches now.
func (m *checkMemo) current(c *call, s *snapshot) bool {
	return m.snap == s && m.mode != nil && s.mode == m.mode && m.platKey == c.platKey && m.version == c.version
}

// answer returns what check printed for args, when the memo holds it and it
// still holds at the time engine.TimeUsed gives for c, and that time (at):
// now, the time the clock rule gives (evalTime), raised to the licenses'
// newest issue time.
func (m *checkMemo) answer(c *call, s *snapshot, args []string, now time.Time) (code int, out string, at time.Time, ok bool) {
	if !m.current(c, s) {
		return 0, "", at, false
	}
	at = laterOf(now, m.issued) // engine.ClockAt with the licenses' issue time
	if at.Before(m.mode.from) || !m.mode.until.IsZero() && !at.Before(m.mode.until) {
		return 0, "", at, false
	}
	for i := range m.answers {
		if a := &m.answers[i]; equalWords(a.args, args) {
			return a.code, a.out, at, true
		}
	}
	return 0, "", at, false
}

// keep remembers what check printed for args, evaluated on in.
func (m *checkMemo) keep(c *call, s *snapshot, in *engine.Input, args []string, code int, out string) {
	if !m.current(c, s) {
		clear(m.answers)
		*m = checkMemo{snap: s, mode: s.mode, platKey: c.platKey, version: c.version, issued: engine.Normalize(engine.NewestIssued(in.Licenses)), answers: m.answers[:0]}
	}
	a := checkAnswer{args: append([]string(nil), args...), code: code, out: out}
	if len(m.answers) < maxAnswers {
		m.answers = append(m.answers, a)
		return
	}
	m.answers[m.replaced] = a
	m.replaced = (m.replaced + 1) % maxAnswers
}

func equalWords(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
