package validator

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"filippo.io/age"
	"golang.org/x/mod/sumdb/note"

	"github.com/tenurehq/tenure/shared/engine"
)

// Records in the state directory.
type (
	applianceRecord struct {
		ID        string            `json:"id"`
		Product   string            `json:"product"`
		Version   string            `json:"version"`
		DeviceKey string            `json:"device_key"` // the private note key, named with ID
		Identity  string            `json:"identity"`   // the age X25519 identity
		Platform  engine.Components `json:"platform"`   // the platform it was made on
		Created   time.Time         `json:"created"`
	}
	clockRecord struct {
		HighWater time.Time `json:"high_water"`
	}
	sequenceRecord struct {
		Sequence uint64 `json:"sequence"`
	}
	firstUseRecord struct {
		At time.Time `json:"at"`
	}
	trialRecord struct {
		Platform engine.Components `json:"platform"`
		Started  time.Time         `json:"started"`
	}
	// previousRecord keeps the identity of the appliance a backup came from,
	// when it was restored onto another platform: enough to open and list its
	// licenses (inactive) and to recognise its receipts.
	previousRecord struct {
		Appliance string `json:"appliance"`
		Identity  string `json:"identity"`
		DeviceKey string `json:"device_key"` // verifier key
	}
)

// snapshot is the state directory as read at one generation.
type snapshot struct {
	gen       string
	app       *applianceRecord // nil: not initialised
	signer    note.Signer
	verifier  string // the device's verifier key
	identity  *age.X25519Identity
	previous  []previous
	trials    map[string]trialRecord // by file name
	firstUse  *time.Time
	highWater time.Time
	tampered  string // why the clock record is not trusted; "" when it is
	sequence  uint64
	licenses  []*stored
	receipts  map[string]*receipt // by file name
	released  map[string]string   // license id to the receipt's file name
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
}

type previous struct {
	rec      previousRecord
	identity *age.X25519Identity
}

// stored is one license file and what opening it gave.
type stored struct {
	id    string
	text  []byte
	lic   *engine.License
	err   error  // why it could not be opened or verified
	owner string // the appliance whose identity opened it
}

type receipt struct {
	text []byte
	rel  *engine.Release
}

// opened is a cached result of unsealing and verifying one license file.
type opened struct {
	lic   *engine.License
	err   error
	owner string
}

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

	// Caches that survive re-reads: licenses and receipts by the SHA-256 of
	// their bytes, for the appliance identity they were opened with.
	cacheOwner string
	licCache   map[[32]byte]opened
	relCache   map[[32]byte]*engine.Release
	cryptoOps  int

	platRaw  string
	platHash engine.Components
	nowRaw   string // the last TENURE_NOW read, and its value
	nowVal   time.Time
	cur      call         // the call in progress
	checkIn  engine.Input // the check path's engine input, reused
	memo     checkMemo    // the last checks' answers

	// gen is the generation file held open, so a warm call costs one read
	// of it and no path lookup; genOpened bounds how long a replaced file
	// (the whole directory swapped under a running host) can go unseen.
	gen       *os.File
	genOpened time.Time
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

// refresh makes a.snap current: it compares the generation file with the one
// last read and re-reads the state only when it changed; now is the time
// on the system clock.
func (a *Appliance) refresh(now time.Time) error {
	var buf [genSize]byte
	n, err := a.generation(&buf, now)
	if err != nil {
		return err
	}
	if a.snap != nil && a.snap.gen == string(buf[:n]) {
		return nil
	}
	snap, err := a.load(string(buf[:n]))
	if err != nil {
		return err
	}
	a.snap = snap
	if snap.highWater.After(a.hw) {
		a.hw = snap.highWater
	}
	return nil
}

// genSize is the length of a generation value: 16 random bytes in hex.
const genSize = 32

