package validator

import (
	"encoding/base32"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/tenurehq/tenure/shared/engine"
)

// flags returns a flag set that reports errors through the call.
func (c *call) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func (c *call) usageError(cmd string, err error) int {
	return c.fail(2, "%s: %v; usage: %s", cmd, err, usageOf(cmd))
}

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
	c.a.st.macKey = macKeyFor(app.DeviceKey)
	c.changed = true
	err = c.a.st.putRecord(fileClock, clockRecord{HighWater: now})
	if err == nil {
		err = c.a.st.putRecord(fileSequence, sequenceRecord{})
	}
	if err == nil {
		err = c.a.st.putRecord(dirTrials+"/"+c.plat.Fingerprint(), trialRecord{Platform: c.plat, Started: now})
	}
	if err == nil {
		// The appliance record is the commit point: without it the
		// directory is not initialised, and init may run again.
		err = c.a.st.putRecord(fileAppliance, app)
	}
	if err != nil {
		return c.fail(2, "%v", err)
	}
	ends := now.Add(time.Duration(trialDays(c.a.cfg.Product)) * engine.Day)
	c.printf("initialised appliance %s (%s %s); trial until %s\n", app.ID, app.Product, app.Version, ends.Format(engine.TimeFormat))
	return 0
}

func trialDays(p *engine.Product) int {
	if p.Trial.Days > 0 {
		return p.Trial.Days
	}
	return 30
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

// clearLeftovers removes what an interrupted restore left in a directory that
// is not initialised, so a new appliance starts clean.
func (c *call) clearLeftovers() error {
	for _, name := range []string{fileClock, fileSequence, fileFirstUse} {
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
	at := c.evalTime()
	c.changed = true
	if err := c.a.st.putRecord(fileFirstUse, firstUseRecord{At: at}); err != nil {
		return c.fail(2, "%v", err)
	}
	c.printf("first use recorded at %s\n", at.Format(engine.TimeFormat))
	return 0
}

func (c *call) request(args []string) int {
	if len(args) > 0 {
		return c.usageError("request", errors.New("no arguments"))
	}
	s, err := c.initialised()
	if err != nil {
		return c.fail(2, "%v", err)
	}
	if err := c.ensureTrial(s); err != nil {
		return c.fail(2, "%v", err)
	}
	st := engine.Evaluate(c.input(s, nil))
	nonce, err := c.nonce()
	if err != nil {
		return c.fail(2, "%v", err)
	}
	r := &engine.Request{
		Appliance:  s.app.ID,
		Platform:   c.plat,
		Product:    s.app.Product,
		Version:    c.version,
		DeviceKey:  s.verifier,
		Recipient:  s.identity.Recipient().String(),
		TrialStart: st.Trial.Started,
		FirstUse:   s.firstUse,
		Mode:       st.State,
		Installed:  installed(s),
		Sequence:   s.sequence + 1,
		Created:    st.At,
		Nonce:      nonce,
	}
	if st.Grace != nil && st.State == engine.ModeGrace {
		g := st.Grace.Started
		r.GraceStart = &g
	}
	lrf, err := engine.SignRequest(r, s.signer)
	if err != nil {
		return c.fail(2, "%v", err)
	}
	// The sequence is on disk before the request leaves: the issuer refuses
	// a sequence that does not grow, so one must never be handed out twice.
	c.changed = true
	if err := c.a.st.putRecord(fileSequence, sequenceRecord{Sequence: r.Sequence}); err != nil {
		return c.fail(2, "%v", err)
	}
	c.out.Write(lrf)
	return 0
}

// installed lists the ids of the licenses this appliance holds and has not
// released, as an LRF reports them.
func installed(s *snapshot) []string {
	ids := []string{}
	for _, l := range s.licenses {
		if _, released := s.released[l.id]; !released && l.err == nil && l.owner == s.app.ID {
			ids = append(ids, l.id)
		}
	}
	slices.Sort(ids)
	return ids
}

func (c *call) install(args []string) int {
	if len(args) != 1 {
		return c.usageError("install", errors.New("name one license file, or - for stdin"))
	}
	s, err := c.initialised()
	if err != nil {
		return c.fail(2, "%v", err)
	}
	text, err := c.readInput(args[0])
	if err != nil {
		return c.fail(2, "%v", err)
	}
	o := c.a.open(s, text)
	if o.err != nil {
		return c.fail(1, "license refused: %v", o.err)
	}
	l := o.lic
	if o.owner != s.app.ID {
		return c.fail(1, "license refused: %s belongs to appliance %s, which this state was restored from on another platform; make a request here with `tenure request`", l.ID, o.owner)
	}
	if name, ok := s.released[l.ID]; ok {
		return c.fail(1, "license refused: %s was released on this appliance (receipt %s); it can never count again; make a request with `tenure request` for a new license", l.ID, name)
	}
	b := engine.Binding{Appliance: s.app.ID, Platform: c.plat, DeviceKey: s.verifier, Product: c.a.cfg.Product, Version: c.version}
	if err := b.Check(l); err != nil {
		return c.fail(1, "license %s refused: %v", l.ID, err)
	}
	if slices.ContainsFunc(s.licenses, func(x *stored) bool { return x.id == l.ID }) {
		c.printf("license %s is already installed\n", l.ID)
		return 0
	}
	if err := c.ensureTrial(s); err != nil {
		return c.fail(2, "%v", err)
	}
	c.changed = true
	if err := c.a.st.write(dirLicenses+"/"+l.ID, text); err != nil {
		return c.fail(2, "%v", err)
	}
	// A newly installed license re-establishes the clock record: the floor
	// is now its issue time, whatever happened to the old record.
	hw := c.a.hw
	for _, t := range []time.Time{c.host, l.Issued} {
		if t.After(hw) {
			hw = t
		}
	}
	if err := c.a.st.putRecord(fileClock, clockRecord{HighWater: hw}); err != nil {
		return c.fail(2, "%v", err)
	}
	c.a.hw = hw
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

// reload re-reads the state after this call changed it.
func (c *call) reload() error {
	c.a.snap = nil
	if err := c.a.refresh(time.Now()); err != nil {
		return err
	}
	c.a.snap.gen = "\x00stale" // the generation file is bumped when the call ends
	return nil
}

func (c *call) status(args []string) int {
	fs := c.flags("status")
	asJSON := fs.Bool("json", false, "")
	atFlag := fs.String("at", "", "")
	if err := fs.Parse(args); err != nil {
		return c.usageError("status", err)
	}
	if fs.NArg() > 0 {
		return c.usageError("status", fmt.Errorf("unexpected %q", fs.Arg(0)))
	}
	s, err := c.initialised()
	if err != nil {
		return c.fail(2, "%v", err)
	}
	var at *time.Time
	if *atFlag != "" {
		t, err := engine.ParseInstant(*atFlag)
		if err != nil {
			return c.fail(2, "--at: %v", err)
		}
		at, c.readOnly = &t, true
	} else if err := c.ensureTrial(s); err != nil {
		return c.fail(2, "%v", err)
	}
	st := engine.Evaluate(c.input(s, at))
	if *asJSON {
		j, err := json.MarshalIndent(st, "", "  ")
		if err != nil {
			return c.fail(2, "failed to encode status: %v", err)
		}
		c.out.Write(j)
		c.out.WriteString("\n")
		return 0
	}
	c.printStatus(s, st)
	return 0
}

func (c *call) printStatus(s *snapshot, st *engine.Status) {
	tf := func(t time.Time) string { return t.Format(engine.TimeFormat) }
	c.printf("appliance:  %s (%s %s)\n", s.app.ID, s.app.Product, c.version)
	c.printf("state:      %s\n", st.State)
	c.printf("reason:     %s\n", st.Reason)
	if st.Until != nil {
		c.printf("until:      %s\n", tf(*st.Until))
	}
	if st.Next != nil {
		c.printf("next:       %s at %s\n", st.Next.State, tf(st.Next.At))
	}
	features := strings.Join(st.Features, ", ")
	if len(st.Features) == 1 && st.Features[0] == "*" {
		features = "all"
	} else if features == "" {
		features = "none"
	}
	c.printf("features:   %s\n", features)
	var limits []string
	for _, k := range slices.Sorted(maps.Keys(st.Limits)) {
		limits = append(limits, fmt.Sprintf("%s=%d", k, st.Limits[k]))
	}
	if len(limits) == 0 {
		limits = []string{"none"}
	}
	c.printf("limits:     %s\n", strings.Join(limits, ", "))
	c.printf("config:     %s\n", map[bool]string{true: "changes allowed", false: "frozen"}[st.ConfigChanges])
	c.printf("trial:      %s to %s\n", tf(st.Trial.Started), tf(st.Trial.Ends))
	if st.Grace != nil {
		c.printf("grace:      %s to %s\n", tf(st.Grace.Started), tf(st.Grace.Ends))
	}
	c.printf("clock:      evaluated at %s (host %s, high-water %s)\n", tf(st.Clock.Used), tf(st.Clock.Host), tf(st.Clock.HighWater))
	if len(st.Licenses) > 0 {
		c.printf("licenses:\n")
		for _, l := range st.Licenses {
			window := ""
			if l.From != nil && l.Until != nil {
				window = fmt.Sprintf("  %s to %s", tf(*l.From), tf(*l.Until))
			}
			c.printf("  %s  %-10s %s %s %s%s\n", l.ID, l.Standing, l.Contract, l.Tier, l.Kind, window)
			if l.Standing == engine.StandingInactive {
				c.printf("      %s\n", l.Reason)
			}
		}
	}
	if len(st.Warnings) > 0 {
		c.printf("warnings:\n")
		for _, w := range st.Warnings {
			c.printf("  %s\n", w)
		}
	}
}

// check answers one question about what the appliance may do now. It is the
// path a warm reactor runs most: no listing, no crypto, no writes but the
// hourly high-water mark, and no evaluation while the cached mode holds.
func (c *call) check(args []string) int {
	limit, config, rest, ok := checkWords(args)
	if !ok {
		fs := c.flags("check")
		l := fs.String("limit", "", "")
		cc := fs.Bool("config-change", false, "")
		if err := fs.Parse(args); err != nil {
			return c.usageError("check", err)
		}
		limit, config, rest = *l, *cc, fs.Args()
	}
	s, err := c.initialised()
	if err != nil {
		return c.fail(2, "%v", err)
	}
	if err := c.ensureTrial(s); err != nil {
		return c.fail(2, "%v", err)
	}
	if code, out, ok := c.a.memo.answer(c, s, args); ok {
		c.reply, c.replied = out, true
		return code
	}
	in := &c.a.checkIn
	c.fillInput(in, s, nil)
	code := c.decide(s, in, limit, config, rest)
	if ok && code <= 1 && c.errOut.Len() == 0 {
		c.a.memo.keep(c, s, in, args, code, c.out.String())
	}
	return code
}

// decide answers a check at the time the clock rule gives.
func (c *call) decide(s *snapshot, in *engine.Input, limit string, config bool, rest []string) int {
	m := c.a.modeAt(s, in, engine.TimeUsed(in))
	if in.Tampered != "" {
		m.State, m.Config = engine.ModeRestricted, false
		if c.a.cfg.Product.RestrictedFeatures == "deny" {
			m.Features, m.Limits = []string{}, map[string]int64{}
		}
	}
	verdict := func(ok bool, what, name string) int {
		c.out.Grow(len(what) + len(name) + len(m.State) + 48)
		code := 0
		if ok {
			c.out.WriteString("allowed: ")
		} else {
			c.out.WriteString("denied: ")
			code = 1
		}
		c.out.WriteString(what)
		c.out.WriteString(name)
		c.out.WriteString(" (")
		c.out.WriteString(m.State)
		if ok {
			c.out.WriteString(")\n")
		} else {
			c.out.WriteString("); see `tenure status`\n")
		}
		return code
	}
	switch {
	case config && limit == "" && len(rest) == 0:
		return verdict(m.Config, "configuration change", "")
	case limit != "" && !config && len(rest) == 1:
		n, err := strconv.ParseInt(rest[0], 10, 64)
		if err != nil || n < 0 {
			return c.usageError("check", fmt.Errorf("limit count %q is not a whole number", rest[0]))
		}
		return verdict(m.AllowsLimit(limit, n), limit, " "+strconv.FormatInt(n, 10)+" of "+strconv.FormatInt(m.Limits[limit], 10))
	case limit == "" && !config && len(rest) == 1:
		f := rest[0]
		if !c.a.cfg.Product.HasFeature(f) {
			return c.fail(2, "feature %q is not in product %s's catalog (%s)", f, c.a.cfg.Product.ID, strings.Join(c.a.cfg.Product.Features, ", "))
		}
		return verdict(m.Allows(f), "feature ", f)
	}
	return c.usageError("check", errors.New("ask about one feature, one limit or a configuration change"))
}

// checkWords reads the forms of check's words hosts send on every check
// (FEATURE, --limit NAME N, --config-change) exactly as the flag package
// reads them, without building a flag set; ok is false for any other form,
// which the flag package then reads.
func checkWords(args []string) (limit string, config bool, rest []string, ok bool) {
	plain := func(w string) bool { return w != "" && w[0] != '-' }
	switch {
	case len(args) == 1 && plain(args[0]):
		return "", false, args, true
	case len(args) == 1 && (args[0] == "--config-change" || args[0] == "-config-change"):
		return "", true, nil, true
	case len(args) == 3 && (args[0] == "--limit" || args[0] == "-limit") && plain(args[2]):
		return args[1], false, args[2:], true
	}
	return "", false, nil, false
}

func (c *call) release(args []string) int {
	if len(args) != 1 {
		return c.usageError("release", errors.New("name one license id"))
	}
	id := args[0]
	s, err := c.initialised()
	if err != nil {
		return c.fail(2, "%v", err)
	}
	if name, ok := s.released[id]; ok {
		c.out.Write(s.receipts[name].text)
		return 0
	}
	i := slices.IndexFunc(s.licenses, func(l *stored) bool { return l.id == id })
	if i < 0 {
		return c.fail(2, "no license %s on this appliance; `tenure status` lists them", id)
	}
	target := s.licenses[i]
	switch {
	case target.err != nil:
		return c.fail(1, "license %s cannot be opened (%v); it does not count, so there is nothing to release", id, target.err)
	case target.owner != s.app.ID:
		return c.fail(1, "license %s belongs to appliance %s, whose state was restored here; have the vendor reallocate its seat", id, target.owner)
	}
	var ids []string
	for _, l := range s.licenses {
		if _, done := s.released[l.id]; !done && l.err == nil && l.owner == s.app.ID && l.lic.Contract == target.lic.Contract {
			ids = append(ids, l.id)
		}
	}
	slices.Sort(ids)
	nonce, err := c.nonce()
	if err != nil {
		return c.fail(2, "%v", err)
	}
	r := &engine.Release{Contract: target.lic.Contract, Licenses: ids, Appliance: s.app.ID,
		Released: c.evalTime(), Sequence: s.sequence + 1, Nonce: nonce}
	text, err := engine.SignRelease(r, s.signer)
	if err != nil {
		return c.fail(2, "%v", err)
	}
	// The receipt is the commit point: once it is on disk the licenses are
	// released, and loading takes the sequence from it if the sequence
	// record below is lost to a power cut.
	c.changed = true
	if err := c.a.st.write(fmt.Sprintf("%s/%s.%d", dirReceipts, r.Contract, r.Sequence), text); err != nil {
		return c.fail(2, "%v", err)
	}
	if err := c.a.st.putRecord(fileSequence, sequenceRecord{Sequence: r.Sequence}); err != nil {
		return c.fail(2, "%v", err)
	}
	c.out.Write(text)
	c.errOut.WriteString(fmt.Sprintf("tenure: released %s of contract %s; give this receipt to the vendor to free the seat\n", strings.Join(ids, ", "), r.Contract))
	return 0
}
