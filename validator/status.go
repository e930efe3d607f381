package validator

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tenurehq/tenure/shared/engine"
)

func (c *call) status(args []string) int {
	fs := c.flags("status")
	asJSON := fs.Bool("json", false, "")
	atFlag := fs.String("at", "", "")
	if err := fs.Parse(args); err != nil {
		return c.usageError("status", err)
	}
	if fs.NArg() > 0 {
		return c.usageError("status", fmt.Errorf("unexpected %q", fs.Arg(0)))
	}
	s, err := c.initialised()
	if err != nil {
		return c.fail(2, "%v", err)
	}
	var at *time.Time
	if *atFlag != "" {
		t, err := engine.ParseInstant(*atFlag)
		if err != nil {
			return c.fail(2, "--at: %v", err)
		}
		at, c.readOnly = &t, true
	} else {
		c.answerTrial(s)
	}
	st := engine.Evaluate(c.input(s, at))
	if *asJSON {
		j, err := json.MarshalIndent(st, "", "  ")
		if err != nil {
			return c.fail(2, "failed to encode status: %v", err)
		}
		c.out.Write(j)
		c.out.WriteString("\n")
		return 0
	}
	c.printStatus(s, st)
	return 0
}

func (c *call) printStatus(s *snapshot, st *engine.Status) {
	tf := func(t time.Time) string { return t.Format(engine.TimeFormat) }
	c.printf("appliance:  %s (%s %s)\n", s.app.ID, s.app.Product, c.version)
	c.printf("state:      %s\n", st.State)
	c.printf("reason:     %s\n", st.Reason)
	if st.Until != nil {
		c.printf("until:      %s\n", tf(*st.Until))
	}
	if st.Next != nil {
		c.printf("next:       %s at %s\n", st.Next.State, tf(st.Next.At))
	}
	features := strings.Join(st.Features, ", ")
	if len(st.Features) == 1 && st.Features[0] == "*" {
		features = "all"
	} else if features == "" {
		features = "none"
	}
	c.printf("features:   %s\n", features)
	var limits []string
	for _, k := range slices.Sorted(maps.Keys(st.Limits)) {
		limits = append(limits, fmt.Sprintf("%s=%d", k, st.Limits[k]))
	}
	if len(limits) == 0 {
		limits = []string{"none"}
	}
	c.printf("limits:     %s\n", strings.Join(limits, ", "))
	c.printf("config:     %s\n", map[bool]string{true: "changes allowed", false: "frozen"}[st.ConfigChanges])
	c.printf("trial:      %s to %s\n", tf(st.Trial.Started), tf(st.Trial.Ends))
	if st.Grace != nil {
		c.printf("grace:      %s to %s\n", tf(st.Grace.Started), tf(st.Grace.Ends))
	}
	c.printf("clock:      evaluated at %s (host %s, high-water %s)\n", tf(st.Clock.Used), tf(st.Clock.Host), tf(st.Clock.HighWater))
	if len(st.Licenses) > 0 {
		c.printf("licenses:\n")
		for _, l := range st.Licenses {
			window := ""
			if l.From != nil && l.Until != nil {
				window = fmt.Sprintf("  %s to %s", tf(*l.From), tf(*l.Until))
			}
			c.printf("  %s  %-10s %s %s %s%s\n", l.ID, l.Standing, l.Contract, l.Tier, l.Kind, window)
			if l.Standing == engine.StandingInactive {
				c.printf("      %s\n", l.Reason)
			}
		}
	}
	if len(st.Warnings) > 0 {
		c.printf("warnings:\n")
		for _, w := range st.Warnings {
			c.printf("  %s\n", w)
		}
	}
}
