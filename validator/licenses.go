package validator

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/tenurehq/tenure/shared/engine"
)

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
		o.err = explainOpen(o.err, a.cfg.Trust)
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

// signerIDs names the keys that signed a document no trusted key admits,
// with their hashes: two keys may share a name (every development key is
// tenure-dev).
func signerIDs(u *engine.UntrustedError) string {
	if len(u.Keys) > 0 {
		return strings.Join(u.Keys, ", ")
	}
	return strings.Join(u.Signers, ", ")
}

// trustedIDs names the keys this validator trusts, with their hashes.
func trustedIDs(trust *engine.Trust) string {
	if trust == nil {
		return "no key"
	}
	return strings.Join(trust.IDs(), ", ")
}

// explainOpen turns an engine error into a reason a person can act on.
func explainOpen(err error, trust *engine.Trust) error {
	noTrust := trust == nil
	switch {
	case errors.Is(err, engine.ErrSealedElsewhere):
		return errors.New("sealed to another appliance: this license was made for another appliance's request; make a request here with `tenure request` and ask the vendor for a license for it")
	case errors.Is(err, engine.ErrUntrusted) && noTrust:
		return errors.New("signed by an unknown key: this validator was built without a trusted issuer key; rebuild it with `make build TRUST=FILE` listing the issuer's keys")
	}
	if u, ok := errors.AsType[*engine.UntrustedError](err); ok {
		if !u.NotAfter.IsZero() {
			return fmt.Errorf("signed by a retired issuer key (%s): issued %s, after its key's not-after date %s; ask the vendor to reissue it with a current key",
				strings.Join(u.Signers, ", "), u.Issued.Format(engine.TimeFormat), u.NotAfter.Format(engine.TimeFormat))
		}
		return fmt.Errorf("signed by an unknown key (%s), and this validator trusts %s: ask the vendor for a license signed by a key it trusts, or rebuild the validator trusting the issuer's keys (`make build TRUST=FILE`)", signerIDs(u), trustedIDs(trust))
	}
	switch {
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
		e := engine.Entry{ID: l.id, License: l.lic, Missing: l.missing}
		if r, ok := s.released[l.id]; ok {
			e.Released, e.ReleasedAt = true, r.At
		}
		switch {
		case l.lic == nil && l.missing != "":
			e.Inactive = l.missing
		case l.err != nil:
			e.Inactive = l.err.Error()
		case l.ev == nil || l.owner != "" && l.owner != s.app.ID:
			e.Inactive = fmt.Sprintf("bound to another platform: issued to appliance %s, whose state was restored here as %s; request a license with `tenure request` and have the old seat released or reallocated", l.owner, s.app.ID)
		case s.issuedInFuture(l):
			e.Inactive = engine.IssuedInFuture
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

// issuedInFuture reports whether a clock reset applied after l was
// installed found it issued more than a day after the reset's mark: an
// issuer with a clock far ahead signed it, so it does not count and does
// not floor the clock.
func (s *snapshot) issuedInFuture(l *stored) bool {
	for _, r := range s.resets {
		if r.N > l.ev.N && engine.IssuedAfter(l.lic, r.Clock.Mark) {
			return true
		}
	}
	return false
}
