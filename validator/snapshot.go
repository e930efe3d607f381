package validator

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"filippo.io/age"
	"golang.org/x/mod/sumdb/note"

	"github.com/tenurehq/tenure/shared/engine"
)

// snapshot is the state directory as read at one generation: the records,
// the verified history, and what is derived from it.
type snapshot struct {
	gen      string
	app      *applianceRecord // nil: not initialised
	signer   note.Signer
	verifier string // the device's verifier key
	identity *age.X25519Identity
	previous []previous

	hist  *history    // the verified history; empty when broken
	facts factsRecord // as read, or as the migration made it
	// broken says why the history cannot be trusted (gone, cut, edited,
	// not the one the records name): nothing is proven.
	broken string
	// tampered says why the facts record is not trusted (gone, edited,
	// older than the history): the clock is not known.
	tampered string
	// migrated is a state from before the history read into one in
	// memory, to be written by the first call that may write.
	migrated bool

	// Derived from the history.
	trials    []trialFact
	firstUse  *time.Time
	highWater time.Time
	sequence  uint64
	licenses  []*stored
	released  map[string]*event // license id to its release event
	resets    []*event          // the clock resets applied, oldest first
	warnings  []string

	// entries caches the engine's view for one platform and version, and
	// trial the trial start for one platform.
	entriesPlat    string
	entriesVersion string
	entries        []engine.Entry
	trialKey       string
	trial          time.Time
	trialOK        bool
	// mode caches the check path's evaluation for those entries.
	mode *modeCache
	// stamps are the history and facts files as read.
	stamps stamps
}

type previous struct {
	rec      previousRecord
	identity *age.X25519Identity
}

// trialFact is a trial the history records: on which platform, from when.
type trialFact struct {
	platform engine.Components
	started  time.Time
}

// stored is one license the history names and what its file gave.
type stored struct {
	id      string
	ev      *event // the install event; nil for a license kept on record by a restore
	text    []byte // the file's bytes; nil when missing
	lic     *engine.License
	missing string // why the file does not hold what was installed
	err     error  // why it could not be opened or verified
	owner   string // the appliance whose identity opened it
}

// opened is a cached result of unsealing and verifying one license file.
type opened struct {
	lic   *engine.License
	err   error
	owner string
}

func (a *Appliance) load(gen string) (*snapshot, error) {
	s := &snapshot{gen: gen, hist: &history{}, released: map[string]*event{}}
	if err := a.st.scan(); err != nil {
		return nil, err
	}
	s.stamps = a.st.stamps()
	data, err := a.st.read(fileAppliance)
	if isNotExist(err) {
		a.st.macKey = nil
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read the appliance record: %w", err)
	}
	var app applianceRecord
	if err := decodeRecord(nil, fileAppliance, data, &app, func() []byte { return macKeyFor(app.DeviceKey) }); err != nil {
		return nil, fmt.Errorf("the appliance %w; restore a backup with `tenure restore`", err)
	}
	s.app = &app
	if s.signer, err = note.NewSigner(app.DeviceKey); err != nil {
		return nil, fmt.Errorf("the appliance record holds a bad device key: %w; restore a backup with `tenure restore`", err)
	}
	if s.verifier, err = engine.VerifierKey(app.DeviceKey); err != nil {
		return nil, fmt.Errorf("the appliance record holds a bad device key: %w; restore a backup with `tenure restore`", err)
	}
	if s.identity, err = age.ParseX25519Identity(app.Identity); err != nil {
		return nil, fmt.Errorf("the appliance record holds a bad age identity: %w; restore a backup with `tenure restore`", err)
	}
	a.st.macKey = macKeyFor(app.DeviceKey)
	if a.cacheOwner != app.ID {
		a.cacheOwner, a.licCache = app.ID, map[[32]byte]opened{}
	}
	if err := a.loadPrevious(s); err != nil {
		return nil, err
	}
	if app.First == "" {
		if err := a.migrate(s); err != nil {
			return nil, err
		}
	} else if err := a.loadHistory(s); err != nil {
		return nil, err
	}
	s.derive()
	if err := a.loadLicenses(s); err != nil {
		return nil, err
	}
	return s, nil
}

