package validator

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

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
		b, err := readFirstLine(*file)
		if err != nil {
			return "", nil, c.fail(2, "cannot read the passphrase file: %v; inside the module use `--passphrase-file -` and pass the passphrase as the first line of stdin", err)
		}
		pass = b
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

// minPassphrase is the shortest passphrase a backup is made with: the
// backup holds the appliance's private keys, and scrypt only slows a guess.
const minPassphrase = 12

// maxWorkFactor is the largest scrypt work factor restore accepts: age's
// default. A crafted backup asking for more would make restore take
// gigabytes before it could fail; it is refused before any work.
const maxWorkFactor = 18

func (c *call) backup(args []string) int {
	pass, _, code := c.passphrase("backup", args)
	if code != 0 {
		return code
	}
	if n := len([]rune(pass)); n < minPassphrase {
		return c.fail(2, "the backup passphrase has %d characters; use at least %d: `tenure backup --passphrase-file F` where F holds a long random line, such as one from `head -c 18 /dev/urandom | base64`", n, minPassphrase)
	}
	s, err := c.writable()
	if err != nil {
		return c.fail(2, "%v", err)
	}
	hist, err := s.hist.encode(c.a.st.macKey)
	if err != nil {
		return c.fail(2, "%v", err)
	}
	f := s.facts
	f.Head, f.Tampered, f.Reset = s.hist.head(), s.tampered, s.resetN()
	facts, err := encodeRecord(c.a.st.macKey, fileFacts, f)
	if err != nil {
		return c.fail(2, "%v", err)
	}
	b := &engine.Backup{
		Appliance: s.app.ID, Product: s.app.Product, Version: s.app.Version,
		DeviceKey: s.app.DeviceKey, Identity: s.app.Identity, Platform: s.app.Platform,
		Trials: map[string]string{}, FirstUse: s.firstUse, HighWater: engine.Normalize(c.a.hw),
		Sequence: s.sequence, Licenses: map[string]string{}, Released: map[string]string{},
		Receipts: map[string]string{}, Created: c.evalTime(), History: string(hist), Facts: string(facts),
	}
	for _, l := range s.licenses {
		if l.text != nil {
			b.Licenses[l.id] = string(l.text)
		}
	}
	for id, e := range s.released {
		b.Released[id] = e.Release.Contract
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
	oldVerifier, err := engine.VerifierKey(b.DeviceKey)
	if err != nil {
		return c.fail(1, "the backup holds a bad device key for %s: %v", b.Appliance, err)
	}
	if _, err := age.ParseX25519Identity(b.Identity); err != nil {
		return c.fail(1, "the backup holds a bad age identity for %s; restore another backup", b.Appliance)
	}
	for id := range b.Licenses {
		if !licenseID.MatchString(id) {
			return c.fail(1, "the backup names a license file %q, which is no license id; restore another backup", id)
		}
	}
	home := engine.MatchPlatform(b.Platform, c.plat, c.a.cfg.Product.Binding.MinMatch).OK()
	s := c.a.snap
	if s.app != nil {
		switch {
		case s.app.ID != b.Appliance:
			return c.fail(1, "this state holds appliance %s; a backup of %s can only be restored into an empty state directory or over the same appliance", s.app.ID, b.Appliance)
		case !home:
			return c.fail(1, "this state holds appliance %s, but the backup's platform does not match this one; restore into an empty state directory to make a new appliance here", s.app.ID)
		case b.History == "":
			return c.fail(1, "this backup was made by a validator from before the history; restore it into an empty state directory")
		}
	} else if err := c.clearLeftovers(); err != nil {
		return c.fail(2, "%v", err)
	}
	c.changed = true
	switch {
	case b.History == "" && home:
		return c.restoreLegacyHome(b)
	case b.History == "":
		return c.restoreLegacyElsewhere(b, oldVerifier)
	}
	bh, bf, err := backupHistory(b)
	if err != nil {
		return c.fail(1, "%v", err)
	}
	switch {
	case !home:
		return c.restoreElsewhere(b, bh, oldVerifier)
	case s.app != nil:
		return c.restoreOver(s, b, bh, bf)
	}
	return c.restoreHome(b, bh, bf)
}

func openBackup(text []byte, pass string) (*engine.Backup, error) {
	id, err := age.NewScryptIdentity(pass)
	if err != nil {
		return nil, fmt.Errorf("failed to read the backup: %w", err)
	}
	id.SetMaxWorkFactor(maxWorkFactor)
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

// licenses says "1 license" or "n licenses".
func licenses(n int) string {
	if n == 1 {
		return "1 license"
	}
	return fmt.Sprintf("%d licenses", n)
}

// maxPassphrase bounds the line a passphrase file is read for.
const maxPassphrase = 4 << 10

// readFirstLine reads the first line of a file, at most maxPassphrase bytes
// of it.
func readFirstLine(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPassphrase))
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return line, nil
}

// licenseID is the form of a license id, and so of a license file's name.
var licenseID = regexp.MustCompile(`^L-[0-9A-Za-z]{6,40}$`)
