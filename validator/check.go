package validator

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

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
	if code, out, ok := c.a.memo.answer(c, s, args); ok {
		c.reply, c.replied = out, true
		return code
	}
	in := &c.a.checkIn
	c.fillInput(in, s, nil)
	code := c.decide(s, in, limit, config, rest)
	if ok && code <= 1 && c.errOut.Len() == 0 {
		c.a.memo.keep(c, s, in, args, code, c.out.String())
	}
	return code
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
