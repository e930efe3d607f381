package validator

import (
	"time"

	"github.com/tenurehq/tenure/shared/engine"
)

// Records in the state directory.
type (
	applianceRecord struct {
		ID        string            `json:"id"`
		Product   string            `json:"product"`
		Version   string            `json:"version"`
		DeviceKey string            `json:"device_key"` // the private note key, named with ID
		Identity  string            `json:"identity"`   // the age X25519 identity
		Platform  engine.Components `json:"platform"`   // the platform it was made on
		Created   time.Time         `json:"created"`
		// First is the hash of the history's first event. A record without
		// it was written before the history, and its state is migrated
		// once; a record with it whose history is gone is damage, never a
		// new start.
		First string `json:"first,omitempty"`
	}

	// factsRecord holds the frequent facts, which are not history events
	// so the history stays small: it is rewritten in place, and its MAC
	// covers the history head it was written with, so putting back an
	// older history or an older record alone is seen.
	factsRecord struct {
		Head engine.Head `json:"head"`
		// Next is the head of a history write under way that adds more
		// than one event (a restore over an older state): written before
		// that history, so a power cut between the two is not taken for
		// a record put back.
		Next      *engine.Head  `json:"next,omitempty"`
		HighWater time.Time     `json:"high_water"`
		Sequence  uint64        `json:"sequence"`
		Requests  []requestFact `json:"requests,omitempty"` // the newest last, at most maxRequests
		// Tampered carries over why the clock record was not trusted (a
		// migrated state's, or one rewritten after it failed), until a
		// clock reset re-establishes the clock.
		Tampered string `json:"tampered,omitempty"`
		// Reset is the history number of the newest clock reset when the
		// record was written: a record from before a reset (a power cut
		// between its two writes) holds a mark and a tamper the reset
		// undid.
		Reset uint64 `json:"reset,omitempty"`
		// Usage are the usage counters of the open period, by contract
		// (counters.go); `tenure report` starts them again.
		Usage map[string]*contractCounters `json:"usage,omitempty"`
	}

	// requestFact is one LRF the appliance made: a clock reset must answer
	// the newest.
	requestFact struct {
		Sequence uint64    `json:"sequence"`
		Nonce    string    `json:"nonce"`
		Created  time.Time `json:"created"`
	}

	// previousRecord keeps the identity of the appliance a backup came from,
	// when it was restored onto another platform: enough to open and list its
	// licenses (inactive).
	previousRecord struct {
		Appliance string `json:"appliance"`
		Identity  string `json:"identity"`
		DeviceKey string `json:"device_key"` // verifier key
	}
)

// maxRequests is how many requests the facts record remembers.
const maxRequests = 16

// Records of a state written before the history, read once by the
// migration (migrate.go) and removed after it.
type (
	clockRecord struct {
		HighWater time.Time `json:"high_water"`
	}
	sequenceRecord struct {
		Sequence uint64 `json:"sequence"`
	}
	firstUseRecord struct {
		At time.Time `json:"at"`
	}
	trialRecord struct {
		Platform engine.Components `json:"platform"`
		Started  time.Time         `json:"started"`
	}
)