func (a *Appliance) loadPrevious(s *snapshot) error {
	names, err := a.st.list(dirPrevious)
	if err != nil {
		return err
	}
	for _, n := range names {
		var p previousRecord
		if _, err := a.st.getRecord(dirPrevious+"/"+n, &p); err != nil {
			s.warnings = append(s.warnings, err.Error())
			continue
		}
		id, err := age.ParseX25519Identity(p.Identity)
		if err != nil {
			s.warnings = append(s.warnings, fmt.Sprintf("record %s/%s holds a bad identity: %v", dirPrevious, n, err))
			continue
		}
		s.previous = append(s.previous, previous{rec: p, identity: id})
	}
	return nil
}

// loadHistory reads the history the appliance record names and the facts
// record bound to it. Whatever fails to match makes the state broken
// (nothing proven) or its clock tampered; neither is ever a fresh start.
func (a *Appliance) loadHistory(s *snapshot) error {
	data, err := a.st.readBounded(fileHistory, maxHistory)
	switch {
	case isNotExist(err):
		s.broken = "the history file is missing"
		return nil
	case err != nil:
		return fmt.Errorf("failed to read the history: %w", err)
	}
	h, err := parseHistory(data, a.st.macKey, s.app.First)
	if err != nil {
		s.broken = err.Error()
		return nil
	}
	s.hist = h
	var f factsRecord
	found, err := a.st.getRecord(fileFacts, &f)
	switch {
	case errors.Is(err, errTampered):
		s.tampered = "the record of frequent facts failed its integrity check"
		return nil
	case err != nil:
		return err
	case !found:
		s.tampered = "the record of frequent facts is missing"
		return nil
	}
	hd := h.head()
	switch {
	case f.Head == hd, f.Next != nil && *f.Next == hd:
	case f.Head.N+1 == hd.N && h.hashes[hd.N-2] == f.Head.Hash:
		// A power cut between the history and the record written after
		// it: the event is the commit point, and the record is rewritten
		// by the next write.
	case f.Head.N > hd.N || f.Head.N == 0 || h.hashes[f.Head.N-1] != f.Head.Hash:
		s.broken = fmt.Sprintf("the history (%d events) is not the one its record of frequent facts was written with (%d events): it was cut or replaced", hd.N, f.Head.N)
		s.hist = &history{}
		return nil
	default:
		s.tampered = fmt.Sprintf("the record of frequent facts is older than the history (%d of %d events): it was put back", f.Head.N, hd.N)
		return nil
	}
	s.facts = f
	s.tampered = f.Tampered
	return nil
}

// derive reads the history's events into what evaluation needs.
func (s *snapshot) derive() {
	s.highWater, s.sequence = s.facts.HighWater, s.facts.Sequence
	seen := map[string]bool{}
	for _, e := range s.hist.events {
		if e.At.After(s.highWater) {
			s.highWater = e.At
		}
		switch e.Kind {
		case eventInit, eventTrial:
			s.trials = append(s.trials, trialFact{platform: e.Platform, started: e.At})
		case eventFirstUse:
			if s.firstUse == nil {
				at := e.At
				s.firstUse = &at
			}
		case eventInstall:
			if l := e.License; l != nil && !seen[l.ID] {
				seen[l.ID] = true
				s.licenses = append(s.licenses, &stored{id: l.ID, ev: e, lic: l})
			}
		case eventRelease:
			for _, id := range e.Release.Licenses {
				if _, ok := s.released[id]; !ok {
					s.released[id] = e
				}
			}
			s.sequence = max(s.sequence, e.Release.Sequence)
		case eventClock:
			s.resetTo(e)
		case eventReport:
			s.sequence = max(s.sequence, e.Report.Sequence)
		case eventRestore:
			for _, id := range e.Restore.Licenses {
				if !seen[id] {
					seen[id] = true
					s.licenses = append(s.licenses, &stored{id: id})
				}
			}
		}
	}
	switch n := s.resetN(); {
	case n == 0:
	case s.facts.Reset == n:
		if s.facts.HighWater.After(s.highWater) {
			s.highWater = s.facts.HighWater
		}
	case s.facts.Head.N > 0:
		// A record from before the newest reset, which loading accepted
		// (a power cut between the reset's two writes): the reset undid
		// its mark and its tamper, and the next write must not bring
		// them back.
		s.facts.HighWater, s.facts.Tampered, s.tampered = s.highWater, "", ""
	}
}

