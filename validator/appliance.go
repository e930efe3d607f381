package validator

import (
	"os"
	"sync"
	"time"

	"github.com/tenurehq/tenure/shared/abi"
	"github.com/tenurehq/tenure/shared/engine"
)

// An Appliance is the validator over one state directory. It keeps what it
// read, and re-reads only when the state's generation changes, so a warm
// instance answers a feature check without any signature verification or
// decryption. An Appliance is safe for use by one goroutine at a time per
// call; calls are serialised.
type Appliance struct {
	mu  sync.Mutex
	cfg *Config
	st  store

	snap *snapshot
	hw   time.Time // the high-water mark in memory: the latest host time seen
	// hwReset is the history number of the clock reset hw was last set
	// by: a newer reset in the state moves hw, even backwards.
	hwReset uint64

	// Caches that survive re-reads: licenses and receipts by the SHA-256 of
	// their bytes, for the appliance identity they were opened with.
	cacheOwner string
	licCache   map[[32]byte]opened
	cryptoOps  int

	platRaw   string
	platHash  engine.Components
	nowRaw    string // the last TENURE_NOW read, and its value
	nowVal    time.Time
	cur       call         // the call in progress
	checkIn   engine.Input // the check path's engine input, reused
	memo      checkMemo    // the last checks' answers
	lastCount lastCount    // the check counted last
	held      abi.Hold     // the last hold given, kept here so a check allocates none

	// gen is the generation file held open, so a warm call costs one read
	// of it and no path lookup; genOpened bounds how long a replaced file
	// (the whole directory swapped under a running host) can go unseen.
	gen       *os.File
	genOpened time.Time
	checked   time.Time // when the snapshot was last held to the state (refresh)
}

// New returns an appliance over cfg.Dir. It reads nothing until its first
// call.
func New(cfg *Config) *Appliance {
	return &Appliance{cfg: cfg, st: store{dir: cfg.Dir}}
}

// Close releases the files the appliance holds open.
func (a *Appliance) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.gen == nil {
		return nil
	}
	err := a.gen.Close()
	a.gen = nil
	return err
}

// CryptoOps returns how many licenses and receipts the appliance has
// decrypted or verified so far: a warm instance answering checks over an
// unchanged state adds none.
func (a *Appliance) CryptoOps() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cryptoOps
}
