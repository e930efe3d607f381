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

// A Match is the outcome of comparing a license's components with the
// platform's.
type Match struct {
	Matched int // components of the license also present, equal, on the platform
	Of      int // components in the license
	Needed  int // matches required
}

// OK reports whether enough components matched.
func (m Match) OK() bool { return m.Of > 0 && m.Matched >= m.Needed }

func (m Match) String() string {
	return fmt.Sprintf("%d of %d platform components match, %d needed", m.Matched, m.Of, m.Needed)
}

// MatchPlatform compares licensed components with the current platform's.
// minMatch is the product's binding.min_match; 0 means a majority of the
// licensed components, ⌊n/2⌋+1. A replaced NIC or a moved VM keeps a license;
// another machine does not.
func MatchPlatform(licensed, current Components, minMatch int) Match {
	m := Match{Of: len(licensed), Needed: minMatch}
	if m.Needed <= 0 {
		m.Needed = len(licensed)/2 + 1
	}
	if m.Needed > m.Of {
		m.Needed = m.Of
	}
	for name, h := range licensed {
		if current[name] == h {
			m.Matched++
		}
	}
	return m
}
