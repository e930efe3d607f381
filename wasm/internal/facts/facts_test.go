package facts

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tenurehq/tenure/shared/engine"
	"github.com/tenurehq/tenure/wasm/internal/facts/simtree"
)

// machine writes a simulated machine and returns its root.
func machineRoot(t testing.TB, tree *simtree.Tree) string {
	t.Helper()
	dir := t.TempDir()
	if err := tree.Write(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func load(t testing.TB, name string) *simtree.Tree {
	t.Helper()
	tree, err := simtree.Load(filepath.Join("testdata", "machines", name+".txtar"))
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// classes returns the sorted classes of a platform.
func classes(values map[string]string) []string {
	var out []string
	for name := range values {
		if c := engine.ComponentClass(name); !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// TestCollect reads each simulated machine: exactly these components, from
// these files.
func TestCollect(t *testing.T) {
	for _, c := range []struct {
		machine string
		want    map[string][2]string // name to value and source
		classes []string
	}{
		{"vm-dmi", map[string][2]string{
			"machine_id":            {"8f3c2a1b9d4e4f5a8b7c6d5e4f3a2b1c", "/etc/machine-id"},
			"dmi_uuid":              {"5d1e7a3c-2b4f-4e8a-9c6d-0f1e2a3b4c5d", "/sys/class/dmi/id/product_uuid"},
			"mac:52:54:00:12:34:56": {"52:54:00:12:34:56", "/sys/class/net/ens3/address"},
			"mac:ens3":              {"52:54:00:12:34:56", "/sys/class/net/ens3/address"},
		}, []string{"dmi", "mac", "machine"}},
		{"vm-nodmi", map[string][2]string{
			"machine_id":            {"3d1219c7c4c5404aaa1f6d2a48adfda4", "/etc/machine-id"},
			"mac:02:fc:00:00:00:01": {"02:fc:00:00:00:01", "/sys/class/net/eth0/address"},
			"mac:eth0":              {"02:fc:00:00:00:01", "/sys/class/net/eth0/address"},
		}, []string{"mac", "machine"}},
		{"metal", map[string][2]string{
			"machine_id":            {"9b2f6c1d0e8a4b7c9d3e5f1a2b4c6d8e", "/etc/machine-id"},
			"dmi_uuid":              {"4c4c4544-0035-3010-8048-b2c04f4d5032", "/sys/class/dmi/id/product_uuid"},
			"mac:3c:ec:ef:12:34:56": {"3c:ec:ef:12:34:56", "/sys/class/net/eno1/address"},
			"mac:3c:ec:ef:12:34:57": {"3c:ec:ef:12:34:57", "/sys/class/net/enp3s0/address"},
			"mac:eno1":              {"3c:ec:ef:12:34:56", "/sys/class/net/eno1/address"},
			"mac:enp3s0":            {"3c:ec:ef:12:34:57", "/sys/class/net/enp3s0/address"},
			"disk:wwid":             {"naa.5000c500a1b2c3d4", "/sys/block/sda/device/wwid"},
			"disk:serial":           {"Z1D5K5XR", "/sys/block/sda/device/vpd_pg80"},
		}, []string{"disk", "dmi", "mac", "machine"}},
		{"container", map[string][2]string{
			"mac:eth0": {"d6:1f:8a:3c:90:5e", "/sys/class/net/eth0/address"},
		}, []string{"mac"}},
	} {
		t.Run(c.machine, func(t *testing.T) {
			f := Collect(machineRoot(t, load(t, c.machine)), "/var/lib/tenure")
			got := map[string][2]string{}
			for name, v := range f.Values {
				got[name] = [2]string{v, f.Sources[name]}
			}
			if d := diff(c.want, got); d != "" {
				t.Errorf("components (-want +got):\n%s", d)
			}
			if got := classes(f.Values); !slices.Equal(got, c.classes) {
				t.Errorf("classes %v, want %v", got, c.classes)
			}
		})
	}
}

// TestCollectDisks: the state's disk through a partition, device mapper and
// btrfs, and never the disk of /etc/machine-id.
func TestCollectDisks(t *testing.T) {
	metal := load(t, "metal")
	for _, c := range []struct {
		what   string
		tree   *simtree.Tree
		state  string
		serial string // "" when no disk class is read
		wwid   string
	}{
		{"through LVM to the SATA disk", metal, "/var/lib/tenure", "Z1D5K5XR", "naa.5000c500a1b2c3d4"},
		{"the state on the root disk: no class of its own", metal, "/opt/tenure", "", ""},
		{"the state on the root disk, and no machine id: the disk counts", metal.Clone().Remove("etc/machine-id"), "/opt/tenure",
			"S4EWNX0N123456A", "eui.0025388b71b0e2a1"},
		{"btrfs reports an anonymous device: the source names the partition", metal.Clone().
			Replace("50 26 253:0 / /var rw,relatime shared:30 - ext4 /dev/mapper/vg0-var rw", "50 26 0:47 /@var /var rw,relatime shared:30 - btrfs /dev/sda1 rw,ssd,subvol=/@var"),
			"/var/lib/tenure", "Z1D5K5XR", "naa.5000c500a1b2c3d4"},
		{"a device-mapper source on an anonymous device", metal.Clone().
			Replace("50 26 253:0 / /var rw,relatime shared:30 - ext4 /dev/mapper/vg0-var rw", "50 26 0:47 / /var rw,relatime shared:30 - btrfs /dev/mapper/vg0-var rw"),
			"/var/lib/tenure", "Z1D5K5XR", "naa.5000c500a1b2c3d4"},
		{"the state in a mount whose point has a space", metal.Clone().
			Replace("50 26 253:0 / /var rw", "50 26 253:0 / /srv/app\\040data rw"), "/srv/app data/tenure", "Z1D5K5XR", "naa.5000c500a1b2c3d4"},
		{"a later mount over the same point wins", metal.Clone().
			Set("proc/self/mountinfo", metal.Get("proc/self/mountinfo")+"60 26 259:2 / /var rw,relatime - ext4 /dev/nvme0n1p2 rw\n"),
			"/var/lib/tenure", "", ""},
		{"no mountinfo", metal.Clone().Remove("proc/self/mountinfo"), "/var/lib/tenure", "", ""},
		{"a virtual disk without serial (rbd)", load(t, "container"), "/var/lib/tenure", "", ""},
	} {
		t.Run(c.what, func(t *testing.T) {
			f := Collect(machineRoot(t, c.tree), c.state)
			if f.Values["disk:serial"] != c.serial || f.Values["disk:wwid"] != c.wwid {
				t.Errorf("disk:serial %q, disk:wwid %q; want %q, %q (%v)", f.Values["disk:serial"], f.Values["disk:wwid"], c.serial, c.wwid, f.Sources)
			}
		})
	}
}

// TestCollectNICs: which interfaces count, and how they are named.
func TestCollectNICs(t *testing.T) {
	vm := load(t, "vm-dmi")
	const ens3 = "sys/devices/pci0000:00/0000:00:03.0/virtio0/net/ens3/"
	macs := func(f Facts) []string {
		var out []string
		for name := range f.Values {
			if strings.HasPrefix(name, "mac:") {
				out = append(out, name+"="+f.Values[name])
			}
		}
		slices.Sort(out)
		return out
	}
	for _, c := range []struct {
		what string
		tree *simtree.Tree
		want []string
	}{
		{"renamed: the address names it", vm.Clone().Rename("net/ens3", "net/ens4"),
			[]string{"mac:52:54:00:12:34:56=52:54:00:12:34:56", "mac:ens4=52:54:00:12:34:56"}},
		{"a random address (a VF, a macvtap): by name only", vm.Clone().Set(ens3+"addr_assign_type", "1\n"),
			[]string{"mac:ens3=52:54:00:12:34:56"}},
		{"an address set by software (bond slave): by name only", vm.Clone().Set(ens3+"addr_assign_type", "3\n"),
			[]string{"mac:ens3=52:54:00:12:34:56"}},
		{"a locally administered address counts", vm.Clone().Replace("52:54:00:12:34:56", "02:00:00:12:34:56"),
			[]string{"mac:02:00:00:12:34:56=02:00:00:12:34:56", "mac:ens3=02:00:00:12:34:56"}},
		{"upper-case hex is the same address", vm.Clone().Set(ens3+"address", "52:54:00:AB:CD:EF\n"),
			[]string{"mac:52:54:00:ab:cd:ef=52:54:00:ab:cd:ef", "mac:ens3=52:54:00:ab:cd:ef"}},
		{"an all-zero address is no address", vm.Clone().Set(ens3+"address", "00:00:00:00:00:00\n"),
			[]string{"mac:ens3=00:00:00:00:00:00"}},
		{"an address that is not hex", vm.Clone().Set(ens3+"address", "52:54:00:12:34:zz\n"), nil},
		{"a private network namespace with its own sysfs: no NIC", vm.Clone().Remove("sys/class/net/ens3").Remove(ens3), nil},
		{"an interface name the validator would refuse is named by address only", vm.Clone().Rename("net/ens3", "net/Ens3"),
			[]string{"mac:52:54:00:12:34:56=52:54:00:12:34:56"}},
	} {
		t.Run(c.what, func(t *testing.T) {
			if got := macs(Collect(machineRoot(t, c.tree), "/var/lib/tenure")); !slices.Equal(got, c.want) {
				t.Errorf("got %q\nwant %q", got, c.want)
			}
		})
	}

	// Many NICs: twelve each way, the same twelve however they are named,
	// within the 32 components a license carries.
	many := vm.Clone()
	for i := range 40 {
		name := "ens" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		dir := "sys/devices/pci0000:00/0000:01:00." + name + "/net/" + name + "/"
		many.Link("sys/class/net/"+name, "../../"+strings.TrimPrefix(dir, "sys/")).
			Set(dir+"address", "52:54:00:00:"+hex2(i)+":01\n").Set(dir+"addr_assign_type", "0\n").Set(dir+"flags", "0x1003\n").
			Link(dir+"device", "../../../0000:01:00."+name)
	}
	f := Collect(machineRoot(t, many), "/var/lib/tenure")
	var byAddr, byName int
	for name := range f.Values {
		if rest, ok := strings.CutPrefix(name, "mac:"); ok {
			if strings.Contains(rest, ":") {
				byAddr++
			} else {
				byName++
			}
		}
	}
	if byAddr != maxNICs || byName != maxNICs || len(f.Values) > 32 {
		t.Errorf("41 NICs: %d by address, %d by name, %d components; want %d, %d, at most 32", byAddr, byName, len(f.Values), maxNICs, maxNICs)
	}
	if _, ok := f.Values["mac:52:54:00:00:00:01"]; !ok {
		t.Errorf("the lowest addresses must count: %v", slices.Sorted(maps.Keys(f.Values)))
	}
}

func hex2(i int) string { return string("0123456789abcdef"[i/16]) + string("0123456789abcdef"[i%16]) }

// TestCollectOdd: files that are not what the kernel writes are skipped,
// never read to their end, never waited on.
func TestCollectOdd(t *testing.T) {
	vm := load(t, "vm-dmi")
	const ens3 = "sys/devices/pci0000:00/0000:00:03.0/virtio0/net/ens3/"
	huge := strings.Repeat("8f3c2a1b", 1<<17) // 1 MiB
	for _, c := range []struct {
		what  string
		tree  *simtree.Tree
		after func(t *testing.T, root string)
		gone  []string // components that must not be read
	}{
		{"a huge machine-id", vm.Clone().Set("etc/machine-id", huge), nil, []string{"machine_id"}},
		{"a machine-id of binary junk", vm.Clone().Set("etc/machine-id", "\x00\x01\xfe\xff8f3c\x1b[2J"), nil, []string{"machine_id"}},
		{"a machine-id not yet made", vm.Clone().Set("etc/machine-id", "uninitialized\n"), nil, []string{"machine_id"}},
		{"a UUID of zeros (SMBIOS: not set)", vm.Clone().Set("sys/devices/virtual/dmi/id/product_uuid", "00000000-0000-0000-0000-000000000000\n"), nil, []string{"dmi_uuid"}},
		{"a UUID of ones (SMBIOS: not set)", vm.Clone().Set("sys/devices/virtual/dmi/id/product_uuid", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF\n"), nil, []string{"dmi_uuid"}},
		{"a symlink loop for the machine id", vm.Clone().Remove("etc/machine-id").Link("etc/machine-id", "machine-id.a").Link("etc/machine-id.a", "machine-id"), nil, []string{"machine_id"}},
		{"a symlink loop in sysfs", vm.Clone().Remove("sys/class/dmi/id").Link("sys/class/dmi/id", "../../class/dmi/id"), nil, []string{"dmi_uuid"}},
		{"a symlink out of the tree", vm.Clone().Remove("sys/class/dmi/id").Link("sys/class/dmi/id", "/etc"), nil, []string{"dmi_uuid"}},
		{"a FIFO for the machine id", vm.Clone().Remove("etc/machine-id"), func(t *testing.T, root string) { mkfifo(t, filepath.Join(root, "etc/machine-id")) }, []string{"machine_id"}},
		{"a FIFO for a NIC's address", vm.Clone().Remove(ens3 + "address"), func(t *testing.T, root string) { mkfifo(t, filepath.Join(root, ens3+"address")) },
			[]string{"mac:ens3", "mac:52:54:00:12:34:56"}},
		{"a FIFO for mountinfo", vm.Clone().Remove("proc/self/mountinfo"), func(t *testing.T, root string) { mkfifo(t, filepath.Join(root, "proc/self/mountinfo")) }, nil},
		{"a directory for the machine id", vm.Clone().Remove("etc/machine-id").Set("etc/machine-id/x", "y"), nil, []string{"machine_id"}},
		{"a device for the UUID", vm.Clone().Remove("sys/devices/virtual/dmi/id/product_uuid").Link("sys/devices/virtual/dmi/id/product_uuid", "/dev/zero"), nil, []string{"dmi_uuid"}},
		{"a NIC directory with 1,500 junk entries", vm.Clone(), func(t *testing.T, root string) {
			for i := range 1500 {
				os.WriteFile(filepath.Join(root, "sys/class/net", "junk"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+hex2(i%256)+hex2(i/256)), nil, 0o644)
			}
		}, nil},
		{"mountinfo of junk", vm.Clone().Set("proc/self/mountinfo", strings.Repeat("\x00\xff - - - \\777 \\\n", 1000)), nil, nil},
		{"a huge mountinfo", vm.Clone().Set("proc/self/mountinfo", strings.Repeat("x", maxMountinfo+1)), nil, nil},
		{"slaves that loop", load(t, "metal").Remove("sys/devices/virtual/block/dm-0/slaves/sda1").Link("sys/devices/virtual/block/dm-0/slaves/dm-0", "../../dm-0"),
			nil, []string{"disk:serial", "disk:wwid"}},
		{"a VPD page that lies about its length", load(t, "metal").
			Set("sys/devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/vpd_pg80", "\x00\x80\xff\xffZ1D5"), nil, []string{"disk:serial"}},
	} {
		t.Run(c.what, func(t *testing.T) {
			root := machineRoot(t, c.tree)
			if c.after != nil {
				c.after(t, root)
			}
			f := Collect(root, "/var/lib/tenure")
			for _, name := range c.gone {
				if v, ok := f.Values[name]; ok {
					t.Errorf("%s = %.40q was read", name, v)
				}
			}
			for name, v := range f.Values {
				if !ValidName(name) || clean([]byte(v)) != v {
					t.Errorf("component %q = %.40q", name, v)
				}
			}
			if len(f.Values) == 0 && !strings.Contains(c.what, "FIFO for mountinfo") && len(c.gone) == 0 {
				t.Errorf("nothing read at all")
			}
		})
	}
}

// TestCollectThisMachine reads the real machine: what it finds must be what
// the files say, under names the validator accepts.
func TestCollectThisMachine(t *testing.T) {
	f := Collect("/", t.TempDir())
	if b, err := os.ReadFile("/etc/machine-id"); err == nil {
		if id := strings.TrimSpace(string(b)); id != "" && id != "uninitialized" && f.Values["machine_id"] != id {
			t.Errorf("machine_id %q; /etc/machine-id says %q", f.Values["machine_id"], id)
		}
	}
	for name, v := range f.Values {
		if !ValidName(name) || v == "" || f.Sources[name] == "" || name == "mac:lo" {
			t.Errorf("component %q = %q from %q", name, v, f.Sources[name])
		}
	}
	t.Logf("this machine: %d classes %v: %v", len(classes(f.Values)), classes(f.Values), f.Values)
}

// diff lists the entries where two maps differ, one a line.
func diff[V comparable](want, got map[string]V) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if g, ok := got[k]; !ok || g != want[k] {
			fmt.Fprintf(&b, "-%s: %v\n", k, want[k])
			if ok {
				fmt.Fprintf(&b, "+%s: %v\n", k, g)
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			fmt.Fprintf(&b, "+%s: %v\n", k, got[k])
		}
	}
	return b.String()
}

// BenchmarkCollect is the cost every tenure process pays before its first
// call: a few dozen small reads.
func BenchmarkCollect(b *testing.B) {
	state := b.TempDir()
	for b.Loop() {
		Collect("/", state)
	}
}

// TestNoDMIClone: without readable DMI (a host not running as root) the
// machine id, the NICs and the state disk are read; a clone copies the
// disks (virtual disks' serials are often the hypervisor's defaults) and
// the machine id, and must not keep the license with its new NICs.
func TestNoDMIClone(t *testing.T) {
	const eno1 = "sys/devices/pci0000:00/0000:00:1f.6/net/eno1/address"
	const enp3s0 = "sys/devices/pci0000:00/0000:00:1c.0/0000:03:00.0/net/enp3s0/address"
	base := load(t, "metal").Remove("sys/devices/virtual/dmi/id/product_uuid")
	before := Collect(machineRoot(t, base), "/var/lib/tenure").Values
	if got := classes(before); !slices.Equal(got, []string{"disk", "mac", "machine"}) {
		t.Fatalf("bare metal without DMI: classes %v", got)
	}
	clone := base.Clone().Set(eno1, "a0:36:9f:11:11:11\n").Set(enp3s0, "a0:36:9f:11:11:12\n")
	after := Collect(machineRoot(t, clone), "/var/lib/tenure").Values
	if m := engine.MatchPlatform(engine.HashPlatform("edge", before), engine.HashPlatform("edge", after), 0); m.OK() {
		t.Errorf("a clone with new NICs kept the license: %s", m)
	}
	// The same machine run by root later (DMI readable): the license
	// made without DMI still holds.
	if m := engine.MatchPlatform(engine.HashPlatform("edge", before), engine.HashPlatform("edge", Collect(machineRoot(t, load(t, "metal")), "/var/lib/tenure").Values), 0); !m.OK() {
		t.Errorf("the same machine with DMI readable: %s", m)
	}
}
