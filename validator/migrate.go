package validator

import (
	"errors"
	"fmt"
	"slices"

	"github.com/tenurehq/tenure/shared/engine"
)

// migrate reads a state written before the history (its appliance record
// names no first event) into a history in memory: the appliance's making,
// its trials, first use, the licenses it holds and the receipts it signed
// become events, and its clock and sequence the facts record. The first
// call that may write stores it (persistMigration); until then, and on a
// state that cannot be written, the appliance runs from the history in
// memory. It happens once: the stored appliance record names the first
// event, and from then on a missing history is damage, never a reason to
// migrate again.
func (a *Appliance) migrate(s *snapshot) error {
	s.migrated = true
	warn := func(err error) { s.warnings = append(s.warnings, err.Error()) }
	evs := []*event{{At: s.app.Created, Kind: eventInit, Platform: s.app.Platform}}

	var trials []*event
	names, err := a.st.list(dirTrials)
	if err != nil {
		return err
	}
	for _, n := range names {
		var tr trialRecord
		if _, err := a.st.getRecord(dirTrials+"/"+n, &tr); err != nil {
			warn(err)
			continue
		}
		if engine.MatchPlatform(s.app.Platform, tr.Platform, a.cfg.Product.Binding.MinMatch).OK() && !tr.Started.Before(s.app.Created) {
			continue // the home platform's trial is the init event's
		}
		trials = append(trials, &event{At: tr.Started, Kind: eventTrial, Platform: tr.Platform})
	}
	slices.SortStableFunc(trials, func(x, y *event) int { return x.At.Compare(y.At) })
	evs = append(evs, trials...)

	var fu firstUseRecord
	if found, err := a.st.getRecord(fileFirstUse, &fu); err != nil {
		warn(err)
	} else if found {
		evs = append(evs, &event{At: fu.At, Kind: eventFirstUse})
	}

	var installs, kept []*event
	var keptIDs []string
	names, err = a.st.list(dirLicenses)
	if err != nil {
		return err
	}
	slices.Sort(names)
	for _, n := range names {
		text, err := a.st.readBounded(dirLicenses+"/"+n, engine.MaxDocument)
		if err != nil {
			warn(fmt.Errorf("license file %s/%s cannot be read and is not migrated: %v", dirLicenses, n, err))
			continue
		}
		o := a.open(s, text)
		switch {
		case o.err == nil && o.owner == s.app.ID && o.lic.ID == n:
			installs = append(installs, &event{At: o.lic.Issued, Kind: eventInstall, License: o.lic, SHA256: sha256Hex(text)})
		case o.owner != s.app.ID && o.owner != "":
			keptIDs = append(keptIDs, n) // an earlier appliance's, from a restore elsewhere
		default:
			warn(fmt.Errorf("license file %s/%s does not open (%v) and is not migrated; install a good copy with `tenure install`", dirLicenses, n, o.err))
		}
	}
	slices.SortStableFunc(installs, func(x, y *event) int { return x.At.Compare(y.At) })
	evs = append(evs, installs...)

	releases, seq, err := a.legacyReceipts(s)
	if err != nil {
		return err
	}
	evs = append(evs, releases...)
	if len(keptIDs) > 0 && len(s.previous) > 0 {
		kept = append(kept, &event{At: s.app.Created, Kind: eventRestore, Restore: &restoreEvent{Appliance: s.previous[0].rec.Appliance, Licenses: keptIDs}})
	}
	evs = append(evs, kept...)

	f := factsRecord{}
	var clock clockRecord
	switch found, err := a.st.getRecord(fileClock, &clock); {
	case errors.Is(err, errTampered):
		f.Tampered = "the clock record failed its integrity check"
	case err != nil:
		return err
	case !found:
		f.Tampered = "the clock record is missing"
	default:
		f.HighWater = clock.HighWater
	}
	var sq sequenceRecord
	if _, err := a.st.getRecord(fileSequence, &sq); err != nil {
		warn(err)
	}
	f.Sequence = max(sq.Sequence, seq)
	at := f.HighWater
	for _, e := range evs {
		if e.At.After(at) {
			at = e.At
		}
	}
	evs = append(evs, &event{At: at, Kind: eventMigrate})
	_, h, err := appendEvents(&history{}, a.st.macKey, evs...)
	if err != nil {
		return err
	}
	f.Head = h.head()
	s.hist, s.facts, s.tampered = h, f, f.Tampered
	// A history already here is either this very migration, cut before its
	// commit point (the same events, since migrating is deterministic), or
	// one written since, behind an appliance record put back from before
	// the migration: that is damage, and never a second migration.
	data, err := a.st.readBounded(fileHistory, maxHistory)
	switch {
	case isNotExist(err):
	case err != nil:
		return fmt.Errorf("failed to read the history: %w", err)
	default:
		if got, err := parseHistory(data, a.st.macKey, h.hashes[0]); err != nil || got.head() != h.head() {
			s.migrated, s.hist = false, &history{}
			s.broken = "the appliance record names no history, but the state holds one: the record was put back from before the history"
		}
	}
	return nil
}

