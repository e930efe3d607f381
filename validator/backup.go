package validator

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
	"golang.org/x/mod/sumdb/note"

	"github.com/tenurehq/tenure/shared/engine"
)

// maxBackup bounds the armored backup restore reads: 1024 licenses of 64 KiB
// would not fit, but no appliance holds that many.
const maxBackup = 16 << 20

// passphrase finds the backup passphrase and the rest of stdin. With
// --passphrase-file - it is the first line of stdin; with a file name, that
// file's first line; without the flag, $TENURE_PASSPHRASE.
func (c *call) passphrase(cmd string, args []string) (pass string, rest []byte, code int) {
	fs := c.flags(cmd)
	file := fs.String("passphrase-file", "", "")
	if err := fs.Parse(args); err != nil {
		return "", nil, c.usageError(cmd, err)
	}
	if fs.NArg() > 0 {
		return "", nil, c.usageError(cmd, fmt.Errorf("unexpected %q", fs.Arg(0)))
	}
	rest = []byte(c.req.Stdin)
	switch {
	case *file == "-":
		line, after, _ := strings.Cut(c.req.Stdin, "\n")
		pass, rest = line, []byte(after)
	case *file != "":
		b, err := os.ReadFile(*file)
		if err != nil {
			return "", nil, c.fail(2, "cannot read the passphrase file: %v; inside the module use `--passphrase-file -` and pass the passphrase as the first line of stdin", err)
		}
		pass, _, _ = strings.Cut(string(b), "\n")
	case c.req.Env[EnvPassphrase] != "":
		pass = c.req.Env[EnvPassphrase]
	default:
		return "", nil, c.usageError(cmd, errors.New("--passphrase-file is required"))
	}
	pass = strings.TrimSuffix(pass, "\r")
	if pass == "" {
		return "", nil, c.fail(2, "the backup passphrase is empty; choose one and keep it with the backup's owner")
	}
	return pass, rest, 0
}

func (c *call) backup(args []string) int {
	pass, _, code := c.passphrase("backup", args)
	if code != 0 {
		return code
	}
	s, err := c.initialised()
	if err != nil {
		return c.fail(2, "%v", err)
	}
	b := &engine.Backup{
		Appliance: s.app.ID, Product: s.app.Product, Version: s.app.Version,
		DeviceKey: s.app.DeviceKey, Identity: s.app.Identity, Platform: s.app.Platform,
		Trials: map[string]string{}, FirstUse: s.firstUse, HighWater: engine.Normalize(c.a.hw),
		Sequence: s.sequence, Licenses: map[string]string{}, Released: map[string]string{},
		Receipts: map[string]string{}, Created: c.evalTime(),
	}
	for name, tr := range s.trials {
		j, _ := json.Marshal(tr)
		b.Trials[name] = string(j)
	}
	for _, l := range s.licenses {
		b.Licenses[l.id] = string(l.text)
	}
	for id, name := range s.released {
		b.Released[id] = name
	}
	for name, r := range s.receipts {
		b.Receipts[name] = string(r.text)
	}
	for _, p := range s.previous {
		j, _ := json.Marshal(p.rec)
		if b.Extra == nil {
			b.Extra = map[string]string{}
		}
		b.Extra[dirPrevious+"/"+p.rec.Appliance] = string(j)
	}
	body, err := engine.Encode(engine.TypeBackup, b)
	if err != nil {
		return c.fail(2, "%v", err)
	}
	r, err := age.NewScryptRecipient(pass)
	if err != nil {
		return c.fail(2, "failed to encrypt the backup: %v", err)
	}
	if c.a.cfg.ScryptWorkFactor > 0 {
		r.SetWorkFactor(c.a.cfg.ScryptWorkFactor)
	}
	var out bytes.Buffer
	aw := armor.NewWriter(&out)
	w, err := age.Encrypt(aw, r)
	if err == nil {
		_, err = w.Write(body)
	}
	if err == nil {
		err = w.Close()
	}
	if err == nil {
		err = aw.Close()
	}
	if err != nil {
		return c.fail(2, "failed to encrypt the backup: %v", err)
	}
	c.out.Write(out.Bytes())
	c.errOut.WriteString(fmt.Sprintf("tenure: backed up appliance %s (%s); keep the passphrase apart from the file\n", b.Appliance, licenses(len(b.Licenses))))
	return 0
}