// generation reads the generation file into buf and returns its length (0
// when there is none). It is rewritten in place (see bumpGeneration), so the
// open file shows every change; it is re-opened at least once a second in
// case the file itself was replaced.
func (a *Appliance) generation(buf *[genSize]byte, now time.Time) (int, error) {
	if a.gen != nil && now.Sub(a.genOpened) > time.Second {
		a.gen.Close()
		a.gen = nil
	}
	if a.gen == nil {
		f, err := os.Open(a.st.path(fileGeneration))
		if isNotExist(err) {
			if _, err := os.Stat(a.cfg.Dir); err != nil {
				return 0, fmt.Errorf("cannot read the state directory %s: %w; the host must mount it", a.cfg.Dir, err)
			}
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("cannot read the state directory %s: %w; the host must mount it", a.cfg.Dir, err)
		}
		a.gen, a.genOpened = f, now
	}
	n, err := a.gen.ReadAt(buf[:], 0)
	if err != nil && n == 0 {
		a.gen.Close()
		a.gen = nil
		return 0, nil
	}
	return n, nil
}

// bumpGeneration tells every instance over this directory to re-read it.
// The value is a hint, not state: it is written in place, without a rename,
// so instances holding the file open see it, and a torn write only causes
// one more re-read.
func (a *Appliance) bumpGeneration() (string, error) {
	b := make([]byte, genSize/2)
	if _, err := io.ReadFull(a.cfg.rand(), b); err != nil {
		return "", fmt.Errorf("failed to read randomness: %w", err)
	}
	g := hex.EncodeToString(b)
	if err := cut(fileGeneration, "begin"); err != nil {
		return "", err
	}
	f, err := os.OpenFile(a.st.path(fileGeneration), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return "", fmt.Errorf("failed to write %s: %w; check the state directory is writable", fileGeneration, err)
	}
	_, err = f.WriteAt([]byte(g), 0)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("failed to write %s: %w", fileGeneration, err)
	}
	return g, nil
}

func (a *Appliance) load(gen string) (*snapshot, error) {
	s := &snapshot{gen: gen, trials: map[string]trialRecord{}, receipts: map[string]*receipt{}, released: map[string]string{}}
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
	if s.verifier, err = verifierKey(app.DeviceKey); err != nil {
		return nil, fmt.Errorf("the appliance record holds a bad device key: %w; restore a backup with `tenure restore`", err)
	}
	if s.identity, err = age.ParseX25519Identity(app.Identity); err != nil {
		return nil, fmt.Errorf("the appliance record holds a bad age identity: %w; restore a backup with `tenure restore`", err)
	}
	a.st.macKey = macKeyFor(app.DeviceKey)
	if a.cacheOwner != app.ID {
		a.cacheOwner, a.licCache, a.relCache = app.ID, map[[32]byte]opened{}, map[[32]byte]*engine.Release{}
	}
	warn := func(err error) { s.warnings = append(s.warnings, err.Error()) }

	var clock clockRecord
	switch found, err := a.st.getRecord(fileClock, &clock); {
	case errors.Is(err, errTampered):
		s.tampered = "the clock record failed its integrity check"
		warn(err)
	case err != nil:
		return nil, err
	case !found:
		s.tampered = "the clock record is missing"
	default:
		s.highWater = clock.HighWater
	}
	var seq sequenceRecord
	if _, err := a.st.getRecord(fileSequence, &seq); err != nil {
		warn(err)
	}
	s.sequence = seq.Sequence
	var fu firstUseRecord
	if found, err := a.st.getRecord(fileFirstUse, &fu); err != nil {
		warn(err)
	} else if found {
		s.firstUse = &fu.At
	}
	names, err := a.st.list(dirTrials)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		var tr trialRecord
		if _, err := a.st.getRecord(dirTrials+"/"+n, &tr); err != nil {
			warn(err)
			continue
		}
		s.trials[n] = tr
	}
	names, err = a.st.list(dirPrevious)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		var p previousRecord
		if _, err := a.st.getRecord(dirPrevious+"/"+n, &p); err != nil {
			warn(err)
			continue
		}
		id, err := age.ParseX25519Identity(p.Identity)
		if err != nil {
			warn(fmt.Errorf("record %s/%s holds a bad identity: %w", dirPrevious, n, err))
			continue
		}
		s.previous = append(s.previous, previous{rec: p, identity: id})
	}
	if err := a.loadReceipts(s); err != nil {
		return nil, err
	}
	if err := a.loadLicenses(s); err != nil {
		return nil, err
	}
	return s, nil
}

