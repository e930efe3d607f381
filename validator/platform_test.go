package validator

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tenurehq/tenure/shared/engine"
)

// platformJSON runs `platform --json` and reads it, holding it to DESIGN's
// shape exactly: {components: [{name, source, hash}], licenses: [{id,
// matched, needed, missing: [name]}]}, nothing more.
func platformJSON(t *testing.T, cfg *Config, e env, extra map[string]string) *engine.PlatformReport {
	t.Helper()
	vars := e.vars()
	maps.Copy(vars, extra)
	r := expect(t, Run(cfg, Request{Args: []string{"platform", "--json"}, Env: vars}), 0, []string{"platform", "--json"})
	var shape map[string][]map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &shape); err != nil {
		t.Fatalf("platform --json: %v\n%s", err, r.Stdout)
	}
	keys := func(m map[string]any) string { return strings.Join(slices.Sorted(maps.Keys(m)), ",") }
	if got := strings.Join(slices.Sorted(maps.Keys(shape)), ","); got != "components,licenses" {
		t.Errorf("top-level keys %s", got)
	}
	for _, c := range shape["components"] {
		if keys(c) != "hash,name,source" {
			t.Errorf("component keys %s", keys(c))
		}
	}
	for _, l := range shape["licenses"] {
		if keys(l) != "id,matched,missing,needed" {
			t.Errorf("license keys %s", keys(l))
		}
		if _, ok := l["missing"].([]any); !ok {
			t.Errorf("missing is %T, want a list (never null)", l["missing"])
		}
	}
	var rep engine.PlatformReport
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatal(err)
	}
	return &rep
}

func TestPlatformCommand(t *testing.T) {
	is := newIssuer(t, "tenure-issuer-test")
	cfg := testConfig(t, is.trust(t, ""))
	e := env{now: day1, platform: platformA}

	// Before init: the components alone.
	rep := platformJSON(t, cfg, e, nil)
	if len(rep.Components) != 3 || len(rep.Licenses) != 0 {
		t.Fatalf("before init: %+v", rep)
	}
	for _, c := range rep.Components {
		var raw map[string]string
		json.Unmarshal([]byte(platformA), &raw)
		if c.Source != "$TENURE_PLATFORM" || c.Hash != engine.HashComponent("edge", c.Name, raw[c.Name]) {
			t.Errorf("component %+v", c)
		}
	}
	mustContain(t, "platform before init", cli(t, cfg, e, "", 0, "platform").Stdout, "3 components in 3 classes (dmi, mac, machine)", "licenses: none (not initialised)")

	cli(t, cfg, e, "", 0, "init", "--product", "edge", "--version", "0.40.0")
	lrf := cli(t, cfg, e, "", 0, "request").Stdout
	id, sealed := is.license(t, lrf, "IC-1042", "2026-01-05", "2027-01-05", day1, nil)
	cli(t, cfg, e, sealed, 0, "install", "-")

	sources := map[string]string{EnvPlatformSources: `{"machine_id":"/etc/machine-id","mac:eth0":"/sys/class/net/eth0/address"}`}
	rep = platformJSON(t, cfg, e, sources)
	want := []engine.LicenseMatch{{ID: id, Matched: 3, Needed: 2, Missing: []string{}}}
	if !slices.EqualFunc(rep.Licenses, want, eqMatch) {
		t.Errorf("at home: %+v, want %+v", rep.Licenses, want)
	}
	src := map[string]string{}
	for _, c := range rep.Components {
		src[c.Name] = c.Source
	}
	if src["machine_id"] != "/etc/machine-id" || src["mac:eth0"] != "/sys/class/net/eth0/address" || src["dmi_uuid"] != "$TENURE_PLATFORM" {
		t.Errorf("sources %v", src)
	}
	// Sources that do not parse are set aside: the report is for reading.
	if rep := platformJSON(t, cfg, e, map[string]string{EnvPlatformSources: `{"machine_id":`}); rep.Components[0].Source != "$TENURE_PLATFORM" {
		t.Errorf("bad sources: %+v", rep.Components)
	}

	// The NIC replaced: two classes of three, the license holds.
	a2 := env{now: day1, platform: platformA2}
	want = []engine.LicenseMatch{{ID: id, Matched: 2, Needed: 2, Missing: []string{"mac:eth0"}}}
	if rep := platformJSON(t, cfg, a2, nil); !slices.EqualFunc(rep.Licenses, want, eqMatch) {
		t.Errorf("NIC replaced: %+v, want %+v", rep.Licenses, want)
	}
	mustContain(t, "platform, NIC replaced", cli(t, cfg, a2, "", 0, "platform").Stdout,
		id+"  holds: 2 of 3 component classes match, 2 needed", "not here: mac:eth0")

	// Another machine: nothing matches. platform neither starts its trial
	// nor moves the clock: the state is byte for byte what it was.
	b := env{now: "2026-03-01T00:00:00Z", platform: platformB}
	before := dirContents(t, cfg.Dir)
	want = []engine.LicenseMatch{{ID: id, Matched: 0, Needed: 2, Missing: []string{"dmi_uuid", "mac:eth0", "machine_id"}}}
	if rep := platformJSON(t, cfg, b, nil); !slices.EqualFunc(rep.Licenses, want, eqMatch) {
		t.Errorf("another machine: %+v, want %+v", rep.Licenses, want)
	}
	mustContain(t, "platform, another machine", cli(t, cfg, b, "", 0, "platform").Stdout,
		id+"  does not hold: 0 of 3 component classes match, 2 needed")
	if after := dirContents(t, cfg.Dir); !maps.Equal(before, after) {
		t.Errorf("platform wrote to the state")
	}
	s := status(t, cfg, b)
	if l := standing(s, id); l.Standing != engine.StandingInactive || !strings.Contains(l.Reason, "`tenure platform`") {
		t.Errorf("another machine: %+v", l)
	}

	// Fewer than three classes read from the machine: the note says what
	// to do. From the operator's own identity, no note.
	few := env{now: day1, platform: `{"machine_id":"m-aaaa","mac:eth0":"52:54:00:00:00:0a"}`}
	r := Run(cfg, Request{Args: []string{"platform"}, Env: mergeEnv(few.vars(), map[string]string{EnvPlatformSources: `{"machine_id":"/etc/machine-id","mac:eth0":"/sys/class/net/eth0/address"}`})})
	mustContain(t, "platform, two classes", r.Stdout, "fewer than three classes", "TENURE_PLATFORM")
	if out := cli(t, cfg, env{now: day1, platform: `{"instance_id":"i-1"}`}, "", 0, "platform").Stdout; strings.Contains(out, "fewer than three") {
		t.Errorf("an operator's identity got the note:\n%s", out)
	}

	cli(t, cfg, e, "", 2, "platform", "extra")
	mustContain(t, "platform --bogus", cli(t, cfg, e, "", 2, "platform", "--bogus").Stderr, "usage: tenure platform [--json]")
	mustContain(t, "help", cli(t, cfg, e, "", 0, "help").Stdout, "platform [--json]")
}

func eqMatch(a, b engine.LicenseMatch) bool {
	return a.ID == b.ID && a.Matched == b.Matched && a.Needed == b.Needed && slices.Equal(a.Missing, b.Missing)
}

func mergeEnv(a, b map[string]string) map[string]string {
	out := maps.Clone(a)
	maps.Copy(out, b)
	return out
}

// dirContents maps every file under dir to its contents.
func dirContents(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
