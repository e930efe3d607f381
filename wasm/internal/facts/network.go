package facts

import (
	"slices"
	"strconv"
	"strings"
)

// A nic is one entry of /sys/class/net.
type nic struct {
	name, addr string
	device     bool // backed by a device: hardware, or a VM's virtual hardware
	permanent  bool // addr_assign_type 0: the device's own address
}

// network adds every device-backed NIC with its own address as
// mac:ADDRESS, and the first-wave names mac:IFNAME.
func (m *machine) network() {
	var nics []nic
	for _, name := range listDir(m.path("/sys/class/net")) {
		dir := m.path("/sys/class/net/" + name)
		addr := normalizeMAC(readValue(dir + "/address"))
		if addr == "" || loopback(dir) {
			continue
		}
		nics = append(nics, nic{
			name: name, addr: addr,
			device:    exists(dir + "/device"),
			permanent: readValue(dir+"/addr_assign_type") == "0",
		})
	}

	// By address, in the order of the addresses, so that which twelve
	// count does not hang on interface names.
	byAddr := slices.Clone(nics)
	slices.SortFunc(byAddr, func(a, b nic) int { return strings.Compare(a.addr, b.addr) })
	n := 0
	for _, c := range byAddr {
		if !c.device || !c.permanent || strings.Trim(c.addr, "0:") == "" || n >= maxNICs {
			continue
		}
		if _, dup := m.f.Values["mac:"+c.addr]; dup {
			continue
		}
		m.add("mac:"+c.addr, c.addr, "/sys/class/net/"+c.name+"/address")
		n++
	}

	// The first wave's names: every device-backed NIC, else (in a
	// container) every interface with an address, by interface name.
	var first []nic
	for _, c := range nics {
		if c.device && ValidName("mac:"+c.name) {
			first = append(first, c)
		}
	}
	if len(first) == 0 {
		for _, c := range nics {
			if ValidName("mac:" + c.name) {
				first = append(first, c)
			}
		}
	}
	for _, c := range first[:min(len(first), maxNICs)] {
		m.add("mac:"+c.name, c.addr, "/sys/class/net/"+c.name+"/address")
	}
}

// loopback reports whether the interface in dir is a loopback: IFF_LOOPBACK
// in its flags, or the loopback's hardware type.
func loopback(dir string) bool {
	if f, err := strconv.ParseUint(strings.TrimPrefix(readValue(dir+"/flags"), "0x"), 16, 32); err == nil && f&0x8 != 0 {
		return true
	}
	return readValue(dir+"/type") == "772" // ARPHRD_LOOPBACK
}

// normalizeMAC returns a hardware address as the kernel prints it and Go's
// net.HardwareAddr.String does (lower-case hex octets joined by colons, 1 to
// 20 of them), or "" for anything else.
func normalizeMAC(s string) string {
	if s == "" {
		return ""
	}
	s = strings.ToLower(s)
	parts := strings.Split(s, ":")
	if len(parts) > 20 {
		return ""
	}
	for _, p := range parts {
		if len(p) != 2 || strings.Trim(p, "0123456789abcdef") != "" {
			return ""
		}
	}
	return s
}
