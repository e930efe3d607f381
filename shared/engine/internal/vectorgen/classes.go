package main

import (
	"maps"
	"strings"

	"github.com/tenurehq/tenure/shared/engine"
)

// Revision 2 platforms as the Go host supplies them: every NIC by its
// address and, for licenses from before Revision 2, by its interface name;
// the disk that holds the state when it is not the disk of /etc/machine-id.
var (
	// vm2 is a VM with readable DMI and one NIC: three classes.
	vm2 = map[string]string{
		"machine_id":            "4c4c4544004a3510804bb4c04f565931",
		"dmi_uuid":              "44454c4c-4a00-1035-804b-b4c04f565931",
		"mac:52:54:00:12:34:56": "52:54:00:12:34:56",
		"mac:ens3":              "52:54:00:12:34:56",
	}
	// metal2 is bare metal with two NICs and the state on its own disk:
	// four classes.
	metal2 = map[string]string{
		"machine_id":            "9b2f6c1d0e8a4b7c9d3e5f1a2b4c6d8e",
		"dmi_uuid":              "4c4c4544-0035-3010-8048-b2c04f4d5032",
		"mac:3c:ec:ef:12:34:56": "3c:ec:ef:12:34:56",
		"mac:3c:ec:ef:12:34:57": "3c:ec:ef:12:34:57",
		"mac:eno1":              "3c:ec:ef:12:34:56",
		"mac:enp3s0":            "3c:ec:ef:12:34:57",
		"disk:serial":           "Z1D5K5XR",
		"disk:wwid":             "naa.5000c500a1b2c3d4",
	}
)

