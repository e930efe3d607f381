package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tenurehq/tenure/schema"
)

// Document types: the first line of every document's body.
const (
	TypeRequest = "tenure.lrf/v1"
	TypeLicense = "tenure.license/v1"
	TypeRelease = "tenure.release/v1"
	TypeBackup  = "tenure.backup/v1"
	TypeProduct = "tenure.product/v1"
)

// License kinds.
const (
	KindCommercial = "commercial"
	KindAddon      = "addon"
	KindNFCU       = "nfcu"
	KindGate       = "gate"
)

// License reasons: the issuing case that made a license.
const (
	ReasonInitial      = "initial"
	ReasonRenewal      = "renewal"
	ReasonUpgrade      = "upgrade"
	ReasonProlongation = "prolongation"
	ReasonDowngrade    = "downgrade"
	ReasonReissue      = "reissue"
	ReasonReallocation = "reallocation"
)

// Modes an appliance can be in.
const (
	ModeTrial      = "trial"
	ModeLicensed   = "licensed"
	ModeGrace      = "grace"
	ModeRestricted = "restricted"
)

// A License is the body of a tenure.license/v1 document: the right of one
// appliance on one platform to a product's features and limits for a window
// [From, Until).
type License struct {
	ID            string           `json:"id"`
	Contract      string           `json:"contract"`
	Revision      int              `json:"revision"`
	Customer      string           `json:"customer"`
	Product       string           `json:"product"`
	Tier          string           `json:"tier"`
	Kind          string           `json:"kind"`
	Appliance     string           `json:"appliance"`
	Platform      Components       `json:"platform"`
	DeviceKeyHash string           `json:"device_key_hash"`
	Features      []string         `json:"features"`
	Limits        map[string]int64 `json:"limits"`
	From          time.Time        `json:"from"`
	Until         time.Time        `json:"until"`
	GraceDays     int              `json:"grace_days"`
	MinVersion    string           `json:"min_version,omitempty"`
	MaxVersion    string           `json:"max_version,omitempty"`
	Reason        string           `json:"reason"`
	Supersedes    []string         `json:"supersedes,omitempty"`
	Issued        time.Time        `json:"issued"`
}

// A Request is the body of a tenure.lrf/v1 document, a License Request File:
// what an appliance says about itself, signed with its device key.
type Request struct {
	Appliance  string     `json:"appliance"`
	Platform   Components `json:"platform"`
	Product    string     `json:"product"`
	Version    string     `json:"version"`
	DeviceKey  string     `json:"device_key"`
	Recipient  string     `json:"recipient"`
	TrialStart time.Time  `json:"trial_start"`
	FirstUse   *time.Time `json:"first_use,omitempty"`
	Mode       string     `json:"mode"`
	GraceStart *time.Time `json:"grace_start,omitempty"`
	Installed  []string   `json:"installed"`
	Sequence   uint64     `json:"sequence"`
	Created    time.Time  `json:"created"`
	Nonce      string     `json:"nonce"`
}

// A Release is the body of a tenure.release/v1 document: an appliance's signed
// word that it dropped a contract's licenses.
type Release struct {
	Contract  string    `json:"contract"`
	Licenses  []string  `json:"licenses"`
	Appliance string    `json:"appliance"`
	Released  time.Time `json:"released"`
	Sequence  uint64    `json:"sequence"`
	Nonce     string    `json:"nonce"`
}

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

// BindingPolicy says how many hashed platform components must match.
type BindingPolicy struct {
	// MinMatch is the number of a license's components that must match;
	// 0 means a majority, ⌊n/2⌋+1.
	MinMatch int `json:"min_match,omitempty"`
}

// A Backup is the body of a tenure.backup/v1 document: an appliance's whole
// state, carried encrypted to a passphrase.
type Backup struct {
	Appliance string            `json:"appliance"`
	Product   string            `json:"product"`
	Version   string            `json:"version"`
	DeviceKey string            `json:"device_key"`
	Identity  string            `json:"identity"`
	Platform  Components        `json:"platform"`
	Trials    map[string]string `json:"trials"`
	FirstUse  *time.Time        `json:"first_use,omitempty"`
	HighWater time.Time         `json:"high_water"`
	Sequence  uint64            `json:"sequence"`
	Licenses  map[string]string `json:"licenses"`
	Released  map[string]string `json:"released"`
	Receipts  map[string]string `json:"receipts"`
	Created   time.Time         `json:"created"`
	Extra     map[string]string `json:"extra,omitempty"`
}

// Encode returns the body of a document: its type on the first line, then its
// one exact JSON encoding on the second.
func Encode(typ string, v any) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("failed to encode %s: %w", typ, err)
	}
	if c, ok := v.(interface{ sortedLists() error }); ok {
		if err := c.sortedLists(); err != nil {
			return nil, fmt.Errorf("failed to encode %s: %w", typ, err)
		}
	}
	body := make([]byte, 0, len(typ)+len(j)+2)
	body = append(body, typ...)
	body = append(body, '\n')
	body = append(body, j...)
	body = append(body, '\n')
	if err := schema.Validate(typ, j); err != nil {
		return nil, fmt.Errorf("failed to encode %s: %w", typ, err)
	}
	return body, nil
}

// Decode parses a body made by [Encode] into v. It accepts only the exact
// encoding: the type line, JSON valid against the type's schema with no
// unknown fields, and bytes equal to v's re-encoding.
func Decode(typ string, body []byte, v any) error {
	j, ok := bytes.CutPrefix(body, []byte(typ+"\n"))
	if !ok {
		first, _, _ := strings.Cut(string(body), "\n")
		if len(first) > 40 {
			first = first[:40] + "…"
		}
		return fmt.Errorf("%w: expected a %s document, found %q", ErrMalformed, typ, first)
	}
	j, ok = bytes.CutSuffix(j, []byte("\n"))
	if !ok || bytes.IndexByte(j, '\n') >= 0 {
		return fmt.Errorf("%w: %s body must be one line of JSON", ErrMalformed, typ)
	}
	if err := schema.Validate(typ, j); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrMalformed, typ, err)
	}
	if c, ok := v.(interface{ sortedLists() error }); ok {
		if err := c.sortedLists(); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrMalformed, typ, err)
		}
	}
	again, err := json.Marshal(v)
	if err != nil || !bytes.Equal(again, j) {
		return fmt.Errorf("%w: %s is not in its one exact encoding (compact JSON, fields in order, sorted lists)", ErrMalformed, typ)
	}
	return nil
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
	return &p, nil
}

// graceDays returns the product's grace period in days, 90 if unset.
func (p *Product) graceDays() int {
	if p == nil || p.GraceDays <= 0 {
		return 90
	}
	return p.GraceDays
}

func (p *Product) trialDays() int {
	if p == nil || p.Trial.Days <= 0 {
		return 30
	}
	return p.Trial.Days
}

// HasFeature reports whether f is in the product's catalog.
func (p *Product) HasFeature(f string) bool { return slices.Contains(p.Features, f) }

// sortedLists checks the lists whose order carries no meaning are sorted and
// free of repeats, so that a document has one encoding.
func (l *License) sortedLists() error {
	return errors.Join(sortedSet("features", l.Features), sortedSet("supersedes", l.Supersedes))
}

func (r *Request) sortedLists() error { return sortedSet("installed", r.Installed) }

func (r *Release) sortedLists() error { return sortedSet("licenses", r.Licenses) }

func sortedSet(field string, list []string) error {
	for i := 1; i < len(list); i++ {
		if list[i-1] >= list[i] {
			return fmt.Errorf("%s must be sorted without repeats", field)
		}
	}
	return nil
}
