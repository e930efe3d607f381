package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// Components are a platform's named components, each hashed with
// [HashComponent]: what a license and an LRF carry.
type Components map[string]string

// platformDomain separates platform hashes from every other use of SHA-256.
const platformDomain = "tenure.platform/v1"

// HashComponent hashes one raw platform component value:
// SHA-256("tenure.platform/v1" ‖ 0 ‖ product ‖ 0 ‖ name ‖ 0 ‖ value), in hex.
// The zero bytes keep the fields apart, so no two (product, name, value)
// triples hash alike.
func HashComponent(product, name, value string) string {
	h := sha256.New()
	for i, s := range []string{platformDomain, product, name, value} {
		if i > 0 {
			h.Write([]byte{0})
		}
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// HashPlatform hashes every raw component of a platform for product. Empty
// values are left out: a component the host could not read is not evidence.
func HashPlatform(product string, raw map[string]string) Components {
	c := make(Components, len(raw))
	for name, value := range raw {
		if strings.TrimSpace(value) == "" {
			continue
		}
		c[name] = HashComponent(product, name, strings.TrimSpace(value))
	}
	return c
}

// Fingerprint is a short, stable name for a set of components: the first 16
// hex digits of the SHA-256 of its sorted name=hash lines.
func (c Components) Fingerprint() string {
	names := make([]string, 0, len(c))
	for n := range c {
		names = append(names, n)
	}
	slices.Sort(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s=%s\n", n, c[n])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// ValidComponentName reports whether name is a platform component name
// the validator accepts: a lower-case letter, then lower-case letters,
// digits and _.:-, at most 64 (machine_id, mac:52:54:00:12:34:56).
func ValidComponentName(name string) bool {
	if len(name) == 0 || len(name) > 64 || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("_.:-", r)) {
			return false
		}
	}
	return true
}

// ComponentClass returns the class of a component name: the name up to its
// first ':' or '_', or the whole name when it has neither. The class of
// every component a license carries is so seen from its name alone, though
// the values are hashed:
//
//	machine_id                  machine  (/etc/machine-id)
//	dmi_uuid                    dmi      (the board: the firmware's UUID)
//	mac:52:54:00:12:34:56       mac      (the network: a NIC, by its address)
//	mac:eth0                    mac      (a NIC by interface name, before Revision 2)
//	disk:serial, disk:wwid      disk     (the disk that holds the state)
//	instance_id                 instance (a name an operator chose)
//
// Components of one class stand in for each other: a machine with two NICs
// keeps its network when either is replaced, and a NIC named by address and
// by interface name is one piece of evidence, not two.
func ComponentClass(name string) string {
	if i := strings.IndexAny(name, ":_"); i >= 0 {
		return name[:i]
	}
	return name
}

// A Match is the outcome of comparing a license's components with the
// platform's, class by class ([ComponentClass]).
type Match struct {
	Matched int // classes of the license with a component present and equal on the platform
	Of      int // classes in the license
	Needed  int // classes that must match
}

// OK reports whether enough classes matched.
func (m Match) OK() bool { return m.Of > 0 && m.Matched >= m.Needed }

func (m Match) String() string {
	return fmt.Sprintf("%d of %d component classes match, %d needed", m.Matched, m.Of, m.Needed)
}

// MatchPlatform compares licensed components with the current platform's. A
// class matches when any of its components is present on the platform with
// the same hash; the license holds when at least minMatch of its classes
// match. minMatch is the product's binding.min_match, a number of classes;
// 0 means every class the license carries but one, and at least two (one
// when the license carries a single class). Never more than the license
// carries are needed.
//
// The default lets any one class change: a replaced NIC, a private network
// namespace, a replaced disk, a VM moved to another host. With three or more
// classes it refuses a clone (new board, new NICs, same image) and a disk
// moved into another machine, which change two or more. With two classes
// both must match: one class alone is never enough unless it is all the
// license carries.
func MatchPlatform(licensed, current Components, minMatch int) Match {
	// At most 32 components (the schema's bound): the classes fit on the
	// stack, and a check on a warm instance allocates nothing.
	type class struct {
		name    string
		matched bool
	}
	var buf [32]class
	classes := buf[:0]
	// A license that names NICs by address ignores the first-wave names by
	// interface (mac:eth0): those are read from any address, one set by
	// software too, so a clone could match the network class through them.
	byAddress := false
	for name := range licensed {
		if macAddressName(name) {
			byAddress = true
			break
		}
	}
	// Without the board (DMI) the state disk is no evidence apart from the
	// machine id: a clone copies both. They count as one class.
	board := false
	for name := range licensed {
		if ComponentClass(name) == "dmi" {
			board = true
			break
		}
	}
	for name, h := range licensed {
		if byAddress && strings.HasPrefix(name, "mac:") && !macAddressName(name) {
			continue
		}
		cl := ComponentClass(name)
		if cl == "disk" && !board {
			cl = "machine"
		}
		i := 0
		for i < len(classes) && classes[i].name != cl {
			i++
		}
		if i == len(classes) {
			classes = append(classes, class{name: cl})
		}
		if h != "" && current[name] == h {
			classes[i].matched = true
		}
	}
	m := Match{Of: len(classes), Needed: minMatch}
	for _, c := range classes {
		if c.matched {
			m.Matched++
		}
	}
	if m.Needed <= 0 {
		m.Needed = max(m.Of-1, 2)
	}
	m.Needed = min(m.Needed, m.Of)
	return m
}

// MissingComponents returns the names of the licensed components that the
// current platform lacks or has with another value, sorted: what `tenure
// platform` lists for a license. A class may still match through another of
// its components.
func MissingComponents(licensed, current Components) []string {
	out := []string{}
	for name, h := range licensed {
		if h == "" || current[name] != h {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// unmatchedClasses returns the classes of the license of which no component
// matches, sorted: what a refusal names.
func unmatchedClasses(licensed, current Components) []string {
	var matched, all []string
	for name, h := range licensed {
		cl := ComponentClass(name)
		if !slices.Contains(all, cl) {
			all = append(all, cl)
		}
		if h != "" && current[name] == h && !slices.Contains(matched, cl) {
			matched = append(matched, cl)
		}
	}
	out := []string{}
	for _, cl := range all {
		if !slices.Contains(matched, cl) {
			out = append(out, cl)
		}
	}
	slices.Sort(out)
	return out
}

// A PlatformReport is what `tenure platform --json` prints: the components
// the host supplies and how each installed license matches them.
type PlatformReport struct {
	Components []ReportedComponent `json:"components"`
	Licenses   []LicenseMatch      `json:"licenses"`
}

// A ReportedComponent is one platform component: its name, where the host
// read it, and its hash ([HashComponent]), the value a license carries.
type ReportedComponent struct {
	Name   string `json:"name"`
	Source string `json:"source"`
	Hash   string `json:"hash"`
}

// A LicenseMatch is how one installed license matches the platform:
// Matched and Needed count classes ([MatchPlatform]); Missing names the
// license's components the platform lacks or has with another value
// ([MissingComponents]).
type LicenseMatch struct {
	ID      string   `json:"id"`
	Matched int      `json:"matched"`
	Needed  int      `json:"needed"`
	Missing []string `json:"missing"`
}

// macAddressName reports whether name is a NIC named by its address,
// mac:52:54:00:12:34:56, rather than by its interface (mac:eth0).
func macAddressName(name string) bool {
	a, ok := strings.CutPrefix(name, "mac:")
	if !ok || len(a) != 17 {
		return false
	}
	for i := 0; i < 17; i++ {
		c := a[i]
		if i%3 == 2 {
			if c != ':' {
				return false
			}
		} else if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