func (c *call) restore(args []string) int {
	pass, text, code := c.passphrase("restore", args)
	if code != 0 {
		return code
	}
	if len(text) > maxBackup {
		return c.fail(2, "the backup is over %d bytes; this is not a Tenure backup", maxBackup)
	}
	b, err := openBackup(text, pass)
	if err != nil {
		return c.fail(1, "%v", err)
	}
	if b.Product != c.a.cfg.Product.ID {
		return c.fail(1, "the backup is of product %s, but this validator is built for %s", b.Product, c.a.cfg.Product.ID)
	}
	signer, err := note.NewSigner(b.DeviceKey)
	if err != nil || signer.Name() != b.Appliance {
		return c.fail(1, "the backup holds a bad device key for %s; restore another backup", b.Appliance)
	}
	oldVerifier, err := verifierKey(b.DeviceKey)
	if err != nil {
		return c.fail(1, "the backup holds a bad device key for %s: %v", b.Appliance, err)
	}
	if _, err := age.ParseX25519Identity(b.Identity); err != nil {
		return c.fail(1, "the backup holds a bad age identity for %s; restore another backup", b.Appliance)
	}
	home := engine.MatchPlatform(b.Platform, c.plat, c.a.cfg.Product.Binding.MinMatch).OK()
	s := c.a.snap
	if s.app != nil {
		switch {
		case s.app.ID != b.Appliance:
			return c.fail(1, "this state holds appliance %s; a backup of %s can only be restored into an empty state directory or over the same appliance", s.app.ID, b.Appliance)
		case !home:
			return c.fail(1, "this state holds appliance %s, but the backup's platform does not match this one; restore into an empty state directory to make a new appliance here", s.app.ID)
		}
	} else if err := c.clearLeftovers(); err != nil {
		return c.fail(2, "%v", err)
	}
	c.changed = true
	if home {
		return c.restoreHome(s, b)
	}
	return c.restoreElsewhere(b, oldVerifier)
}

func openBackup(text []byte, pass string) (*engine.Backup, error) {
	id, err := age.NewScryptIdentity(pass)
	if err != nil {
		return nil, fmt.Errorf("failed to read the backup: %w", err)
	}
	r, err := age.Decrypt(armor.NewReader(bytes.NewReader(bytes.TrimLeft(text, "\r\n"))), id)
	if err != nil {
		var nomatch *age.NoIdentityMatchError
		if errors.As(err, &nomatch) {
			return nil, errors.New("failed to read the backup: wrong passphrase (or not a passphrase-encrypted backup)")
		}
		return nil, fmt.Errorf("failed to read the backup: %w; pass the armored backup that `tenure backup` printed", err)
	}
	body, err := io.ReadAll(io.LimitReader(bufio.NewReader(r), maxBackup+1))
	if err != nil {
		return nil, fmt.Errorf("failed to read the backup: %w; the file is damaged", err)
	}
	var b engine.Backup
	if err := engine.Decode(engine.TypeBackup, body, &b); err != nil {
		return nil, fmt.Errorf("failed to read the backup: %w", err)
	}
	return &b, nil
}

// restoreHome resumes the appliance on its own platform, merging with what
// the directory already holds of it: nothing on disk is lost, and the
// clock and sequence only move forward.
func (c *call) restoreHome(s *snapshot, b *engine.Backup) int {
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
	if err := c.restoreRecords(b, s); err != nil {
		return c.fail(2, "%v", err)
	}
	seq := b.Sequence
	hw := b.HighWater
	if s.app != nil {
		seq = max(seq, s.sequence)
		if s.highWater.After(hw) {
			hw = s.highWater
		}
	}
	if c.a.hw.After(hw) {
		hw = c.a.hw
	}
	err := st.putRecord(fileSequence, sequenceRecord{Sequence: seq})
	if err == nil {
		err = st.putRecord(fileClock, clockRecord{HighWater: hw})
	}
	if err == nil && s.app == nil {
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
func (c *call) restoreRecords(b *engine.Backup, s *snapshot) error {
	st := &c.a.st
	for name, j := range b.Trials {
		var tr trialRecord
		if err := json.Unmarshal([]byte(j), &tr); err != nil {
			return fmt.Errorf("the backup's trial record %s is damaged: %w", name, err)
		}
		if old, ok := s.trials[name]; ok && !tr.Started.Before(old.Started) {
			continue
		}
		if err := st.putRecord(dirTrials+"/"+name, tr); err != nil {
			return err
		}
	}
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
	if b.FirstUse != nil && s.firstUse == nil {
		if err := st.putRecord(fileFirstUse, firstUseRecord{At: *b.FirstUse}); err != nil {
			return err
		}
	}
	return nil
}

// restoreElsewhere makes a new appliance on this platform that keeps the
// backup's licenses on record, inactive, and its platforms' trial history.
func (c *call) restoreElsewhere(b *engine.Backup, oldVerifier string) int {
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
	empty := &snapshot{trials: map[string]trialRecord{}}
	first := b.FirstUse
	b.FirstUse = nil // first use belongs to the old appliance
	if err := c.restoreRecords(b, empty); err != nil {
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
	ends := started.Add(time.Duration(trialDays(c.a.cfg.Product)) * engine.Day)
	c.printf("restored appliance %s from another platform as new appliance %s; trial until %s\n", b.Appliance, app.ID, ends.Format(engine.TimeFormat))
	c.printf("%s of the backup kept on record, inactive (bound to another platform): make a request with `tenure request`, and have the vendor free the old seat by a release or reallocation\n", licenses(len(b.Licenses)))
	return 0
}

// licenses says "1 license" or "n licenses".
func licenses(n int) string {
	if n == 1 {
		return "1 license"
	}
	return fmt.Sprintf("%d licenses", n)
}
