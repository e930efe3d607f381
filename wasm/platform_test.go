package wasm

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tenurehq/tenure/shared/abi"
	"github.com/tenurehq/tenure/shared/engine"
	"github.com/tenurehq/tenure/wasm/internal/facts"
	"github.com/tenurehq/tenure/wasm/internal/facts/simtree"
	"github.com/tenurehq/tenure/wasm/internal/guest"
)

// TestFacts reads this machine's facts: what it finds must be what the files
// say, under names the validator accepts, each with the file it came from.
func TestFacts(t *testing.T) {
	if runtime.GOOS != "linux" {
		if _, _, err := Facts(t.TempDir()); err == nil || !strings.Contains(err.Error(), "--platform") {
			t.Fatalf("Facts off Linux: %v", err)
		}
		return
	}
	m, src, err := Facts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile("/etc/machine-id"); err == nil && strings.TrimSpace(string(b)) != "" {
		if m["machine_id"] != strings.TrimSpace(string(b)) || src["machine_id"] != "/etc/machine-id" {
			t.Errorf("machine_id is %q from %q; /etc/machine-id says %q", m["machine_id"], src["machine_id"], b)
		}
	}
	if _, err := os.ReadFile("/sys/class/dmi/id/product_uuid"); err != nil {
		if _, ok := m["dmi_uuid"]; ok {
			t.Errorf("dmi_uuid %q without a readable product_uuid", m["dmi_uuid"])
		}
	}
	for name, value := range m {
		if !facts.ValidName(name) || value == "" || !strings.HasPrefix(src[name], "/") {
			t.Errorf("component %q = %q from %q", name, value, src[name])
		}
		if name == "mac:lo" {
			t.Errorf("the loopback interface counted")
		}
	}
	t.Logf("facts: %v", m)
}

