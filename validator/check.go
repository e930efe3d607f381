package validator

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tenurehq/tenure/shared/abi"
	"github.com/tenurehq/tenure/shared/engine"
)

// check answers one question about what the appliance may do now. It is the
// path a warm reactor runs most: no listing, no crypto, no writes but the
// hourly high-water mark, and no evaluation while the cached mode holds.
func (c *call) check(args []string) int {
	limit, config, rest, ok := checkWords(args)
	if !ok {
		fs := c.flags("check")
		l := fs.String("limit", "", "")
		cc := fs.Bool("config-change", false, "")
		if err := fs.Parse(args); err != nil {
			return c.usageError("check", err)
		}
		limit, config, rest = *l, *cc, fs.Args()
	}
	s, err := c.initialised()
	if err != nil {
		return c.fail(2, "%v", err)
	}
	c.answerTrial(s)
	// The clock rule is read once for the warm path: in wasm each reading
	// of it costs as much as the rest of the answer.
	now := c.evalTime()
	if code, out, at, ok := c.a.memo.answer(c, s, args, now); ok {
		c.reply, c.replied = out, true
		c.countCheck(s, limit, config, rest, code, now)
		c.holdable = code <= 1 && at.Equal(c.host)
		return code
	}
	in := &c.a.checkIn
	c.fillInput(in, s, nil)
	code := c.decide(s, in, limit, config, rest)
	if ok && code <= 1 && c.errOut.Len() == 0 {
		c.a.memo.keep(c, s, in, args, code, c.out.String())
	}
	c.countCheck(s, limit, config, rest, code, c.evalTime())
	c.holdable = code <= 1 && engine.TimeUsed(in).Equal(c.host)
	return code
}

// hold says, for a host that keeps answers (abi.EnvHold), how long the
// answer of the check just made holds: while the generation is the one the
// state has now, within the span the cached mode holds for, the same UTC
// day, before the hourly write of the high-water mark is due, and at most a
// second, so the module still sees the clock and the state every second.
// Only an answer given at the host's own time holds: one the clock rule
// raised (a clock set back) is asked again. It is nil for any other call.
func (c *call) hold() *abi.Hold {
	a, s := c.a, c.a.snap
	if !c.holdable || c.changed || c.errOut.Len() > 0 || s == nil || s.gen == "" || s.mode == nil ||
		c.req.Vars.Now != "" || c.req.Vars.Hold != "1" {
		return nil
	}
	until := c.host.Add(time.Second)
	if mu := s.mode.until; !mu.IsZero() && mu.Before(until) {
		until = mu
	}
	if due := s.facts.HighWater.Add(time.Hour); due.Before(until) {
		until = due
	}
	if midnight := c.host.Truncate(engine.Day).Add(engine.Day); midnight.Before(until) {
		until = midnight
	}
	// Nor past the module's next look at the state itself (refresh: the
	// files held to what was read, the generation file opened again).
	for _, next := range []time.Time{a.checked.Add(time.Second), a.genOpened.Add(time.Second)} {
		if !next.IsZero() && next.Before(until) {
			until = next
		}
	}
	if !until.After(c.host) {
		return nil
	}
	a.held = abi.Hold{Gen: s.gen, From: c.host.UnixNano(), Until: until.UnixNano()}
	return &a.held
}

// countCheck records a feature or limit check in the usage counters.
// now is the time the clock rule gives (evalTime).
func (c *call) countCheck(s *snapshot, limit string, config bool, rest []string, code int, now time.Time) {
	if !config && len(rest) == 1 {
		c.count(s, limit, rest[0], code, now)
	}
}

// decide answers a check at the time the clock rule gives.
func (c *call) decide(s *snapshot, in *engine.Input, limit string, config bool, rest []string) int {
	m := c.a.modeAt(s, in, engine.TimeUsed(in))
	verdict := func(ok bool, what, name string) int {
		c.out.Grow(len(what) + len(name) + len(m.State) + 48)
		code := 0
		if ok {
			c.out.WriteString("allowed: ")
		} else {
			c.out.WriteString("denied: ")
			code = 1
		}
		c.out.WriteString(what)
		c.out.WriteString(name)
		c.out.WriteString(" (")
		c.out.WriteString(m.State)
		if ok {
			c.out.WriteString(")\n")
		} else {
			c.out.WriteString("); see `tenure status`\n")
		}
		return code
	}
	switch {
	case config && limit == "" && len(rest) == 0:
		return verdict(m.Config, "configuration change", "")
	case limit != "" && !config && len(rest) == 1:
		n, err := strconv.ParseInt(rest[0], 10, 64)
		if err != nil || n < 0 {
			return c.usageError("check", fmt.Errorf("limit count %q is not a whole number", rest[0]))
		}
		return verdict(m.AllowsLimit(limit, n), limit, " "+strconv.FormatInt(n, 10)+" of "+strconv.FormatInt(m.Limits[limit], 10))
	case limit == "" && !config && len(rest) == 1:
		f := rest[0]
		if !c.a.cfg.Product.HasFeature(f) {
			return c.fail(2, "feature %q is not in product %s's catalog (%s)", f, c.a.cfg.Product.ID, strings.Join(c.a.cfg.Product.Features, ", "))
		}
		return verdict(m.Allows(f), "feature ", f)
	}
	return c.usageError("check", errors.New("ask about one feature, one limit or a configuration change"))
}

// checkWords reads the forms of check's words hosts send on every check
// (FEATURE, --limit NAME N, --config-change) exactly as the flag package
// reads them, without building a flag set; ok is false for any other form,
// which the flag package then reads.
func checkWords(args []string) (limit string, config bool, rest []string, ok bool) {
	plain := func(w string) bool { return w != "" && w[0] != '-' }
	switch {
	case len(args) == 1 && plain(args[0]):
		return "", false, args, true
	case len(args) == 1 && (args[0] == "--config-change" || args[0] == "-config-change"):
		return "", true, nil, true
	case len(args) == 3 && (args[0] == "--limit" || args[0] == "-limit") && plain(args[2]):
		return args[1], false, args[2:], true
	}
	return "", false, nil, false
}
