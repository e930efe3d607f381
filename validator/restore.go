package validator

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/tenurehq/tenure/shared/engine"
)

// backupHistory reads a backup's history and facts record, verified under
// the state key of the backup's own device key.
func backupHistory(b *engine.Backup) (*history, factsRecord, error) {
	key := macKeyFor(b.DeviceKey)
	h, err := parseHistory([]byte(b.History), key, "")
	if err != nil {
		return nil, factsRecord{}, fmt.Errorf("the backup's history is damaged (%v); restore another backup", err)
	}
	var f factsRecord
	if err := decodeRecord(key, fileFacts, []byte(b.Facts), &f, nil); err != nil {
		return nil, factsRecord{}, fmt.Errorf("the backup's %v; restore another backup", err)
	}
	if f.Head != h.head() {
		return nil, factsRecord{}, fmt.Errorf("the backup's record of frequent facts does not match its history; restore another backup")
	}
	return h, f, nil
}

// raiseMark moves the high-water mark in memory to what the backup proves,
// so the restore is dated no earlier than anything it holds; a backup
// holding a clock reset this instance has not seen sets it where the reset
// put it.
func (c *call) raiseMark(h *history, f factsRecord) {
	b := &snapshot{hist: h, facts: f, released: map[string]*event{}}
	b.derive()
	c.a.follow(b)
}

// restoreHome resumes the appliance on its own platform in an empty state
// directory: its licenses, its history with a restore event, and its facts.
// The issuer sees the restore at the next exchange, through the history.
func (c *call) restoreHome(b *engine.Backup, bh *history, bf factsRecord) int {
	st := &c.a.st
	st.macKey = macKeyFor(b.DeviceKey)
	c.raiseMark(bh, bf)
	if err := c.writeFiles(b); err != nil {
		return c.fail(2, "%v", err)
	}
	data, h, err := appendEvents(bh, st.macKey, &event{At: c.evalTime(), Kind: eventRestore, Restore: &restoreEvent{Appliance: b.Appliance}})
	if err == nil {
		err = st.write(fileHistory, data)
	}
	if err == nil {
		bf.Head, bf.HighWater = h.head(), c.evalTime()
		err = st.putRecord(fileFacts, bf)
	}
	if err == nil {
		// The appliance record is the commit point.
		err = st.putRecord(fileAppliance, &applianceRecord{ID: b.Appliance, Product: b.Product, Version: b.Version,
			DeviceKey: b.DeviceKey, Identity: b.Identity, Platform: b.Platform, Created: bh.events[0].At, First: h.hashes[0]})
	}
	if err != nil {
		return c.fail(2, "%v", err)
	}
	c.printf("restored appliance %s (%s) on its own platform\n", b.Appliance, licenses(len(b.Licenses)))
	return 0
}

// restoreOver restores a backup over the same appliance on its own
// platform. Nothing the state holds is lost: when the state's history
// already holds the backup's, only license files that are missing or
// altered are put back; when the state's history is a part of the backup's
// (or cannot be read), the backup's takes its place; histories that went
// apart are refused.
func (c *call) restoreOver(s *snapshot, b *engine.Backup, bh *history, bf factsRecord) int {
	cur, bn := s.hist, len(bh.events)
	switch {
	case s.app.First != bh.hashes[0]:
		return c.fail(1, "the backup's history is not this appliance's; restore it into an empty state directory")
	case bn <= len(cur.events) && cur.hashes[bn-1] == bh.hashes[bn-1]:
		n, err := c.healFiles(s, b)
		if err != nil {
			return c.fail(2, "%v", err)
		}
		c.printf("restored appliance %s: the state already holds the backup's history; %d license files put back\n", b.Appliance, n)
		return 0
	case len(cur.events) > 0 && (len(cur.events) > bn || bh.hashes[len(cur.events)-1] != cur.head().Hash):
		return c.fail(1, "the backup's history and this state's went apart (the backup holds events this state does not, and the other way round); restore it into an empty state directory to look at it")
	}
	c.raiseMark(bh, bf)
	if err := c.writeFiles(b); err != nil {
		return c.fail(2, "%v", err)
	}
	s.hist, s.broken = bh, ""
	s.facts.Requests = mergeRequests(bf.Requests, s.facts.Requests)
	s.facts.Sequence = max(bf.Sequence, s.facts.Sequence)
	s.sequence = max(s.sequence, bf.Sequence)
	if err := c.commit(&event{At: c.evalTime(), Kind: eventRestore, Restore: &restoreEvent{Appliance: b.Appliance}}); err != nil {
		return c.fail(2, "%v", err)
	}
	c.printf("restored appliance %s (%s) on its own platform\n", b.Appliance, licenses(len(b.Licenses)))
	return 0
}

