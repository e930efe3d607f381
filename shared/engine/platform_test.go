package engine_test

import (
	"slices"
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

func TestComponentClass(t *testing.T) {
	for name, want := range map[string]string{
		"machine_id": "machine", "dmi_uuid": "dmi", "mac:eth0": "mac", "mac:52:54:00:12:34:56": "mac",
		"disk:serial": "disk", "disk:wwid": "disk", "instance_id": "instance", "instance": "instance",
		"k8s_pod:uid": "k8s", "a.b-c": "a.b-c", "": "",
	} {
		if got := engine.ComponentClass(name); got != want {
			t.Errorf("ComponentClass(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestMatchPlatform: a class matches when any of its components does; the
// default needs every class but one, and at least two.
func TestMatchPlatform(t *testing.T) {
	// A platform: name=value pairs. The license is hashed from lic, the
	// platform from cur.
	hash := func(s string) engine.Components {
		raw := map[string]string{}
		for _, kv := range strings.Fields(s) {
			k, v, _ := strings.Cut(kv, "=")
			raw[k] = v
		}
		return engine.HashPlatform("edge", raw)
	}
	const (
		vm   = "machine_id=m1 dmi_uuid=u1 mac:52:54:00:00:00:01=52:54:00:00:00:01 mac:eth0=52:54:00:00:00:01"
		bare = "machine_id=m1 dmi_uuid=u1 mac:aa:00:00:00:00:01=aa:00:00:00:00:01 mac:eno1=aa:00:00:00:00:01 " +
			"mac:aa:00:00:00:00:02=aa:00:00:00:00:02 mac:eno2=aa:00:00:00:00:02 disk:serial=s1 disk:wwid=w1"
	)
	for _, c := range []struct {
		what                string
		lic, cur            string
		minMatch            int
		matched, of, needed int
		ok                  bool
	}{
		{"the same VM", vm, vm, 0, 3, 3, 2, true},
		{"NIC renamed", vm, "machine_id=m1 dmi_uuid=u1 mac:52:54:00:00:00:01=52:54:00:00:00:01 mac:ens3=52:54:00:00:00:01", 0, 3, 3, 2, true},
		{"NIC replaced", vm, "machine_id=m1 dmi_uuid=u1 mac:52:54:00:00:00:02=52:54:00:00:00:02 mac:eth0=52:54:00:00:00:02", 0, 2, 3, 2, true},
		{"no NIC (a private netns)", vm, "machine_id=m1 dmi_uuid=u1", 0, 2, 3, 2, true},
		{"a clone", vm, "machine_id=m1 dmi_uuid=u2 mac:52:54:00:00:00:02=52:54:00:00:00:02 mac:eth0=52:54:00:00:00:02", 0, 1, 3, 2, false},
		{"another machine", vm, "machine_id=m2 dmi_uuid=u2 mac:eth0=52:54:00:00:00:09", 0, 0, 3, 2, false},
		{"bare metal, one NIC replaced", bare, "machine_id=m1 dmi_uuid=u1 mac:aa:00:00:00:00:01=aa:00:00:00:00:01 mac:eno1=aa:00:00:00:00:01 " +
			"mac:bb:00:00:00:00:02=bb:00:00:00:00:02 mac:eno2=bb:00:00:00:00:02 disk:serial=s1 disk:wwid=w1", 0, 4, 4, 3, true},
		{"bare metal, both NICs replaced", bare, "machine_id=m1 dmi_uuid=u1 mac:bb:00:00:00:00:01=bb:00:00:00:00:01 disk:serial=s1 disk:wwid=w1", 0, 3, 4, 3, true},
		{"bare metal, the disk replaced", bare, "machine_id=m1 dmi_uuid=u1 mac:aa:00:00:00:00:01=aa:00:00:00:00:01 disk:serial=s2 disk:wwid=w2", 0, 3, 4, 3, true},
		{"bare metal, the disk's wwid read for the first time", bare, "machine_id=m1 dmi_uuid=u2 mac:aa:00:00:00:00:01=aa:00:00:00:00:01 disk:serial=s1", 0, 3, 4, 3, true},
		{"bare metal, the disk moved into another machine", bare, "machine_id=m2 dmi_uuid=u2 mac:cc:00:00:00:00:01=cc:00:00:00:00:01 disk:serial=s1 disk:wwid=w1", 0, 1, 4, 3, false},
		{"bare metal, both disks moved into another machine", bare, "machine_id=m1 dmi_uuid=u2 mac:cc:00:00:00:00:01=cc:00:00:00:00:01 disk:serial=s1 disk:wwid=w1", 0, 2, 4, 3, false},
		{"first wave, NIC replaced", "machine_id=m1 dmi_uuid=u1 mac:eth0=a", "machine_id=m1 dmi_uuid=u1 mac:eth0=b mac:b=b", 0, 2, 3, 2, true},
		{"first wave without DMI: two classes, both needed", "machine_id=m1 mac:eth0=a", "machine_id=m1 mac:eth0=b", 0, 1, 2, 2, false},
		{"first wave without DMI, on a Revision 2 host", "machine_id=m1 mac:eth0=a", "machine_id=m1 mac:a=a mac:eth0=a disk:serial=s", 0, 2, 2, 2, true},
		{"one class: an operator's instance id", "instance_id=i1", "instance_id=i1", 0, 1, 1, 1, true},
		{"one class, changed", "instance_id=i1", "instance_id=i2", 0, 0, 1, 1, false},
		{"the product asks for one class", vm, "machine_id=m1", 1, 1, 3, 1, true},
		{"the product asks for all", vm, "machine_id=m1 dmi_uuid=u1", 3, 2, 3, 3, false},
		{"never more than the license carries", "machine_id=m1 mac:eth0=a", "machine_id=m1 mac:eth0=a", 5, 2, 2, 2, true},
		{"five classes: four needed", "a=1 b=2 c=3 d=4 e=5", "a=1 b=2 c=3 d=4 e=0", 0, 4, 5, 4, true},
		{"five classes, two changed", "a=1 b=2 c=3 d=4 e=5", "a=1 b=2 c=3 d=0 e=0", 0, 3, 5, 4, false},
		{"extra classes on the platform do not count against it", "machine_id=m1 mac:eth0=a", "machine_id=m1 mac:eth0=a dmi_uuid=u disk:serial=s x=y", 0, 2, 2, 2, true},
		{"a component of the same value under another class is another component", "machine_id=m1 dmi_uuid=u1 mac:eth0=a", "machine_id=m1 dmi:uuid=u1", 0, 1, 3, 2, false},
	} {
		m := engine.MatchPlatform(hash(c.lic), hash(c.cur), c.minMatch)
		if m.OK() != c.ok || m.Matched != c.matched || m.Of != c.of || m.Needed != c.needed {
			t.Errorf("%s: got %v ok=%v; want %d of %d, %d needed, ok=%v", c.what, m, m.OK(), c.matched, c.of, c.needed, c.ok)
		}
	}
	if m := engine.MatchPlatform(engine.Components{}, hash(vm), 0); m.OK() {
		t.Errorf("a license with no components must not match: %+v", m)
	}
	// A hash left empty (a malformed license) matches nothing, even a
	// platform that lacks the component.
	if m := engine.MatchPlatform(engine.Components{"machine_id": "", "dmi_uuid": ""}, engine.Components{}, 0); m.OK() || m.Matched != 0 {
		t.Errorf("empty hashes matched: %+v", m)
	}
}

func TestMatchPlatformAllocates(t *testing.T) {
	lic := engine.HashPlatform("edge", map[string]string{"machine_id": "m", "dmi_uuid": "u", "mac:eth0": "a", "mac:a": "a", "disk:serial": "s"})
	cur := engine.HashPlatform("edge", map[string]string{"machine_id": "m", "dmi_uuid": "u", "mac:ens3": "a", "mac:a": "a"})
	if n := testing.AllocsPerRun(100, func() { engine.MatchPlatform(lic, cur, 0) }); n != 0 {
		t.Errorf("MatchPlatform allocates %v times a call; the warm check must not", n)
	}
}

func TestMissingComponents(t *testing.T) {
	lic := engine.HashPlatform("edge", map[string]string{"machine_id": "m", "dmi_uuid": "u", "mac:eth0": "a", "mac:a": "a"})
	cur := engine.HashPlatform("edge", map[string]string{"machine_id": "m", "dmi_uuid": "other", "mac:ens3": "a", "mac:a": "a"})
	if got := engine.MissingComponents(lic, cur); !slices.Equal(got, []string{"dmi_uuid", "mac:eth0"}) {
		t.Errorf("missing %q", got)
	}
	if got := engine.MissingComponents(lic, lic); got == nil || len(got) != 0 {
		t.Errorf("nothing missing must be an empty list (JSON []), got %#v", got)
	}
}

// TestHashComponentWorkedExample is the README's example for hosts in other
// languages ("Platform binding"): it must stay true.
func TestHashComponentWorkedExample(t *testing.T) {
	const want = "6b91e083ccab3f1fbc6206bf1bb5b510a811c98fed35569979a29c882e9df243"
	if got := engine.HashComponent("edge", "machine_id", "4c4c4544004a3510804bb4c04f565931"); got != want {
		t.Fatalf("HashComponent(edge, machine_id, 4c4c…) = %s, want %s", got, want)
	}
}

// TestMatchIgnoresInterfaceNames: a license naming NICs by address counts
// the network class by address only; the first-wave name by interface, read
// from any address (one set by software too), would let a clone that copies
// the original's MAC match it. A license with interface names only (issued
// before Revision 2) still matches by them.
func TestMatchIgnoresInterfaceNames(t *testing.T) {
	h := func(m map[string]string) engine.Components { return engine.HashPlatform("edge", m) }
	licensed := h(map[string]string{"machine_id": "m1", "dmi_uuid": "u1", "mac:52:54:00:12:34:56": "52:54:00:12:34:56", "mac:ens3": "52:54:00:12:34:56"})
	// A clone: the same image, a new board, its NIC's address set by
	// software to the original's (so no component by address).
	clone := h(map[string]string{"machine_id": "m1", "dmi_uuid": "u2", "mac:ens3": "52:54:00:12:34:56"})
	if m := engine.MatchPlatform(licensed, clone, 0); m.OK() {
		t.Errorf("a clone copying the MAC matched: %s", m)
	}
	same := h(map[string]string{"machine_id": "m1", "dmi_uuid": "u1", "mac:52:54:00:12:34:56": "52:54:00:12:34:56", "mac:ens3": "52:54:00:12:34:56"})
	if m := engine.MatchPlatform(licensed, same, 0); !m.OK() || m.Matched != 3 {
		t.Errorf("the same machine: %s", m)
	}
	firstWave := h(map[string]string{"machine_id": "m1", "dmi_uuid": "u1", "mac:ens3": "52:54:00:12:34:56"})
	if m := engine.MatchPlatform(firstWave, same, 0); !m.OK() || m.Matched != 3 {
		t.Errorf("a first-wave license on the same machine: %s", m)
	}
}
