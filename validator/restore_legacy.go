package validator

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tenurehq/tenure/shared/engine"
)

// A backup made before the history holds the records of that state. It is
// restored into an empty directory as that state was, and the first call
// after it migrates it into a history, as it would any state of its age.

// restoreLegacyHome resumes the appliance on its own platform.
func (c *call) restoreLegacyHome(b *engine.Backup) int {
	st := &c.a.st
	st.macKey = macKeyFor(b.DeviceKey)
	putMissing := func(name, text string) error {
		if _, err := st.read(name); err == nil {
			return nil
		}
		return st.write(name, []byte(text))
	}
	for id, text := range b.Licenses {
		if err := putMissing(dirLicenses+"/"+id, text); err != nil {
			return c.fail(2, "%v", err)
		}
	}
	for name, text := range b.Receipts {
		if err := putMissing(dirReceipts+"/"+name, text); err != nil {
			return c.fail(2, "%v", err)
		}
	}
	if err := c.restoreRecords(b); err != nil {
		return c.fail(2, "%v", err)
	}
	seq := b.Sequence
	hw := b.HighWater
	if c.a.hw.After(hw) {
		hw = c.a.hw
	}
	err := st.putRecord(fileSequence, sequenceRecord{Sequence: seq})
	if err == nil {
		err = st.putRecord(fileClock, clockRecord{HighWater: hw})
	}
	if err == nil {
		err = st.putRecord(fileAppliance, &applianceRecord{ID: b.Appliance, Product: b.Product, Version: b.Version,
			DeviceKey: b.DeviceKey, Identity: b.Identity, Platform: b.Platform, Created: b.Created})
	}
	if err != nil {
		return c.fail(2, "%v", err)
	}
	c.a.hw = hw
	c.printf("restored appliance %s (%s) on its own platform\n", b.Appliance, licenses(len(b.Licenses)))
	return 0
}

// restoreRecords writes the backup's trial, first-use and previous records
// that the directory does not hold yet.
func (c *call) restoreRecords(b *engine.Backup) error {
	st := &c.a.st
	for name, j := range b.Trials {
		var tr trialRecord
		if err := json.Unmarshal([]byte(j), &tr); err != nil {
			return fmt.Errorf("the backup's trial record %s is damaged: %w", name, err)
		}
		if err := st.putRecord(dirTrials+"/"+name, tr); err != nil {
			return err
		}
	}
	if err := c.restorePrevious(b); err != nil {
		return err
	}
	if b.FirstUse != nil {
		if err := st.putRecord(fileFirstUse, firstUseRecord{At: *b.FirstUse}); err != nil {
			return err
		}
	}
	return nil
}

// restoreLegacyElsewhere makes a new appliance on this platform that keeps the
// backup's licenses on record, inactive, and its platforms' trial history.
func (c *call) restoreLegacyElsewhere(b *engine.Backup, oldVerifier string) int {
	st := &c.a.st
	app, err := c.newAppliance(b.Version)
	if err != nil {
		return c.fail(2, "%v", err)
	}
	st.macKey = macKeyFor(app.DeviceKey)
	for id, text := range b.Licenses {
		if err := st.write(dirLicenses+"/"+id, []byte(text)); err != nil {
			return c.fail(2, "%v", err)
		}
	}
	for name, text := range b.Receipts {
		if err := st.write(dirReceipts+"/"+name, []byte(text)); err != nil {
			return c.fail(2, "%v", err)
		}
	}
	first := b.FirstUse
	b.FirstUse = nil // first use belongs to the old appliance
	if err := c.restoreRecords(b); err != nil {
		return c.fail(2, "%v", err)
	}
	b.FirstUse = first
	if err := st.putRecord(dirPrevious+"/"+b.Appliance, previousRecord{Appliance: b.Appliance, Identity: b.Identity, DeviceKey: oldVerifier}); err != nil {
		return c.fail(2, "%v", err)
	}
	hw := b.HighWater
	if c.a.hw.After(hw) {
		hw = c.a.hw
	}
	if c.host.After(hw) {
		hw = c.host
	}
	c.a.hw = hw
	now := c.evalTime()
	started := now
	for _, j := range b.Trials {
		var tr trialRecord
		if json.Unmarshal([]byte(j), &tr) == nil && engine.MatchPlatform(tr.Platform, c.plat, c.a.cfg.Product.Binding.MinMatch).OK() && tr.Started.Before(started) {
			started = tr.Started
		}
	}
	err = st.putRecord(dirTrials+"/"+c.plat.Fingerprint(), trialRecord{Platform: c.plat, Started: started})
	if err == nil {
		err = st.putRecord(fileSequence, sequenceRecord{})
	}
	if err == nil {
		err = st.putRecord(fileClock, clockRecord{HighWater: hw})
	}
	if err == nil {
		err = st.putRecord(fileAppliance, app)
	}
	if err != nil {
		return c.fail(2, "%v", err)
	}
	return c.restoredElsewhere(b, app.ID, started)
}

// restorePrevious writes the records of the appliances the backup's state
// was itself restored from.
func (c *call) restorePrevious(b *engine.Backup) error {
	st := &c.a.st
	for name, j := range b.Extra {
		if !strings.HasPrefix(name, dirPrevious+"/") {
			continue
		}
		var p previousRecord
		if err := json.Unmarshal([]byte(j), &p); err != nil {
			return fmt.Errorf("the backup's record %s is damaged: %w", name, err)
		}
		if err := st.putRecord(dirPrevious+"/"+p.Appliance, p); err != nil {
			return err
		}
	}
	return nil
}