// TestPlatformPrecedence: --platform FILE, then $TENURE_PLATFORM, then the
// machine; each says where its components came from.
func TestPlatformPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "p.json")
	if err := os.WriteFile(file, []byte(`{"machine_id":"from-file"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(abi.EnvPlatform, `{"machine_id":"from-env"}`)
	if m, src, err := Platform(file, dir); err != nil || m["machine_id"] != "from-file" || src["machine_id"] != "--platform "+file {
		t.Errorf("with a file: %v, %v, %v", m, src, err)
	}
	if m, src, err := Platform("", dir); err != nil || m["machine_id"] != "from-env" || src["machine_id"] != "$TENURE_PLATFORM" {
		t.Errorf("with $TENURE_PLATFORM: %v, %v, %v", m, src, err)
	}
	t.Setenv(abi.EnvPlatform, `["not", "an", "object"]`)
	if _, _, err := Platform("", dir); err == nil || !strings.Contains(err.Error(), "$TENURE_PLATFORM") {
		t.Errorf("a $TENURE_PLATFORM that is not an object: %v", err)
	}
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, []byte(`{"machine_id":"`+strings.Repeat("x", maxPlatformFile)+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Platform(big, dir); err == nil || !strings.Contains(err.Error(), "over") {
		t.Errorf("a platform file over the bound: %v", err)
	}
	if _, _, err := Platform(dir, dir); err == nil {
		t.Errorf("a directory as the platform file")
	}
	if runtime.GOOS == "linux" {
		t.Setenv(abi.EnvPlatform, "")
		want, _, _ := Facts(dir)
		if m, src, err := Platform("", dir); err != nil || len(m) != len(want) || len(src) != len(m) {
			t.Errorf("without either: %v, %v, %v; want the facts %v", m, src, err, want)
		}
	}
}

// A sim is a simulated machine's facts, as the host reads them.
type sim struct {
	values, sources map[string]string
}

// collect reads a simulated machine as the host reads this one, for the
// state at /var/lib/tenure.
func collect(t *testing.T, tree *simtree.Tree) sim {
	t.Helper()
	root := t.TempDir()
	if err := tree.Write(root); err != nil {
		t.Fatal(err)
	}
	f := facts.Collect(root, "/var/lib/tenure")
	if len(f.Values) == 0 {
		t.Fatalf("no facts read from %s", tree.About)
	}
	return sim{f.Values, f.Sources}
}

func machineTree(t *testing.T, name string) *simtree.Tree {
	t.Helper()
	tree, err := simtree.Load(filepath.Join("internal", "facts", "testdata", "machines", name+".txtar"))
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// licensedOn makes an appliance on the platform p (through the reactor),
// licenses it for a year from day1, and returns its state directory.
func licensedOn(t *testing.T, p sim) string {
	t.Helper()
	ctx := context.Background()
	state := t.TempDir()
	v, err := Open(ctx, Options{State: state, Platform: p.values, Sources: p.sources, Now: day1, Module: module(t, guest.Reactor)})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if err := v.Init(ctx, "edge", "0.40.0"); err != nil {
		t.Fatal(err)
	}
	lrf, err := v.Request(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Install(ctx, issue(t, lrf, firstYear(t))); err != nil {
		t.Fatal(err)
	}
	return state
}

// judge opens the state on platform p in March 2026 and says whether the
// license counts there, checking that status and `platform` agree.
func judge(t *testing.T, state string, p sim) (keeps bool, m engine.LicenseMatch) {
	t.Helper()
	ctx := context.Background()
	v, err := Open(ctx, Options{State: state, Platform: p.values, Sources: p.sources, Now: "2026-03-01T00:00:00Z", Module: module(t, guest.Reactor)})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	// platform first: it must not start a trial or write anything that
	// changes what status says.
	rep, err := v.Platform(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Licenses) != 1 || len(rep.Components) != len(p.values) {
		t.Fatalf("platform report: %+v", rep)
	}
	for _, c := range rep.Components {
		src := p.sources[c.Name]
		if src == "" {
			src = "$TENURE_PLATFORM" // what the module says of a component without a source
		}
		if c.Source != src || c.Hash != engine.HashComponent("edge", c.Name, p.values[c.Name]) {
			t.Errorf("reported %+v; the host read %q from %q", c, p.values[c.Name], p.sources[c.Name])
		}
	}
	s, err := v.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l := s.Licenses[0]
	keeps = s.State == engine.ModeLicensed && l.Standing == engine.StandingActive
	if !keeps && (l.Standing != engine.StandingInactive || !strings.Contains(l.Reason, "bound to another platform")) {
		t.Errorf("neither licensed nor bound elsewhere: %s, %+v", s.State, l)
	}
	m = rep.Licenses[0]
	if (m.Matched >= m.Needed) != keeps {
		t.Errorf("platform says %d of %d needed, status says keeps=%v (%s)", m.Matched, m.Needed, keeps, l.Reason)
	}
	return keeps, m
}

// Changes to the simulated machines, as the matrix's rows make them.

// replaceAddress gives a NIC a new card: the same name, a new address.
func replaceAddress(nic, old, new string) func(*simtree.Tree) {
	return func(t *simtree.Tree) { t.Set(nic+"/address", new+"\n"); t.Replace(old, new) }
}

// addNIC plugs in a virtio or PCIe NIC.
func addNIC(name, slot, addr string) func(*simtree.Tree) {
	return func(t *simtree.Tree) {
		dir := "sys/devices/pci0000:00/" + slot + "/net/" + name
		t.Link("sys/class/net/"+name, "../../devices/pci0000:00/"+slot+"/net/"+name).
			Set(dir+"/address", addr+"\n").Set(dir+"/addr_assign_type", "0\n").Set(dir+"/flags", "0x1003\n").Set(dir+"/type", "1\n").
			Link(dir+"/device", "../../../"+slot)
	}
}

// privateSysfs is a network namespace with a sysfs of its own (systemd's
// PrivateNetwork=, or unshare -n then mount -t sysfs): only its loopback.
func privateSysfs(t *simtree.Tree) {
	for _, link := range t.Links("sys/class/net") {
		if filepath.Base(link) != "lo" {
			t.Remove(link)
		}
	}
	for _, dir := range t.Dirs("net") {
		if filepath.Base(dir) != "lo" {
			t.Remove(dir)
		}
	}
}

func chain(fs ...func(*simtree.Tree)) func(*simtree.Tree) {
	return func(t *simtree.Tree) {
		for _, f := range fs {
			f(t)
		}
	}
}

// A matrixRow is one row of DESIGN's table ("Platform binding") on one
// simulated machine: how the machine changes, and whether the license
// survives it.
type matrixRow struct {
	what   string
	change func(*simtree.Tree) // on a clone of the machine
	other  string              // instead: another simulated machine
	// restore: the state is backed up on the machine as it was and
	// restored into an empty state directory on the machine as it is.
	restore bool
	keeps   bool
}

// restored backs up state on platform p and restores it into a new state
// directory on platform q, which it returns.
func restored(t *testing.T, state string, p, q sim) string {
	t.Helper()
	ctx := context.Background()
	v, err := Open(ctx, Options{State: state, Platform: p.values, Now: "2026-02-01T00:00:00Z", Module: module(t, guest.Reactor)})
	if err != nil {
		t.Fatal(err)
	}
	backup, err := v.Backup(ctx, "correct horse")
	v.Close()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	w, err := Open(ctx, Options{State: dir, Platform: q.values, Now: "2026-02-02T00:00:00Z", Module: module(t, guest.Reactor)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Restore(ctx, "correct horse", backup); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBindingMatrix is DESIGN's binding matrix over simulated machines with
// three or more classes, each row through the reactor: licensed on the
// machine as it was, judged on the machine as it is.
func TestBindingMatrix(t *testing.T) {
	const (
		ens3   = "sys/devices/pci0000:00/0000:00:03.0/virtio0/net/ens3"
		vda    = "sys/devices/pci0000:00/0000:00:04.0/virtio1/block/vda"
		dmi    = "sys/devices/virtual/dmi/id/product_uuid"
		eno1   = "sys/devices/pci0000:00/0000:00:1f.6/net/eno1"
		enp3s0 = "sys/devices/pci0000:00/0000:00:1c.0/0000:03:00.0/net/enp3s0"
		sda    = "sys/devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0"
	)
	vmClone := chain(
		func(t *simtree.Tree) { t.Set(dmi, "7d1e1f4a-9b7c-4e0b-8c52-0a9e2f3b4c5d\n") },
		replaceAddress(ens3, "52:54:00:12:34:56", "52:54:00:9e:01:02"),
		func(t *simtree.Tree) { t.Set(vda+"/serial", "vd-clone0001") })
	machines := map[string][]matrixRow{
		"vm-dmi": {
			{what: "a NIC replaced", change: replaceAddress(ens3, "52:54:00:12:34:56", "52:54:00:ab:cd:ef"), keeps: true},
			{what: "a NIC renamed (same address)", change: func(t *simtree.Tree) { t.Rename("net/ens3", "net/enp1s0") }, keeps: true},
			{what: "a NIC added", change: addNIC("ens9", "0000:00:09.0", "52:54:00:99:99:99"), keeps: true},
			{what: "another network namespace (unshare -n, the same sysfs)", change: func(*simtree.Tree) {}, keeps: true},
			{what: "PrivateNetwork= (a sysfs of its own: no NIC)", change: privateSysfs, keeps: true},
			{what: "the state disk replaced, the OS reinstalled (new machine id), the state restored from a backup", change: func(t *simtree.Tree) {
				t.Set("etc/machine-id", "0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f\n").Set(vda+"/serial", "vd-new00001")
			}, restore: true, keeps: true},
			{what: "the VM moved to another hypervisor host (same VM; its NIC in another PCI slot, so renamed)", change: func(t *simtree.Tree) {
				t.Rename("0000:00:03.0", "0000:01:00.0").Rename("net/ens3", "net/enp1s0")
			}, keeps: true},
			{what: "a VM cloned from this one (new DMI UUID, new MACs, same image)", change: vmClone, keeps: false},
			{what: "another machine", other: "metal", keeps: false},
			{what: "the same disk moved into another machine", change: chain(
				func(t *simtree.Tree) { t.Set(dmi, "a1b2c3d4-0000-4000-8000-00000000beef\n") },
				replaceAddress(ens3, "52:54:00:12:34:56", "52:54:00:77:66:55")), keeps: false},
		},
		"metal": {
			{what: "a NIC replaced", change: replaceAddress(eno1, "3c:ec:ef:12:34:56", "a0:36:9f:00:00:01"), keeps: true},
			{what: "both NICs replaced", change: chain(replaceAddress(eno1, "3c:ec:ef:12:34:56", "a0:36:9f:00:00:01"),
				replaceAddress(enp3s0, "3c:ec:ef:12:34:57", "a0:36:9f:00:00:02")), keeps: true},
			{what: "a NIC renamed (same address)", change: func(t *simtree.Tree) { t.Rename("net/eno1", "net/enp0s31f6") }, keeps: true},
			{what: "a NIC added", change: addNIC("enp4s0", "0000:00:1c.4/0000:04:00.0", "a0:36:9f:44:44:44"), keeps: true},
			{what: "another network namespace (unshare -n, the same sysfs)", change: func(*simtree.Tree) {}, keeps: true},
			{what: "PrivateNetwork= (a sysfs of its own: no NIC)", change: privateSysfs, keeps: true},
			{what: "the state disk replaced, the state restored from a backup", change: func(t *simtree.Tree) {
				// The restore itself is the vm-dmi row's (age's scrypt
				// takes seconds in wasm); here the platform alone.
				t.Set(sda+"/wwid", "naa.50014ee2b5a1c0de\n").Set(sda+"/vpd_pg80", "\x00\x80\x00\x0fWD-WCC4N7KX0123")
			}, keeps: true},
			{what: "its disk images copied onto another server (new DMI UUID, new MACs, same machine id)", change: chain(
				func(t *simtree.Tree) { t.Set(dmi, "4C4C4544-0000-1111-2222-333344445555\n") },
				replaceAddress(eno1, "3c:ec:ef:12:34:56", "a0:36:9f:11:11:11"), replaceAddress(enp3s0, "3c:ec:ef:12:34:57", "a0:36:9f:11:11:12"),
				func(t *simtree.Tree) {
					t.Set(sda+"/wwid", "naa.50014ee2b5a1c0de\n").Set(sda+"/vpd_pg80", "\x00\x80\x00\x0fWD-WCC4N7KX0123")
				}), keeps: false},
			{what: "another machine", other: "vm-dmi", keeps: false},
			{what: "the state's disk moved into another machine", change: chain(
				func(t *simtree.Tree) {
					t.Set("etc/machine-id", "0f1e2d3c4b5a69788796a5b4c3d2e1f0\n").Set(dmi, "4C4C4544-0000-1111-2222-333344445555\n")
				},
				replaceAddress(eno1, "3c:ec:ef:12:34:56", "a0:36:9f:11:11:11"), replaceAddress(enp3s0, "3c:ec:ef:12:34:57", "a0:36:9f:11:11:12")), keeps: false},
			{what: "both its disks moved into another machine", change: chain(
				func(t *simtree.Tree) { t.Set(dmi, "4C4C4544-0000-1111-2222-333344445555\n") },
				replaceAddress(eno1, "3c:ec:ef:12:34:56", "a0:36:9f:11:11:11"), replaceAddress(enp3s0, "3c:ec:ef:12:34:57", "a0:36:9f:11:11:12")), keeps: false},
		},
	}
	for _, name := range []string{"vm-dmi", "metal"} {
		base := machineTree(t, name)
		before := collect(t, base)
		if n := len(classesOf(before.values)); n < 3 {
			t.Fatalf("%s: %d classes; the matrix is for three or more", name, n)
		}
		for _, row := range machines[name] {
			t.Run(name+"/"+row.what, func(t *testing.T) {
				var after sim
				if row.other != "" {
					after = collect(t, machineTree(t, row.other))
				} else {
					tree := base.Clone()
					row.change(tree)
					after = collect(t, tree)
				}
				state := licensedOn(t, before)
				if row.restore {
					state = restored(t, state, before, after)
				}
				keeps, m := judge(t, state, after)
				if keeps != row.keeps {
					t.Errorf("keeps its license: %v, want %v (%d of %d classes needed; not here: %v)\nbefore %v\nafter  %v",
						keeps, row.keeps, m.Matched, m.Needed, m.Missing, before.values, after.values)
				}
			})
		}
	}

	// The last row: a container restarted with the same TENURE_PLATFORM.
	// The pod's own facts change with the restart (a new veth address);
	// the identity the operator mounts does not.
	t.Run("container/restarted with the same TENURE_PLATFORM", func(t *testing.T) {
		pod := machineTree(t, "container")
		restarted := pod.Clone().Replace("d6:1f:8a:3c:90:5e", "8a:02:44:c1:7e:19")
		if keeps, _ := judge(t, licensedOn(t, collect(t, pod)), collect(t, restarted)); keeps {
			t.Errorf("the pod's own facts kept the license across a restart; the README's advice is moot")
		}
		secret := sim{map[string]string{"instance_id": "6f1c2a0e-8d3b-4b7e-9c15-2e4d6a8b0c1f"},
			map[string]string{"instance_id": "--platform /run/secrets/tenure/platform.json"}}
		if keeps, m := judge(t, licensedOn(t, secret), secret); !keeps {
			t.Errorf("the same TENURE_PLATFORM after a restart: %+v", m)
		}
		if keeps, _ := judge(t, licensedOn(t, secret), sim{map[string]string{"instance_id": "0a9b8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d"}, nil}); keeps {
			t.Errorf("another instance's identity kept the license")
		}
	})
}

// TestBindingFewClasses: where fewer than three classes can be read, a
// renamed NIC and a namespace that keeps sysfs still match, but a replaced
// NIC, a clone and a moved disk look alike, and all lose the license; the
// operator's stable identity holds through any of them.
func TestBindingFewClasses(t *testing.T) {
	const eth0 = "sys/devices/pci0000:00/0000:00:03.0/virtio2/net/eth0"
	vm := machineTree(t, "vm-nodmi")
	before := collect(t, vm)
	if n := len(classesOf(before.values)); n != 2 {
		t.Fatalf("vm-nodmi: %d classes, want 2", n)
	}
	for _, row := range []matrixRow{
		{what: "a NIC renamed (same address)", change: func(t *simtree.Tree) { t.Rename("net/eth0", "net/ens3") }, keeps: true},
		{what: "another network namespace (unshare -n, the same sysfs)", change: func(*simtree.Tree) {}, keeps: true},
		{what: "a NIC replaced", change: replaceAddress(eth0, "02:fc:00:00:00:01", "02:fc:00:00:00:02"), keeps: false},
		{what: "PrivateNetwork= (a sysfs of its own: no NIC)", change: privateSysfs, keeps: false},
		{what: "a clone (same image, new NIC address)", change: replaceAddress(eth0, "02:fc:00:00:00:01", "02:fc:00:00:00:09"), keeps: false},
	} {
		t.Run("vm-nodmi/"+row.what, func(t *testing.T) {
			tree := vm.Clone()
			row.change(tree)
			if keeps, m := judge(t, licensedOn(t, before), collect(t, tree)); keeps != row.keeps {
				t.Errorf("keeps its license: %v, want %v (%+v)", keeps, row.keeps, m)
			}
		})
	}
	t.Run("vm-nodmi/a stable identity from the operator", func(t *testing.T) {
		id := sim{map[string]string{"instance_id": "i-0a1b2c3d4e5f60718", "machine_id": before.values["machine_id"]},
			map[string]string{"instance_id": "$TENURE_PLATFORM", "machine_id": "$TENURE_PLATFORM"}}
		if keeps, m := judge(t, licensedOn(t, id), id); !keeps {
			t.Errorf("%+v", m)
		}
	})
}

func classesOf(values map[string]string) []string {
	var out []string
	for name := range values {
		if c := engine.ComponentClass(name); !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// firstWaveFacts is the platform as the host before Revision 2 made it
// (wasm/facts_linux.go as of the first wave), read from a simulated
// machine: machine_id as /etc/machine-id says, dmi_uuid lower-cased, and
// mac:IFNAME with the hardware address of every non-loopback interface with
// one that has a device, or, with none, of every such interface.
func firstWaveFacts(t *testing.T, tree *simtree.Tree) map[string]string {
	t.Helper()
	m := map[string]string{}
	if id := strings.TrimSpace(tree.Get("etc/machine-id")); id != "" {
		m["machine_id"] = id
	}
	if id := strings.ToLower(strings.TrimSpace(tree.Get("sys/devices/virtual/dmi/id/product_uuid"))); id != "" {
		m["dmi_uuid"] = id
	}
	devices, others := map[string]string{}, map[string]string{}
	for _, link := range tree.Links("sys/class/net") {
		name := filepath.Base(link)
		dir := "sys/" + strings.TrimPrefix(tree.Target(link), "../../")
		addr := strings.TrimSpace(tree.Get(dir + "/address"))
		flags, _ := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(tree.Get(dir+"/flags")), "0x"), 16, 32)
		if flags&0x8 != 0 || addr == "" || !facts.ValidName("mac:"+name) {
			continue
		}
		if tree.Target(dir+"/device") != "" {
			devices["mac:"+name] = addr
		} else {
			others["mac:"+name] = addr
		}
	}
	if len(devices) == 0 {
		devices = others
	}
	for k, v := range devices {
		m[k] = v
	}
	return m
}

// TestFirstWave: an appliance licensed under the first wave's component
// names (its LRF carried them) keeps its license when the host is upgraded,
// on every simulated machine; and where a renamed NIC lost it before, its
// other classes still carry it where there are three.
func TestFirstWave(t *testing.T) {
	for _, c := range []struct {
		machine string
		change  func(*simtree.Tree)
		keeps   bool
	}{
		{"vm-dmi", nil, true},
		{"vm-nodmi", nil, true},
		{"metal", nil, true},
		{"container", nil, true},
		{"vm-dmi", func(t *simtree.Tree) { t.Rename("net/ens3", "net/enp1s0") }, true},
		{"metal", func(t *simtree.Tree) { t.Rename("net/eno1", "net/enp0s31f6") }, true},
		// Two first-wave classes, one of them lost: as before the upgrade.
		{"vm-nodmi", func(t *simtree.Tree) { t.Rename("net/eth0", "net/ens3") }, false},
	} {
		name := c.machine
		if c.change != nil {
			name += "/changed"
		}
		t.Run(name, func(t *testing.T) {
			tree := machineTree(t, c.machine)
			old := firstWaveFacts(t, tree)
			if len(old) == 0 {
				t.Fatal("no first-wave facts")
			}
			state := licensedOn(t, sim{old, nil})
			if c.change != nil {
				c.change(tree)
			}
			now := collect(t, tree)
			for k, v := range old {
				if c.change == nil && now.values[k] != v {
					t.Errorf("the upgraded host does not supply the first-wave %s=%s (it has %q)", k, v, now.values[k])
				}
			}
			if keeps, m := judge(t, state, now); keeps != c.keeps {
				t.Errorf("keeps: %v, want %v (%+v); first wave %v, now %v", keeps, c.keeps, m, old, now.values)
			}
		})
	}
}
