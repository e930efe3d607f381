package engine

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/tenurehq/tenure/schema"
)

// A Product is the body of a tenure.product/v1 document: the policy both sides
// are built with.
type Product struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Features   []string        `json:"features"`
	Tiers      map[string]Tier `json:"tiers"`
	Trial      TrialPolicy     `json:"trial"`
	GraceDays  int             `json:"grace_days"`
	MinVersion string          `json:"min_version"`
	Binding    BindingPolicy   `json:"binding"`
	// RestrictedFeatures is "last" (the default: features keep answering
	// from the mode before restricted) or "deny" (fail closed).
	RestrictedFeatures string `json:"restricted_features,omitempty"`

	// SHA256 is the hex SHA-256 of the file's exact bytes, set by
	// [ParseProduct]: what names this version of the product in an LRF and
	// in the issuer's GET /v1/products.
	SHA256 string `json:"-"`
}

// A Tier is a named set of features and limits within a product.
type Tier struct {
	Features []string         `json:"features"`
	Limits   map[string]int64 `json:"limits"`
}

// TrialPolicy is how long a trial lasts and what it may use.
type TrialPolicy struct {
	Days   int              `json:"days"`
	Limits map[string]int64 `json:"limits"`
}

// BindingPolicy says how many classes of hashed platform components must
// match ([MatchPlatform]).
type BindingPolicy struct {
	// MinMatch is the number of a license's component classes that must
	// match (never more than it carries); 0 means every class but one, and
	// at least two.
	MinMatch int `json:"min_match,omitempty"`
}

// ParseProduct reads a product file: its type on the first line, then JSON in
// any layout (the file is written by people and not signed).
func ParseProduct(text []byte) (*Product, error) {
	j, ok := bytes.CutPrefix(text, []byte(TypeProduct+"\n"))
	if !ok {
		return nil, fmt.Errorf("%w: a product file starts with the line %s", ErrMalformed, TypeProduct)
	}
	if err := schema.Validate(TypeProduct, j); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	var p Product
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: product: %v", ErrMalformed, err)
	}
	for name, tier := range p.Tiers {
		for _, f := range tier.Features {
			if !slices.Contains(p.Features, f) {
				return nil, fmt.Errorf("%w: product %s: tier %s names feature %q, which is not in the catalog", ErrMalformed, p.ID, name, f)
			}
		}
	}
	p.SHA256 = ProductHash(text)
	return &p, nil
}

// ProductHash is the hex SHA-256 of a product file's exact bytes.
func ProductHash(text []byte) string {
	sum := sha256.Sum256(text)
	return hex.EncodeToString(sum[:])
}

// Defaults of a product that does not set them: the vendor FAQ's 30-day
// trial and 90-day grace period. They live here alone; everything else asks
// [Product.TrialDays] and [Product.GracePeriodDays].
const (
	DefaultTrialDays = 30
	DefaultGraceDays = 90
)

// TrialDays returns the length of the product's trial in days,
// [DefaultTrialDays] if unset.
func (p *Product) TrialDays() int {
	if p == nil || p.Trial.Days <= 0 {
		return DefaultTrialDays
	}
	return p.Trial.Days
}

// GracePeriodDays returns the grace period after a license's coverage ends
// in days, [DefaultGraceDays] if unset: what the issuer writes into a
// license's grace_days, and what the validator uses for a license that
// carries none.
func (p *Product) GracePeriodDays() int {
	if p == nil || p.GraceDays <= 0 {
		return DefaultGraceDays
	}
	return p.GraceDays
}

// HasLimit reports whether a limit called name is in the product's catalog:
// the trial's or a tier's.
func (p *Product) HasLimit(name string) bool {
	if _, ok := p.Trial.Limits[name]; ok {
		return true
	}
	for _, t := range p.Tiers {
		if _, ok := t.Limits[name]; ok {
			return true
		}
	}
	return false
}

// HasFeature reports whether f is in the product's catalog.
func (p *Product) HasFeature(f string) bool { return slices.Contains(p.Features, f) }
