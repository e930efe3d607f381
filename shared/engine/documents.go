package engine

import (
	"time"
)

// Document types: the first line of every document's body.
const (
	TypeRequest = "tenure.lrf/v1"
	TypeLicense = "tenure.license/v1"
	TypeRelease = "tenure.release/v1"
	TypeClock   = "tenure.clock/v1"
	TypeUsage   = "tenure.usage/v1"
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
	// Head is the history head of the LRF this license answers, present
	// only when that LRF carried one (validators from before the history
	// refuse a field they do not know).
	Head *Head `json:"head,omitempty"`
}

// A Request is the body of a tenure.lrf/v1 document, a License Request File:
// what an appliance says about itself, signed with its device key.
type Request struct {
	Appliance string     `json:"appliance"`
	Platform  Components `json:"platform"`
	Product   string     `json:"product"`
	// ProductHash is the SHA-256 of the product file the validator was
	// built with; absent from validators before Revision 2.
	ProductHash string     `json:"product_hash,omitempty"`
	Version     string     `json:"version"`
	DeviceKey   string     `json:"device_key"`
	Recipient   string     `json:"recipient"`
	TrialStart  time.Time  `json:"trial_start"`
	FirstUse    *time.Time `json:"first_use,omitempty"`
	Mode        string     `json:"mode"`
	GraceStart  *time.Time `json:"grace_start,omitempty"`
	Installed   []string   `json:"installed"`
	Sequence    uint64     `json:"sequence"`
	Created     time.Time  `json:"created"`
	Nonce       string     `json:"nonce"`
	History     *Trail     `json:"history,omitempty"` // absent from validators before the history
	// Usage is the running usage of the open period; absent when nothing
	// was recorded, and from validators before Revision 2.
	Usage *UsageSummary `json:"usage,omitempty"`
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
	History   *Trail    `json:"history,omitempty"` // absent from validators before the history
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
	// History and Facts are the history file and the record of frequent
	// facts, as the state holds them; absent from backups made before the
	// history, which restore migrates.
	History string `json:"history,omitempty"`
	Facts   string `json:"facts,omitempty"`
}
