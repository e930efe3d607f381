// Package facts reads a Linux machine's own platform components for the
// tenure host: what a license is bound to when the operator gives no
// platform of their own (--platform FILE, $TENURE_PLATFORM).
//
// # Classes
//
// The engine matches a license class by class (engine.MatchPlatform): a
// class matches when any of its components does, and a license holds when
// every class it carries but one matches (and at least two). A class is
// named by its components' names, up to the first ':' or '_'. So the
// collector's job is to read as many independent classes as the machine
// has, each from a fact that changes only when that part of the machine
// changes:
//
//	class    component              value                             read from
//	machine  machine_id             the machine id, as written        /etc/machine-id
//	dmi      dmi_uuid               the board's UUID, lower case      /sys/class/dmi/id/product_uuid
//	mac      mac:ADDRESS            ADDRESS, lower-case hex:colons    /sys/class/net/IFNAME/address
//	mac      mac:IFNAME             the address, as above             /sys/class/net/IFNAME/address
//	disk     disk:wwid              the state disk's WWID             /sys/block/DISK/wwid or .../device/wwid
//	disk     disk:serial            the state disk's serial number    /sys/block/DISK/serial, .../device/serial or .../device/vpd_pg80
//
// Why these:
//
//   - machine_id is made once per installation (systemd); a VM moved to
//     another host keeps it, a clone of the image copies it. A file holding
//     "uninitialized" (first boot) is no id.
//   - dmi_uuid is the firmware's UUID of the machine or the VM: a clone gets
//     a new one, a migrated VM keeps its own. Only root can read it;
//     without root the class is missing. All zeros or all ones is SMBIOS
//     for "not set" and is left out.
//   - A NIC is named by its permanent address, mac:ADDRESS, not by its
//     interface name: a rename (eth0 to ens3, a new udev rule) keeps it. A
//     NIC counts when it has /sys/class/net/IFNAME/device (hardware, not a
//     bridge, veth, bond or tunnel) and addr_assign_type 0 (the address is
//     the device's own, not random or set by software), whatever its
//     locally administered bit: a VM's virtual NIC counts. Reading sysfs,
//     not the current network namespace, keeps the NICs in a namespace of
//     its own (unshare -n); under systemd's PrivateNetwork=, which mounts a
//     sysfs of the namespace, no NIC is seen and the class is missing,
//     which the rule allows for.
//   - mac:IFNAME is the name a host before Revision 2 used, for every
//     device-backed NIC (or, with none, every interface with an address
//     but the loopback), so that licenses issued then match as before.
//   - The disk that holds the state adds a class only where it is not the
//     disk /etc/machine-id lives on: there it is no independent evidence (a
//     disk moved into another machine takes the machine id with it), and
//     counting it twice would let a moved disk or a clone keep its
//     license. (Without DMI in a license, the engine counts the disk with
//     the machine id as one class: a clone copies every disk.) The state's
//     file system is found in /proc/self/mountinfo,
//     its block device under /sys/dev/block, through partitions and
//     stacked devices (device mapper, md) to the disk; of several, the
//     first by kernel name.
//
// At most 12 NICs are named each way (the first by address, and by
// interface name), so a platform stays within the 32 components a license
// carries.
//
// Where fewer than three classes can be read (no readable DMI, which is
// root's to read; a container), a replaced NIC, a moved
// disk and a clone look alike; there the operator supplies a stable
// identity instead (README, "Platform binding").
//
// # Bounds
//
// Nothing read here can hang or flood the host: files are opened without
// blocking and read only when regular, at most a page each (4 MiB for
// mountinfo), directories at most 512 entries, stacked devices 8 deep,
// symlinks as far as the kernel follows them; a value that is not
// printable ASCII is junk and left out.
package facts

import (
	"path/filepath"
	"strings"

	"github.com/tenurehq/tenure/shared/engine"
)

// Facts are the components read from one machine: each one's raw value and
// the file it was read from, named as on that machine.
type Facts struct {
	Values  map[string]string
	Sources map[string]string
}

// maxNICs is how many NICs are named each way.
const maxNICs = 12

// Collect reads the components of the machine whose file system is at root
// ("/" for this machine; a simulated tree in tests), for a state directory
// at state (a path as that machine sees it). A fact that cannot be read is
// left out.
func Collect(root, state string) Facts {
	root = filepath.Clean(root)
	m := machine{root: root, f: Facts{Values: map[string]string{}, Sources: map[string]string{}}}
	m.machineID()
	m.board()
	m.network()
	m.disk(m.statePath(state))
	return m.f
}

// A machine is a root being read.
type machine struct {
	root string
	f    Facts
}

// path is p (absolute, as the machine names it) under the root.
func (m *machine) path(p string) string { return filepath.Join(m.root, p) }

// add records a component, unless it has no value, a name the validator
// refuses, or one already taken (the first reading wins), or the platform
// is full (32 components, what a license carries).
func (m *machine) add(name, value, source string) {
	if _, taken := m.f.Values[name]; taken || value == "" || !ValidName(name) || len(m.f.Values) >= 32 {
		return
	}
	m.f.Values[name], m.f.Sources[name] = value, source
}

func (m *machine) machineID() {
	if v := readValue(m.path("/etc/machine-id")); v != "" && v != "uninitialized" {
		m.add("machine_id", v, "/etc/machine-id")
	}
}

func (m *machine) board() {
	const p = "/sys/class/dmi/id/product_uuid"
	v := strings.ToLower(readValue(m.path(p)))
	if v == "" || strings.Trim(v, "0-") == "" || strings.Trim(v, "f-") == "" {
		return
	}
	m.add("dmi_uuid", v, p)
}

// statePath is the state directory as an absolute, clean path on the
// machine, its symlinks resolved where it exists (on this machine only: a
// simulated tree's state is a name).
func (m *machine) statePath(state string) string {
	if m.root != "/" {
		return filepath.Clean("/" + state)
	}
	abs, err := filepath.Abs(state)
	if err != nil {
		return ""
	}
	// The state may not exist yet (before init): resolve its nearest
	// existing ancestor, so that the first call and the later ones agree.
	rest := ""
	for p := abs; ; p = filepath.Dir(p) {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(r, rest)
		}
		if p == filepath.Dir(p) {
			return abs
		}
		rest = filepath.Join(filepath.Base(p), rest)
	}
}

// ValidName reports whether name is a component name the validator accepts
// ([engine.ValidComponentName]).
func ValidName(name string) bool { return engine.ValidComponentName(name) }