// resetTo applies clock reset e to what was derived before it: the mark
// replaces every time seen before (backwards if need be), and a trial or
// first use stamped after the mark is capped at it, since the vendor's
// clock says that time had not come. A facts record written before the
// reset (a power cut between the two writes) no longer floors the clock.
func (s *snapshot) resetTo(e *event) {
	mark := e.Clock.Mark
	s.highWater = mark
	for i := range s.trials {
		if s.trials[i].started.After(mark) {
			s.trials[i].started = mark
		}
	}
	if s.firstUse != nil && s.firstUse.After(mark) {
		s.firstUse = &mark
	}
	s.resets = append(s.resets, e)
}

// resetN is the number of the newest clock reset in the history, 0 when
// there is none.
func (s *snapshot) resetN() uint64 {
	if len(s.resets) == 0 {
		return 0
	}
	return s.resets[len(s.resets)-1].N
}

// loadLicenses reads the file of every license the history names and holds
// it to what was installed. A missing or altered file takes nothing away
// from what the history proves; it is damage while the license is active.
func (a *Appliance) loadLicenses(s *snapshot) error {
	for _, l := range s.licenses {
		text, err := a.st.readBounded(dirLicenses+"/"+l.id, engine.MaxDocument)
		switch {
		case isNotExist(err):
			l.missing = "its file " + dirLicenses + "/" + l.id + " is missing"
			continue
		case errors.Is(err, errTooLarge):
			l.missing = "its file " + dirLicenses + "/" + l.id + " is not a license"
			continue
		case err != nil:
			return fmt.Errorf("failed to read license %s: %w", l.id, err)
		}
		if l.ev != nil && l.ev.SHA256 != sha256Hex(text) {
			l.missing = "its file " + dirLicenses + "/" + l.id + " is not the one installed"
			continue
		}
		l.text = text
		o := a.open(s, text)
		if l.ev == nil {
			// Kept on record by a restore from another platform: only the
			// file says what it is.
			l.lic = o.lic
		}
		l.err, l.owner = o.err, o.owner
	}
	names, err := a.st.list(dirLicenses)
	if err != nil {
		return err
	}
	for _, n := range names {
		if !slices.ContainsFunc(s.licenses, func(l *stored) bool { return l.id == n }) {
			s.warnings = append(s.warnings, fmt.Sprintf("%s/%s is not in this appliance's history and is ignored; install it with `tenure install` if it is a license for this appliance", dirLicenses, n))
		}
	}
	return nil
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// receiptFor returns the receipt of release event e, as it was printed: a
// migrated receipt's text, or the receipt made again from the event (its
// body and the device key's signature are deterministic).
func (s *snapshot) receiptFor(e *event) ([]byte, error) {
	if e.Release.Receipt != "" {
		return []byte(e.Release.Receipt), nil
	}
	r := &engine.Release{Contract: e.Release.Contract, Licenses: e.Release.Licenses, Appliance: s.app.ID,
		Released: e.At, Sequence: e.Release.Sequence, Nonce: e.Release.Nonce, History: s.hist.trail(int(e.N))}
	return engine.SignRelease(r, s.signer)
}

// fileHolds reports whether the named state file holds exactly b.
func (a *Appliance) fileHolds(name string, b []byte) bool {
	got, err := a.st.readBounded(name, len(b)+1)
	return err == nil && bytes.Equal(got, b)
}
