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
	for name, h := range licensed {
		cl := ComponentClass(name)
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