// restoreElsewhere makes a new appliance on this platform that keeps the
// backup's licenses on record, inactive, and the trials of the platforms
// the backup's appliance ran on.
func (c *call) restoreElsewhere(b *engine.Backup, bh *history, oldVerifier string) int {
	st := &c.a.st
	app, err := c.newAppliance(b.Version)
	if err != nil {
		return c.fail(2, "%v", err)
	}
	c.raiseMark(bh, factsRecord{})
	st.macKey = macKeyFor(app.DeviceKey)
	if err := c.writeFiles(b); err != nil {
		return c.fail(2, "%v", err)
	}
	if err := st.putRecord(dirPrevious+"/"+b.Appliance, previousRecord{Appliance: b.Appliance, Identity: b.Identity, DeviceKey: oldVerifier}); err != nil {
		return c.fail(2, "%v", err)
	}
	now := c.evalTime()
	app.Created = now
	started := now
	var trials []*event
	for _, e := range bh.events {
		if e.Kind == eventInit || e.Kind == eventTrial {
			trials = append(trials, &event{At: e.At, Kind: eventTrial, Platform: e.Platform})
			if engine.MatchPlatform(e.Platform, c.plat, c.a.cfg.Product.Binding.MinMatch).OK() && e.At.Before(started) {
				started = e.At
			}
		}
	}
	kept := slices.Sorted(maps.Keys(b.Licenses))
	restored := &event{At: now, Kind: eventRestore, Restore: &restoreEvent{Appliance: b.Appliance, Licenses: kept}}
	if err := c.startHistory(app, &event{At: now, Kind: eventInit, Platform: c.plat}, append(trials, restored)...); err != nil {
		return c.fail(2, "%v", err)
	}
	return c.restoredElsewhere(b, app.ID, started)
}

// writeFiles writes the backup's license files and the records of the
// appliances it was restored from, leaving alone a file that holds the
// same bytes.
func (c *call) writeFiles(b *engine.Backup) error {
	st := &c.a.st
	for _, id := range slices.Sorted(maps.Keys(b.Licenses)) {
		name, text := dirLicenses+"/"+id, []byte(b.Licenses[id])
		if c.a.fileHolds(name, text) {
			continue
		}
		if err := st.write(name, text); err != nil {
			return err
		}
	}
	return c.restorePrevious(b)
}

// healFiles puts back, from the backup, the license files the history names
// whose file is missing or altered, and returns how many.
func (c *call) healFiles(s *snapshot, b *engine.Backup) (int, error) {
	n := 0
	for _, l := range s.licenses {
		text, ok := b.Licenses[l.id]
		if l.missing == "" || !ok || l.ev == nil || sha256Hex([]byte(text)) != l.ev.SHA256 {
			continue
		}
		if err := c.a.st.write(dirLicenses+"/"+l.id, []byte(text)); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// mergeRequests keeps the newest requests of both lists, by sequence.
func mergeRequests(a, b []requestFact) []requestFact {
	all := append(slices.Clone(a), b...)
	slices.SortFunc(all, func(x, y requestFact) int { return cmp.Compare(x.Sequence, y.Sequence) })
	all = slices.CompactFunc(all, func(x, y requestFact) bool { return x.Sequence == y.Sequence })
	if len(all) > maxRequests {
		all = all[len(all)-maxRequests:]
	}
	return all
}

// restoredElsewhere says what a restore onto another platform made: a new
// appliance, its trial, and the old licenses kept on record.
func (c *call) restoredElsewhere(b *engine.Backup, id string, started time.Time) int {
	ends := started.Add(time.Duration(c.a.cfg.Product.TrialDays()) * engine.Day)
	c.printf("restored appliance %s from another platform as new appliance %s; trial until %s\n", b.Appliance, id, ends.Format(engine.TimeFormat))
	c.printf("%s of the backup kept on record, inactive (bound to another platform): make a request with `tenure request`, and have the vendor free the old seat by a release or reallocation\n", licenses(len(b.Licenses)))
	return 0
}
