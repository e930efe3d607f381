package facts

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenurehq/tenure/wasm/internal/facts/simtree"
)

// seeds returns a file of every simulated machine that has it, failing
// when none has: a fuzz target without its seeds tests nothing real.
func seeds(f *testing.F, path string) []string {
	files, _ := filepath.Glob(filepath.Join("testdata", "machines", "*.txtar"))
	var out []string
	for _, file := range files {
		tree, err := simtree.Load(file)
		if err != nil {
			f.Fatal(err)
		}
		if s := tree.Get(path); s != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		f.Fatalf("no seed for %s in testdata/machines", path)
	}
	return out
}

// escape writes a path as the kernel does in mountinfo.
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\n', '\\':
			fmt.Fprintf(&b, "\\%03o", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// FuzzMountinfo: whatever the file holds, parsing stays bounded and every
// mount read is one a mount point can be; written back as the kernel writes
// it, each reads the same again.
func FuzzMountinfo(f *testing.F) {
	for _, s := range seeds(f, "proc/self/mountinfo") {
		f.Add([]byte(s))
	}
	f.Add([]byte("36 35 98:0 /mnt1 /mnt\\0402 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		mounts := parseMountinfo(b)
		for _, m := range mounts {
			if !strings.HasPrefix(m.point, "/") || m.major > 1<<32-1 || m.minor > 1<<32-1 {
				t.Fatalf("bad mount %+v", m)
			}
			line := fmt.Sprintf("1 2 %d:%d / %s rw - ext4 %s rw\n", m.major, m.minor, escape(m.point), escape(m.source))
			again := parseMountinfo([]byte(line))
			if m.source == "" {
				continue // an empty source has no field to write back
			}
			if len(again) != 1 || again[0] != m {
				t.Fatalf("%+v written back as %q reads %+v", m, line, again)
			}
		}
		if m, ok := mountOf(mounts, "/var/lib/tenure"); ok && !within("/var/lib/tenure", m.point) {
			t.Fatalf("/var/lib/tenure is not below %q", m.point)
		}
	})
}

// FuzzVPD80: a serial is read only from a well-formed page, and a page
// made from it reads the same serial.
func FuzzVPD80(f *testing.F) {
	for _, s := range seeds(f, "sys/devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/vpd_pg80") {
		f.Add([]byte(s))
	}
	f.Add([]byte{0, 0x80, 0, 0})
	f.Add([]byte{0, 0x80, 0xff, 0xff, 'x'})
	f.Fuzz(func(t *testing.T, b []byte) {
		s := parseVPD80(b)
		if s == "" {
			return
		}
		if clean([]byte(s)) != s || len(b) < 4+len(s) {
			t.Fatalf("serial %q from %x", s, b)
		}
		page := append([]byte{0, 0x80, byte(len(s) >> 8), byte(len(s))}, s...)
		if again := parseVPD80(page); again != s {
			t.Fatalf("serial %q written back reads %q", s, again)
		}
	})
}

// FuzzAttribute: any attribute's contents clean to a printable value or to
// nothing, cleaning is idempotent, and an address normalises to one the
// validator accepts as a name.
func FuzzAttribute(f *testing.F) {
	for _, p := range []string{"etc/machine-id", "sys/devices/virtual/dmi/id/product_uuid",
		"sys/devices/pci0000:00/0000:00:03.0/virtio0/net/ens3/address", "sys/devices/virtual/net/lo/flags",
		"sys/devices/pci0000:00/0000:00:04.0/virtio1/block/vda/serial"} {
		for _, s := range seeds(f, p) {
			f.Add([]byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v := clean(b)
		if v != clean([]byte(v)) {
			t.Fatalf("clean is not idempotent on %q: %q", b, v)
		}
		for i := 0; i < len(v); i++ {
			if v[i] < 0x20 || v[i] > 0x7e {
				t.Fatalf("clean(%q) = %q keeps byte %#x", b, v, v[i])
			}
		}
		if a := normalizeMAC(v); a != "" {
			if normalizeMAC(a) != a || !ValidName("mac:"+a) {
				t.Fatalf("address %q from %q", a, v)
			}
		}
		_ = placeholder(v)
	})
}

// FuzzCollect writes what the fuzzer chooses into a simulated machine's
// attributes (the machine id, a NIC's address, assignment type and flags,
// the disk's serial and VPD page, mountinfo) and collects: whatever they
// hold, every component is one the validator accepts, within its bounds.
func FuzzCollect(f *testing.F) {
	tree, err := simtree.Load(filepath.Join("testdata", "machines", "metal.txtar"))
	if err != nil {
		f.Fatal(err)
	}
	const (
		eno1 = "sys/devices/pci0000:00/0000:00:1f.6/net/eno1/"
		sda  = "sys/devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/"
	)
	files := []string{"etc/machine-id", eno1 + "address", eno1 + "addr_assign_type", eno1 + "flags", sda + "wwid", sda + "vpd_pg80", "proc/self/mountinfo"}
	seed := make([][]byte, len(files))
	for i, p := range files {
		if seed[i] = []byte(tree.Get(p)); len(seed[i]) == 0 {
			f.Fatalf("no seed for %s", p)
		}
	}
	f.Add(seed[0], seed[1], seed[2], seed[3], seed[4], seed[5], seed[6])
	root := f.TempDir()
	if err := tree.Write(root); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, id, addr, assign, flags, wwid, vpd, mountinfo []byte) {
		for i, b := range [][]byte{id, addr, assign, flags, wwid, vpd, mountinfo} {
			if err := os.WriteFile(filepath.Join(root, files[i]), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got := Collect(root, "/var/lib/tenure")
		if len(got.Values) > 32 {
			t.Fatalf("%d components", len(got.Values))
		}
		for name, v := range got.Values {
			if !ValidName(name) || v == "" || clean([]byte(v)) != v || got.Sources[name] == "" {
				t.Fatalf("component %q = %q from %q", name, v, got.Sources[name])
			}
		}
	})
}