func (a *Appliance) loadReceipts(s *snapshot) error {
	names, err := a.st.list(dirReceipts)
	if err != nil {
		return err
	}
	keys := map[string]string{s.app.ID: s.verifier}
	for _, p := range s.previous {
		keys[p.rec.Appliance] = p.rec.DeviceKey
	}
	for _, n := range names {
		text, err := a.st.read(dirReceipts + "/" + n)
		if err != nil {
			return fmt.Errorf("failed to read receipt %s: %w", n, err)
		}
		sum := sha256.Sum256(text)
		rel, ok := a.relCache[sum]
		if !ok {
			a.cryptoOps++
			rel, _, err = engine.OpenRelease(text, func(appliance string) (string, error) {
				if k, ok := keys[appliance]; ok {
					return k, nil
				}
				return "", fmt.Errorf("receipt of unknown appliance %s", appliance)
			})
			if err != nil {
				s.warnings = append(s.warnings, fmt.Sprintf("receipt %s is damaged and ignored: %v", n, err))
				continue
			}
			a.relCache[sum] = rel
		}
		s.receipts[n] = &receipt{text: text, rel: rel}
		for _, id := range rel.Licenses {
			s.released[id] = n
		}
		if rel.Appliance == s.app.ID && rel.Sequence > s.sequence {
			// A power cut between writing a receipt and its sequence
			// record: the receipt is the commit point.
			s.sequence = rel.Sequence
		}
	}
	return nil
}

func (a *Appliance) loadLicenses(s *snapshot) error {
	names, err := a.st.list(dirLicenses)
	if err != nil {
		return err
	}
	slices.Sort(names)
	for _, n := range names {
		text, err := a.st.read(dirLicenses + "/" + n)
		if err != nil {
			return fmt.Errorf("failed to read license %s: %w", n, err)
		}
		o := a.open(s, text)
		s.licenses = append(s.licenses, &stored{id: n, text: text, lic: o.lic, err: o.err, owner: o.owner})
	}
	return nil
}

// open unseals and verifies a license file, once per distinct file.
func (a *Appliance) open(s *snapshot, text []byte) opened {
	sum := sha256.Sum256(text)
	if o, ok := a.licCache[sum]; ok {
		return o
	}
	a.cryptoOps++
	trust := a.cfg.Trust
	if trust == nil {
		trust = nobody()
	}
	o := opened{owner: s.app.ID}
	o.lic, _, o.err = engine.OpenLicense(text, s.identity, trust)
	if errors.Is(o.err, engine.ErrSealedElsewhere) {
		for _, p := range s.previous {
			lic, _, err := engine.OpenLicense(text, p.identity, trust)
			if !errors.Is(err, engine.ErrSealedElsewhere) {
				o = opened{lic: lic, err: err, owner: p.rec.Appliance}
				break
			}
		}
	}
	if o.err != nil {
		o.err = explainOpen(o.err, a.cfg.Trust == nil)
	}
	a.licCache[sum] = o
	return o
}

var nobodyTrust = sync.OnceValue(func() *engine.Trust {
	_, vkey, err := engine.GenerateKey(rand.Reader, "no-trusted-issuer-key")
	if err != nil {
		panic(err)
	}
	t, err := engine.ParseTrust(vkey)
	if err != nil {
		panic(err)
	}
	return t
})

// nobody is a trust no issuer signs with, for a validator built without
// TRUST: licenses still open, so their details are listed, and are inactive.
func nobody() *engine.Trust { return nobodyTrust() }

// explainOpen turns an engine error into a reason a person can act on.
func explainOpen(err error, noTrust bool) error {
	switch {
	case errors.Is(err, engine.ErrSealedElsewhere):
		return errors.New("sealed to another appliance: this license was made for another appliance's request; make a request here with `tenure request` and ask the vendor for a license for it")
	case errors.Is(err, engine.ErrUntrusted) && noTrust:
		return errors.New("signed by an unknown key: this validator was built without a trusted issuer key; rebuild it with `make build TRUST=FILE` listing the issuer's keys")
	case errors.Is(err, engine.ErrUntrusted) && strings.Contains(err.Error(), "not-after"):
		return fmt.Errorf("signed by a retired issuer key: %s; ask the vendor to reissue it with a current key", strings.TrimPrefix(err.Error(), "failed to open license: failed to verify license: "+engine.ErrUntrusted.Error()+": "))
	case errors.Is(err, engine.ErrUntrusted):
		return fmt.Errorf("%s: ask the vendor for a license signed by a key this validator trusts, or update the validator", strings.TrimPrefix(strings.TrimPrefix(err.Error(), "failed to open license: "), "failed to verify license: "))
	case errors.Is(err, engine.ErrBadSignature):
		return errors.New("the license file was altered: its signature does not verify; ask the vendor for the file again")
	case errors.Is(err, engine.ErrTooLarge):
		return fmt.Errorf("not a license file: %w", err)
	}
	return fmt.Errorf("the license file is damaged or altered (%v); ask the vendor for the file again", err)
}

