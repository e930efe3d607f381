package facts

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// disk adds the identity of the disk that holds the state, unless it is the
// disk /etc/machine-id lives on (see the package doc).
func (m *machine) disk(state string) {
	if state == "" {
		return
	}
	b, err := readFile(m.path("/proc/self/mountinfo"), maxMountinfo)
	if err != nil {
		return
	}
	mounts := parseMountinfo(b)
	disks := m.disksOf(mounts, state)
	if len(disks) == 0 {
		return
	}
	if _, ok := m.f.Values["machine_id"]; ok {
		for _, d := range m.disksOf(mounts, "/etc/machine-id") {
			if slices.Contains(disks, d) {
				return
			}
		}
	}
	d := disks[0]
	name := filepath.Base(d)
	for _, rel := range []string{"wwid", "device/wwid"} {
		if v := readValue(d + "/" + rel); v != "" && !placeholder(v) {
			m.add("disk:wwid", v, "/sys/block/"+name+"/"+rel)
			break
		}
	}
	for _, rel := range []string{"serial", "device/serial", "device/vpd_pg80"} {
		var v string
		if rel == "device/vpd_pg80" {
			if b, err := readFile(d+"/"+rel, maxAttr); err == nil {
				v = parseVPD80(b)
			}
		} else {
			v = readValue(d + "/" + rel)
		}
		if v != "" && !placeholder(v) {
			m.add("disk:serial", v, "/sys/block/"+name+"/"+rel)
			break
		}
	}
}

// placeholder reports whether an identifier is no identifier: zeros and
// separators only, as firmware writes for "not set" (0000_0000_..., or a
// WWID's naa.0000000000000000).
func placeholder(v string) bool {
	if _, id, ok := strings.Cut(v, "."); ok {
		v = id
	}
	return strings.Trim(v, "0_-. ") == ""
}

// disksOf returns the disks (their real sysfs directories, sorted) under
// the file system that holds path.
func (m *machine) disksOf(mounts []mount, path string) []string {
	mt, ok := mountOf(mounts, path)
	if !ok {
		return nil
	}
	dev, ok := m.blockDevice(mt)
	if !ok {
		return nil
	}
	var out []string
	m.leaves(dev, 0, &out)
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(filepath.Base(a), filepath.Base(b)) })
	return out
}

// blockDevice finds the sysfs directory of a mount's block device: by its
// major:minor, or, for file systems that report an anonymous device (btrfs)
// by the /dev name of its source.
func (m *machine) blockDevice(mt mount) (string, bool) {
	if mt.major != 0 {
		return resolve(m.root, m.path(fmt.Sprintf("/sys/dev/block/%d:%d", mt.major, mt.minor)))
	}
	name, ok := strings.CutPrefix(mt.source, "/dev/")
	if !ok || name == "" {
		return "", false
	}
	if dm, ok := strings.CutPrefix(name, "mapper/"); ok {
		for _, b := range listDir(m.path("/sys/block")) {
			if strings.HasPrefix(b, "dm-") && readValue(m.path("/sys/block/"+b+"/dm/name")) == dm {
				return resolve(m.root, m.path("/sys/block/"+b))
			}
		}
		return "", false
	}
	if strings.ContainsAny(name, "/") || name == "." || name == ".." {
		return "", false
	}
	return resolve(m.root, m.path("/sys/class/block/"+name))
}

// leaves adds the disks under the block device in dir: through the devices
// it is stacked on (slaves/) and from a partition to its disk.
func (m *machine) leaves(dir string, depth int, out *[]string) {
	if depth > maxDepth || len(*out) >= maxEntries {
		return
	}
	if slaves := listDir(dir + "/slaves"); len(slaves) > 0 {
		for _, s := range slaves {
			if p, ok := resolve(m.root, dir+"/slaves/"+s); ok {
				m.leaves(p, depth+1, out)
			}
		}
		return
	}
	if exists(dir + "/partition") {
		dir = filepath.Dir(dir)
	}
	if !slices.Contains(*out, dir) {
		*out = append(*out, dir)
	}
}