// with returns p with the components of kv (name=value, a value of - takes
// the component away) changed.
func with(p map[string]string, kv ...string) map[string]string {
	out := maps.Clone(p)
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		if v == "-" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// onPlatform is L-000001 issued for the raw platform p.
func (g *gen) onPlatform(p map[string]string) lic {
	return lic{id: "L-000001", signed: g.license(func(l *engine.License) { l.Platform = engine.HashPlatform(product, p) })}
}

// classScenarios are DESIGN's binding matrix as the engine sees it: a
// license issued for one platform, judged on the platform as it is after
// the change.
func (g *gen) classScenarios() {
	yes := func(name, about string, issued, now map[string]string) {
		g.scenario(scenario{name: "class-" + name, about: about, host: "2026-03-01T00:00:00Z", raw: now,
			licenses: []lic{g.onPlatform(issued)}, expect: licensed1})
	}
	no := func(name, about string, issued, now map[string]string, reason string) {
		g.scenario(scenario{name: "class-" + name, about: about, host: "2026-01-20T12:00:00Z", raw: now,
			licenses: []lic{g.onPlatform(issued)}, expect: inactiveTrial(reason)})
	}
	renamed := with(vm2, "mac:ens3=-", "mac:ens4=52:54:00:12:34:56")
	yes("nic-renamed", "A NIC renamed (ens3 to ens4, same address): its address still names it, every class matches.", vm2, renamed)
	yes("nic-replaced", "A NIC replaced: the network class differs, machine and board match: 2 of 3 classes, 2 needed.",
		vm2, with(vm2, "mac:52:54:00:12:34:56=-", "mac:52:54:00:ab:cd:ef=52:54:00:ab:cd:ef", "mac:ens3=52:54:00:ab:cd:ef"))
	yes("nic-added", "A NIC added: extra components on the platform count against nothing.",
		vm2, with(vm2, "mac:52:54:00:ab:cd:ef=52:54:00:ab:cd:ef", "mac:ens4=52:54:00:ab:cd:ef"))
	yes("private-netns", "In a private network namespace with its own sysfs no NIC is seen: the network class is absent, 2 of 3 classes match.",
		vm2, with(vm2, "mac:52:54:00:12:34:56=-", "mac:ens3=-"))
	yes("both-nics-replaced", "Bare metal with both of its NICs replaced: four components differ, but only one class: 3 of 4 classes, 3 needed.",
		metal2, with(metal2, "mac:3c:ec:ef:12:34:56=-", "mac:3c:ec:ef:12:34:57=-", "mac:eno1=a0:36:9f:00:00:01", "mac:enp3s0=a0:36:9f:00:00:02",
			"mac:a0:36:9f:00:00:01=a0:36:9f:00:00:01", "mac:a0:36:9f:00:00:02=a0:36:9f:00:00:02"))
	yes("one-nic-of-two-replaced", "Bare metal with one of two NICs replaced: the other keeps the network class.",
		metal2, with(metal2, "mac:3c:ec:ef:12:34:57=-", "mac:a0:36:9f:00:00:02=a0:36:9f:00:00:02", "mac:enp3s0=a0:36:9f:00:00:02"))
	yes("disk-replaced", "Bare metal with the state's disk replaced and the state restored from a backup: 3 of 4 classes.",
		metal2, with(metal2, "disk:serial=WD-WCC4N7KX0123", "disk:wwid=naa.50014ee2b5a1c0de"))
	yes("disk-wwid-new", "A disk component the host could not read before (its wwid) appears: the class matches through the other.",
		with(metal2, "disk:wwid=-"), metal2)
	yes("vm-moved", "The same VM on another hypervisor host: every component as it was.", vm2, vm2)
	no("clone", "A VM cloned from this one: a new DMI UUID and new MACs, the same image (machine id): 1 of 3 classes, 2 needed.",
		vm2, with(vm2, "dmi_uuid=7d1e1f4a-9b7c-4e0b-8c52-0a9e2f3b4c5d", "mac:52:54:00:12:34:56=-", "mac:52:54:00:9e:01:02=52:54:00:9e:01:02", "mac:ens3=52:54:00:9e:01:02"),
		"bound to another platform (1 of 3 component classes match, 2 needed; differ: dmi, mac)")
	no("disk-moved", "The state's disk moved into another machine: the disk class alone matches, 1 of 4, 3 needed.",
		metal2, map[string]string{"machine_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "dmi_uuid": "4c4c4544-0000-1111-2222-333344445555",
			"mac:a0:36:9f:11:22:33": "a0:36:9f:11:22:33", "mac:eno1": "a0:36:9f:11:22:33", "disk:serial": "Z1D5K5XR", "disk:wwid": "naa.5000c500a1b2c3d4"},
		"bound to another platform (1 of 4 component classes match, 3 needed; differ: dmi, mac, machine)")
	no("two-classes-changed", "Four classes, two changed (a NIC and the disk): 2 of 4, 3 needed; every class but one must match.",
		metal2, with(metal2, "mac:3c:ec:ef:12:34:56=-", "mac:3c:ec:ef:12:34:57=-", "mac:eno1=-", "mac:enp3s0=-", "disk:serial=X", "disk:wwid=Y"),
		"bound to another platform (2 of 4 component classes match, 3 needed; differ: disk, mac)")
	instance := map[string]string{"instance_id": "6f1c2a0e-8d3b-4b7e-9c15-2e4d6a8b0c1f"}
	yes("stable-instance", "A container restarted with the same TENURE_PLATFORM (one class, an instance id the operator provides): it holds.", instance, instance)
	no("other-instance", "Another TENURE_PLATFORM instance id: the one class differs.", instance, map[string]string{"instance_id": "0a9b8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d"},
		"bound to another platform (0 of 1 component classes match, 1 needed; differ: instance)")
	fw := map[string]string{"machine_id": "4c4c4544004a3510804bb4c04f565931", "mac:eth0": "52:54:00:12:34:56"}
	yes("first-wave", "A license from before Revision 2 (machine_id and mac:eth0, a VM without DMI) on a Revision 2 host, which also supplies the first-wave name: 2 of 2 classes.",
		fw, with(fw, "mac:52:54:00:12:34:56=52:54:00:12:34:56"))
	no("two-classes-one-changed", "A license of two classes (a VM without DMI): both are needed, so a replaced NIC is another platform. Such a platform is one where the operator supplies a stable identity.",
		fw, with(fw, "mac:eth0=52:54:00:ab:cd:ef", "mac:52:54:00:ab:cd:ef=52:54:00:ab:cd:ef"),
		"bound to another platform (1 of 2 component classes match, 2 needed; differ: mac)")
	min2 := strings.Replace(string(edgeProduct()), `"binding": {}`, `"binding": {"min_match": 2}`, 1)
	g.scenario(scenario{name: "class-min-match", about: "A product with binding.min_match 2: two of four classes are enough.",
		host: "2026-03-01T00:00:00Z", product: min2, licenses: []lic{g.onPlatform(metal2)},
		raw:    with(metal2, "mac:3c:ec:ef:12:34:56=-", "mac:3c:ec:ef:12:34:57=-", "mac:eno1=-", "mac:enp3s0=-", "disk:serial=X", "disk:wwid=Y"),
		expect: licensed1})
}
