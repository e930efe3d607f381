package validator

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/tenurehq/tenure/shared/abi"
	"github.com/tenurehq/tenure/shared/engine"
)

// EnvPlatformSources is where the host says it read each platform
// component: a JSON object of name to source, read by `platform` alone.
const EnvPlatformSources = abi.EnvPlatformSources

// sourceUnknown is the source of a component the host named no source for:
// all the module knows is that it came in the platform variable.
const sourceUnknown = "$" + abi.EnvPlatform

func init() {
	commands["platform"] = command{run: (*call).platform}
}

// platform shows the components the host supplies and how each installed
// license matches them, so an operator can see why a binding holds or
// fails. It writes nothing: no trial starts, the clock mark stays.
func (c *call) platform(args []string) int {
	fs := c.flags("platform")
	asJSON := fs.Bool("json", false, "")
	if err := fs.Parse(args); err != nil {
		return c.usageError("platform", err)
	}
	if fs.NArg() > 0 {
		return c.usageError("platform", fmt.Errorf("unexpected %q", fs.Arg(0)))
	}
	c.readOnly = true
	r := c.platformReport()
	if *asJSON {
		j, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return c.fail(2, "failed to encode the platform report: %v", err)
		}
		c.out.Write(j)
		c.out.WriteString("\n")
		return 0
	}
	c.printPlatform(r)
	return 0
}

func (c *call) platformReport() *engine.PlatformReport {
	var sources map[string]string
	if s := c.req.Env[EnvPlatformSources]; s != "" {
		// A host that sends no sources, or sources that do not parse,
		// gets components shown as from the platform variable: the
		// report is for reading, and nothing is decided by it.
		_ = json.Unmarshal([]byte(s), &sources)
	}
	r := &engine.PlatformReport{Components: []engine.ReportedComponent{}, Licenses: []engine.LicenseMatch{}}
	for _, name := range slices.Sorted(maps.Keys(c.plat)) {
		src := sources[name]
		if src == "" {
			src = sourceUnknown
		}
		r.Components = append(r.Components, engine.ReportedComponent{Name: name, Source: src, Hash: c.plat[name]})
	}
	s := c.a.snap
	if s == nil || s.app == nil {
		return r
	}
	minMatch := c.a.cfg.Product.Binding.MinMatch
	for _, l := range s.licenses {
		if l.lic == nil {
			continue // not opened: its components are not known
		}
		m := engine.MatchPlatform(l.lic.Platform, c.plat, minMatch)
		r.Licenses = append(r.Licenses, engine.LicenseMatch{ID: l.id, Matched: m.Matched, Needed: m.Needed,
			Missing: engine.MissingComponents(l.lic.Platform, c.plat)})
	}
	return r
}

// printPlatform writes the report for a person: the components by class,
// then each license's match.
func (c *call) printPlatform(r *engine.PlatformReport) {
	classes := []string{}
	fromMachine := false
	width := 0
	for _, p := range r.Components {
		if cl := engine.ComponentClass(p.Name); !slices.Contains(classes, cl) {
			classes = append(classes, cl)
		}
		fromMachine = fromMachine || strings.HasPrefix(p.Source, "/")
		width = max(width, len(p.Name))
	}
	slices.Sort(classes)
	c.printf("platform: %d components in %d classes (%s)\n", len(r.Components), len(classes), strings.Join(classes, ", "))
	for _, cl := range classes {
		for _, p := range r.Components {
			if engine.ComponentClass(p.Name) == cl {
				c.printf("  %-8s %-*s  %s…  %s\n", cl, width, p.Name, p.Hash[:16], p.Source)
			}
		}
	}
	if len(classes) < 3 && fromMachine {
		c.printf("note: fewer than three classes can be read here, so a replaced NIC, a moved disk and a clone\n" +
			"  look alike; give this appliance a stable identity with --platform FILE or TENURE_PLATFORM\n" +
			"  before requesting its license (see the README, \"Platform binding\")\n")
	}
	s := c.a.snap
	if s == nil || s.app == nil {
		c.printf("licenses: none (not initialised)\n")
		return
	}
	if len(r.Licenses) == 0 && len(s.licenses) == 0 {
		c.printf("licenses: none installed\n")
		return
	}
	c.printf("licenses:\n")
	minMatch := c.a.cfg.Product.Binding.MinMatch
	for _, l := range s.licenses {
		if l.lic == nil {
			why := l.missing
			if l.err != nil {
				why = l.err.Error()
			}
			c.printf("  %s  cannot be read: %s\n", l.id, why)
			continue
		}
		m := engine.MatchPlatform(l.lic.Platform, c.plat, minMatch)
		verdict := "holds"
		if !m.OK() {
			verdict = "does not hold"
		}
		c.printf("  %s  %s: %s\n", l.id, verdict, m)
		if missing := engine.MissingComponents(l.lic.Platform, c.plat); len(missing) > 0 {
			c.printf("    not here: %s\n", strings.Join(missing, ", "))
		}
	}
}
