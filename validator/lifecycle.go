package validator

import (
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"time"

	"filippo.io/age"

	"github.com/tenurehq/tenure/shared/engine"
)

var idAlphabet = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func (c *call) init(args []string) int {
	fs := c.flags("init")
	product := fs.String("product", "", "")
	version := fs.String("version", "", "")
	if err := fs.Parse(args); err != nil {
		return c.usageError("init", err)
	}
	if fs.NArg() > 0 || *product == "" || *version == "" {
		return c.usageError("init", errors.New("--product and --version are required"))
	}
	if *product != c.a.cfg.Product.ID {
		return c.fail(2, "this validator is built for product %s, not %s; use the validator built for %s", c.a.cfg.Product.ID, *product, *product)
	}
	if !engine.ValidVersion(*version) {
		return c.fail(2, "--version %q is not a version like 0.40.0", *version)
	}
	if s := c.a.snap; s.app != nil {
		return c.fail(2, "this state is already initialised as appliance %s; to start again, move the state directory away (its licenses stay with it)", s.app.ID)
	}
	app, err := c.newAppliance(*version)
	if err != nil {
		return c.fail(2, "%v", err)
	}
	if err := c.clearLeftovers(); err != nil {
		return c.fail(2, "%v", err)
	}
	now := c.evalTime()
	if err := c.startHistory(app, &event{At: now, Kind: eventInit, Platform: c.plat}); err != nil {
		return c.fail(2, "%v", err)
	}
	ends := now.Add(time.Duration(c.a.cfg.Product.TrialDays()) * engine.Day)
	c.printf("initialised appliance %s (%s %s); trial until %s\n", app.ID, app.Product, app.Version, ends.Format(engine.TimeFormat))
	return 0
}

// newAppliance makes an appliance id, a device key named with it and an age
// identity.
func (c *call) newAppliance(version string) (*applianceRecord, error) {
	b := make([]byte, 10)
	if _, err := io.ReadFull(c.a.cfg.rand(), b); err != nil {
		return nil, fmt.Errorf("failed to read randomness: %w", err)
	}
	id := "A-" + idAlphabet.EncodeToString(b)[:10]
	skey, _, err := engine.GenerateKey(c.a.cfg.rand(), id)
	if err != nil {
		return nil, fmt.Errorf("failed to make a device key: %w", err)
	}
	identity, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, fmt.Errorf("failed to make an age identity: %w", err)
	}
	return &applianceRecord{ID: id, Product: c.a.cfg.Product.ID, Version: version, DeviceKey: skey,
		Identity: identity.String(), Platform: c.plat, Created: c.evalTime()}, nil
}

// startHistory writes a new appliance's history, beginning with first and
// followed by more, its facts record, and then its appliance record naming
// the first event: the commit point, without which the directory is not
// initialised and init (or restore) may run again.
func (c *call) startHistory(app *applianceRecord, first *event, more ...*event) error {
	st := &c.a.st
	st.macKey = macKeyFor(app.DeviceKey)
	c.changed = true
	data, h, err := appendEvents(&history{}, st.macKey, append([]*event{first}, more...)...)
	if err != nil {
		return err
	}
	if err := st.write(fileHistory, data); err != nil {
		return err
	}
	hw := c.a.hw
	if c.host.After(hw) {
		hw = c.host
	}
	if err := st.putRecord(fileFacts, factsRecord{Head: h.head(), HighWater: hw}); err != nil {
		return err
	}
	app.First = h.hashes[0]
	return st.putRecord(fileAppliance, app)
}

// clearLeftovers removes what an interrupted init or restore left in a
// directory that is not initialised, so a new appliance starts clean.
func (c *call) clearLeftovers() error {
	for _, name := range []string{fileHistory, fileFacts, fileClock, fileSequence, fileFirstUse} {
		if err := c.a.st.remove(name); err != nil {
			return err
		}
	}
	for _, dir := range []string{dirTrials, dirLicenses, dirReceipts, dirPrevious} {
		names, err := c.a.st.list(dir)
		if err != nil {
			return err
		}
		for _, n := range names {
			if err := c.a.st.remove(dir + "/" + n); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *call) firstUse(args []string) int {
	if len(args) > 0 {
		return c.usageError("first-use", errors.New("no arguments"))
	}
	s, err := c.initialised()
	if err != nil {
		return c.fail(2, "%v", err)
	}
	if s.firstUse != nil {
		c.printf("first use already recorded at %s\n", s.firstUse.Format(engine.TimeFormat))
		return 0
	}
	if s.broken != "" {
		return c.fail(2, "state damaged: %s; restore a backup with `tenure restore`", s.broken)
	}
	at := c.evalTime()
	if err := c.commit(eventAt(eventFirstUse, at)); err != nil {
		return c.fail(2, "%v", err)
	}
	c.printf("first use recorded at %s\n", at.Format(engine.TimeFormat))
	return 0
}
