package wasm

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// Facts returns the machine's own platform components on Linux:
//
//   - machine_id: /etc/machine-id, made once per installation by systemd.
//   - dmi_uuid: /sys/class/dmi/id/product_uuid, the firmware's UUID of the
//     machine (or of the VM). Only root can read it; without root it is
//     left out quietly, and the other components carry the binding.
//   - mac:IFACE: the hardware address of each network interface backed by a
//     device. Bridges, veth pairs and tunnels come and go with containers
//     and VPNs, so they are left out when a device-backed NIC exists;
//     otherwise (inside a container) every non-loopback interface with an
//     address counts.
//
// A replaced NIC or a moved VM changes one component; the binding needs only
// a majority, so the license survives it.
func Facts() (map[string]string, error) {
	m := map[string]string{}
	if b, err := os.ReadFile("/etc/machine-id"); err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			m["machine_id"] = id
		}
	}
	if b, err := os.ReadFile("/sys/class/dmi/id/product_uuid"); err == nil {
		if id := strings.ToLower(strings.TrimSpace(string(b))); id != "" {
			m["dmi_uuid"] = id
		}
	}
	ifaces, err := net.Interfaces()
	if err == nil {
		devices, others := map[string]string{}, map[string]string{}
		for _, ifc := range ifaces {
			if ifc.Flags&net.FlagLoopback != 0 || len(ifc.HardwareAddr) == 0 || !componentName("mac:"+ifc.Name) {
				continue
			}
			if _, err := os.Stat(filepath.Join("/sys/class/net", ifc.Name, "device")); err == nil {
				devices["mac:"+ifc.Name] = ifc.HardwareAddr.String()
			} else {
				others["mac:"+ifc.Name] = ifc.HardwareAddr.String()
			}
		}
		if len(devices) == 0 {
			devices = others
		}
		for k, v := range devices {
			m[k] = v
		}
	}
	if len(m) == 0 {
		return nil, errors.New("found no platform facts (no /etc/machine-id, no network interface); pass the platform with --platform FILE or $TENURE_PLATFORM")
	}
	return m, nil
}

// componentName reports whether name is a component name the validator
// accepts: lower-case letters, digits and _.:-, at most 64.
func componentName(name string) bool {
	if len(name) == 0 || len(name) > 64 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("_.:-", r)) {
			return false
		}
	}
	return true
}
