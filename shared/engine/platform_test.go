package engine_test

import (
	"strings"
	"testing"

	"github.com/tenurehq/tenure/shared/engine"
)

func TestHashComponent(t *testing.T) {
	h := engine.HashComponent("edge", "machine_id", "m1")
	if len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
		t.Fatalf("not lowercase hex SHA-256: %q", h)
	}
	// The separators keep (product, name, value) apart: shifting a character
	// from one field to the next gives another hash.
	for _, other := range [][3]string{{"edge", "machine_idm", "1"}, {"edgem", "achine_id", "m1"}, {"core", "machine_id", "m1"}, {"edge", "machine_id", "m2"}} {
		if engine.HashComponent(other[0], other[1], other[2]) == h {
			t.Errorf("%q hashes like (edge, machine_id, m1)", other)
		}
	}
}

func TestHashPlatform(t *testing.T) {
	c := engine.HashPlatform("edge", map[string]string{"machine_id": " m1\n", "dmi_uuid": "", "mac:eth0": "  "})
	if len(c) != 1 || c["machine_id"] != engine.HashComponent("edge", "machine_id", "m1") {
		t.Fatalf("empty values must be left out and values trimmed: %v", c)
	}
}

func TestMatchPlatform(t *testing.T) {
	lic := func(n int) engine.Components {
		c := engine.Components{}
		for i := range n {
			c[string(rune('a'+i))] = engine.HashComponent("edge", string(rune('a'+i)), "v")
		}
		return c
	}
	// current has the first k components of lic equal, the rest changed.
	current := func(l engine.Components, k int) engine.Components {
		c := engine.Components{}
		i := 0
		for _, name := range []string{"a", "b", "c", "d", "e", "f"} {
			if h, ok := l[name]; ok {
				if i < k {
					c[name] = h
				} else {
					c[name] = "changed"
				}
				i++
			}
		}
		return c
	}
	for _, c := range []struct {
		of, matched, minMatch, needed int
		ok                            bool
	}{
		{3, 3, 0, 2, true},
		{3, 2, 0, 2, true}, // a replaced NIC
		{3, 1, 0, 2, false},
		{3, 0, 0, 2, false},
		{1, 1, 0, 1, true},
		{1, 0, 0, 1, false},
		{2, 1, 0, 2, false}, // a majority of two is both
		{4, 3, 0, 3, true},
		{4, 2, 0, 3, false},
		{5, 3, 0, 3, true},
		{6, 3, 0, 4, false},
		{3, 1, 1, 1, true},  // the product asks for one
		{3, 2, 3, 3, false}, // the product asks for all
		{2, 2, 5, 2, true},  // never more than the license has
	} {
		l := lic(c.of)
		m := engine.MatchPlatform(l, current(l, c.matched), c.minMatch)
		if m.OK() != c.ok || m.Matched != c.matched || m.Needed != c.needed || m.Of != c.of {
			t.Errorf("%d of %d, min_match %d: got %+v ok=%v, want needed %d ok=%v", c.matched, c.of, c.minMatch, m, m.OK(), c.needed, c.ok)
		}
	}
	if m := engine.MatchPlatform(engine.Components{}, lic(3), 0); m.OK() {
		t.Errorf("a license with no components must not match: %+v", m)
	}
	// Extra components on the platform do not count against it.
	l := lic(3)
	cur := current(l, 3)
	cur["mac:eth1"] = "new"
	if m := engine.MatchPlatform(l, cur, 0); !m.OK() || m.Matched != 3 {
		t.Errorf("extra platform component: %+v", m)
	}
}