// entries returns the engine's view of the licenses on one platform and
// version, cached until the state or the inputs change.
func (a *Appliance) entries(s *snapshot, plat engine.Components, platKey, version string) []engine.Entry {
	if s.entries != nil && s.entriesPlat == platKey && s.entriesVersion == version {
		return s.entries
	}
	b := engine.Binding{Appliance: s.app.ID, Platform: plat, DeviceKey: s.verifier, Product: a.cfg.Product, Version: version}
	out := make([]engine.Entry, 0, len(s.licenses))
	for _, l := range s.licenses {
		e := engine.Entry{ID: l.id, License: l.lic}
		_, e.Released = s.released[l.id]
		switch {
		case l.err != nil:
			e.Inactive = l.err.Error()
		case l.owner != s.app.ID:
			e.Inactive = fmt.Sprintf("bound to another platform: issued to appliance %s, whose state was restored here as %s; request a license with `tenure request` and have the old seat released or reallocated", l.owner, s.app.ID)
		case l.lic.ID != l.id:
			e.Inactive = fmt.Sprintf("the file %s/%s holds license %s; the state was edited by hand", dirLicenses, l.id, l.lic.ID)
		default:
			if err := b.Check(l.lic); err != nil {
				e.Inactive = err.Error()
			}
		}
		out = append(out, e)
	}
	s.entries, s.entriesPlat, s.entriesVersion, s.mode = out, platKey, version, nil
	return out
}

// trialFor returns when this platform's trial started: the earliest trial
// record whose platform matches under the product's binding rule, so a
// replaced NIC keeps its trial and another machine gets its own. The
// appliance's own platform counts from the appliance's creation whatever its
// trial record says, so losing that record to an edit gains nothing.
func (a *Appliance) trialFor(s *snapshot, plat engine.Components) (time.Time, bool) {
	var start time.Time
	found := false
	if engine.MatchPlatform(s.app.Platform, plat, a.cfg.Product.Binding.MinMatch).OK() {
		start, found = s.app.Created, true
	}
	for _, tr := range s.trials {
		if engine.MatchPlatform(tr.Platform, plat, a.cfg.Product.Binding.MinMatch).OK() {
			if !found || tr.Started.Before(start) {
				start, found = tr.Started, true
			}
		}
	}
	return start, found
}

// cachedTrial is trialFor, remembered per platform until the trial records
// change.
func (a *Appliance) cachedTrial(s *snapshot, plat engine.Components, platKey string) (time.Time, bool) {
	if s.trialKey != platKey {
		s.trial, s.trialOK = a.trialFor(s, plat)
		s.trialKey = platKey
	}
	return s.trial, s.trialOK
}

// verifierKey derives the verifier key "name+hash+base64" from a note
// private key (the "PRIVATE+KEY" prefix, then "+name+hash+base64").
func verifierKey(skey string) (string, error) {
	if _, err := note.NewSigner(skey); err != nil {
		return "", err
	}
	parts := strings.SplitN(skey, "+", 5) // base64 may hold "+" too
	if len(parts) != 5 {
		return "", errors.New("malformed note key")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize {
		return "", errors.New("malformed note key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey := parts[2] + "+" + parts[3] + "+" + base64.StdEncoding.EncodeToString(append([]byte{raw[0]}, pub...))
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return "", err
	}
	if fmt.Sprintf("%08x", v.KeyHash()) != parts[3] {
		return "", errors.New("note key hash does not match")
	}
	return vkey, nil
}