// legacyReceipts turns the receipts of a state from before the history into
// release events that keep their text, so `release` prints them again as
// they were.
func (a *Appliance) legacyReceipts(s *snapshot) ([]*event, uint64, error) {
	names, err := a.st.list(dirReceipts)
	if err != nil {
		return nil, 0, err
	}
	var evs []*event
	var seq uint64
	for _, n := range names {
		text, err := a.st.readBounded(dirReceipts+"/"+n, engine.MaxDocument)
		if err != nil {
			return nil, 0, fmt.Errorf("failed to read receipt %s: %w", n, err)
		}
		a.cryptoOps++
		rel, _, err := engine.OpenRelease(text, func(appliance string) (string, error) {
			if appliance == s.app.ID {
				return s.verifier, nil
			}
			return "", fmt.Errorf("receipt of another appliance %s", appliance)
		})
		if err != nil {
			s.warnings = append(s.warnings, fmt.Sprintf("receipt %s is damaged and not migrated: %v", n, err))
			continue
		}
		evs = append(evs, &event{At: rel.Released, Kind: eventRelease, Release: &releaseEvent{Contract: rel.Contract,
			Licenses: rel.Licenses, Sequence: rel.Sequence, Nonce: rel.Nonce, Receipt: string(text)}})
		seq = max(seq, rel.Sequence)
	}
	slices.SortStableFunc(evs, func(x, y *event) int { return x.At.Compare(y.At) })
	return evs, seq, nil
}

// persistMigration stores a history migrated in memory: the history, the
// facts record, then the appliance record naming the first event (the
// commit point: a power cut before it leaves the old state, which migrates
// again). The files of the old state are removed after it.
func (c *call) persistMigration() error {
	s := c.a.snap
	if s == nil || !s.migrated {
		return nil
	}
	st := &c.a.st
	data, err := s.hist.encode(st.macKey)
	if err != nil {
		return err
	}
	if err := st.write(fileHistory, data); err != nil {
		return err
	}
	if err := st.putRecord(fileFacts, s.facts); err != nil {
		return err
	}
	app := *s.app
	app.First = s.hist.hashes[0]
	if err := st.putRecord(fileAppliance, &app); err != nil {
		return err
	}
	s.app, s.migrated, c.changed = &app, false, true
	c.removeLegacy()
	return nil
}

// removeLegacy removes the files of a state from before the history. They
// are ignored once the appliance record names its first event, so a power
// cut that leaves some behind loses nothing.
func (c *call) removeLegacy() {
	st := &c.a.st
	for _, name := range []string{fileClock, fileSequence, fileFirstUse} {
		st.remove(name)
	}
	for _, dir := range []string{dirTrials, dirReceipts} {
		names, _ := st.list(dir)
		for _, n := range names {
			st.remove(dir + "/" + n)
		}
	}
}
