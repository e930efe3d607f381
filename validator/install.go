package validator

import (
	"errors"
	"slices"
	"time"

	"github.com/tenurehq/tenure/shared/engine"
)

func (c *call) install(args []string) int {
	if len(args) != 1 {
		return c.usageError("install", errors.New("name one license file, or - for stdin"))
	}
	s, err := c.writable()
	if err != nil {
		return c.fail(2, "%v", err)
	}
	text, err := c.readInput(args[0])
	if err != nil {
		return c.fail(1, "%v", err)
	}
	if engine.ArmorLabel(text) == engine.LabelClock {
		return c.installReset(s, text)
	}
	o := c.a.open(s, text)
	if o.err != nil {
		return c.fail(1, "license refused: %v", o.err)
	}
	l := o.lic
	if o.owner != s.app.ID {
		return c.fail(1, "license refused: %s belongs to appliance %s, which this state was restored from on another platform; make a request here with `tenure request`", l.ID, o.owner)
	}
	if e, ok := s.released[l.ID]; ok {
		return c.fail(1, "license refused: %s was released on this appliance on %s; it can never count again; make a request with `tenure request` for a new license", l.ID, e.At.Format(engine.TimeFormat))
	}
	b := engine.Binding{Appliance: s.app.ID, Platform: c.plat, DeviceKey: s.verifier, Product: c.a.cfg.Product, Version: c.version}
	if err := b.Check(l); err != nil {
		return c.fail(1, "license %s refused: %v", l.ID, err)
	}
	name := dirLicenses + "/" + l.ID
	if i := slices.IndexFunc(s.licenses, func(x *stored) bool { return x.id == l.ID }); i >= 0 {
		return c.reinstall(s.licenses[i], name, text)
	}
	if err := c.ensureTrial(s); err != nil {
		return c.fail(2, "%v", err)
	}
	// The file first, then the install event (the commit point): a power
	// cut between them leaves a file the history does not name, which is
	// ignored until it is installed again.
	c.changed = true
	if err := c.a.st.write(name, text); err != nil {
		return c.fail(2, "%v; the license was not installed", err)
	}
	// A newly issued license floors the clock at its issue time. It does
	// not re-establish a tampered clock record: only a clock reset does.
	for _, t := range []time.Time{c.host, l.Issued} {
		if t.After(c.a.hw) {
			c.a.hw = t
		}
	}
	if err := c.commit(&event{At: c.evalTime(), Kind: eventInstall, License: l, SHA256: sha256Hex(text)}); err != nil {
		return c.fail(2, "%v; the license was not installed", err)
	}
	if err := c.reload(); err != nil {
		return c.fail(2, "%v", err)
	}
	st := engine.Evaluate(c.input(c.a.snap, nil))
	standing := ""
	for _, ls := range st.Licenses {
		if ls.ID == l.ID {
			standing = ls.Standing
		}
	}
	c.printf("installed license %s (contract %s, %s %s, %s to %s): %s\n", l.ID, l.Contract, l.Tier, l.Kind,
		l.From.Format(engine.TimeFormat), l.Until.Format(engine.TimeFormat), standing)
	c.printf("appliance is %s: %s\n", st.State, st.Reason)
	return 0
}

// reinstall installs a license the history names already: the same bytes
// heal a missing or altered file, and anything else for that id is refused.
func (c *call) reinstall(l *stored, name string, text []byte) int {
	switch {
	case l.ev == nil:
		return c.fail(1, "license refused: %s is kept on record from the appliance this state was restored from; it cannot count here", l.id)
	case l.ev.SHA256 != sha256Hex(text):
		return c.fail(1, "license refused: another file of license %s is installed; install that file, or ask the vendor for a reissue", l.id)
	case l.missing == "" && c.a.fileHolds(name, text):
		c.printf("license %s is already installed\n", l.id)
		return 0
	}
	c.changed = true
	if err := c.a.st.write(name, text); err != nil {
		return c.fail(2, "%v; the license file was not restored", err)
	}
	c.printf("license %s restored: its file was missing or altered, and is now the one installed\n", l.id)
	return 0
}

// reload re-reads the state after this call changed it.
func (c *call) reload() error {
	c.a.snap = nil
	if err := c.a.refresh(time.Now()); err != nil {
		return err
	}
	c.a.snap.gen = "\x00stale" // the generation file is bumped when the call ends
	return nil
}
