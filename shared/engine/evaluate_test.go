package engine_test

import (
	crand "crypto/rand"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tenurehq/tenure/schema"
	"github.com/tenurehq/tenure/shared/engine"
)

// TestStatusAgreesWithModes draws random sets of licenses (released before,
// during or after their window, superseded, addons, pending) and holds a
// status to the modes it announces: the mode is the one ModeAt gives, it
// holds at every second up to next.at that any input names, and at next.at
// the mode is next.state. A status whose until disagrees with its own mode
// is what an operator reads as "trial until February" on a day already
// restricted.
func TestStatusAgreesWithModes(t *testing.T) {
	product, err := engine.ParseProduct(schema.EdgeProduct)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	d := func(n int) time.Time { return base.Add(time.Duration(n) * engine.Day) }
	r := rand.New(rand.NewPCG(7, 11))
	for i := range 2000 {
		in := &engine.Input{Product: product, TrialStart: d(0)}
		var instants []time.Time
		for j := range r.IntN(4) {
			from := d(r.IntN(200) - 20)
			l := &engine.License{ID: "L-" + string(rune('a'+j)), Kind: engine.KindCommercial, From: from,
				Until: from.Add(time.Duration(1+r.IntN(120)) * engine.Day), GraceDays: []int{0, 30}[r.IntN(2)],
				Features: []string{"vpn"}, Limits: map[string]int64{"vpn_users": int64(j + 1)}}
			if r.IntN(4) == 0 {
				l.Kind = engine.KindAddon
			}
			if j > 0 && r.IntN(5) == 0 {
				l.Supersedes = []string{"L-a"}
			}
			e := engine.Entry{ID: l.ID, License: l}
			if r.IntN(3) == 0 {
				e.Released, e.ReleasedAt = true, d(r.IntN(220)-20)
			}
			in.Licenses = append(in.Licenses, e)
			instants = append(instants, l.From, l.Until, l.Until.Add(30*engine.Day), l.Until.Add(90*engine.Day), e.ReleasedAt)
		}
		instants = append(instants, d(30))
		at := d(r.IntN(260) - 30)
		in.At = &at
		s := engine.Evaluate(in)
		if m := engine.ModeAt(in, at); m.State != s.State {
			t.Fatalf("case %d at %s: status %s, ModeAt %s", i, at, s.State, m.State)
		}
		end := at.Add(10 * 365 * engine.Day)
		if s.Next != nil {
			end = s.Next.At
			if m := engine.ModeAt(in, s.Next.At); m.State != s.Next.State {
				t.Fatalf("case %d at %s: next %s at %s, but ModeAt there says %s", i, at, s.Next.State, s.Next.At, m.State)
			}
		}
		for _, b := range instants {
			for _, x := range []time.Time{b.Add(-time.Second), b, b.Add(time.Second)} {
				if x.Before(at) || !x.Before(end) {
					continue
				}
				if m := engine.ModeAt(in, x); m.State != s.State {
					t.Fatalf("case %d at %s: status %s until %v, but ModeAt(%s) is %s", i, at, s.State, s.Until, x, m.State)
				}
			}
		}
	}
}

// TestUntrustedError: a caller reads the signers and dates of a refusal from
// the error's fields, and errors.Is still sees ErrUntrusted.
func TestUntrustedError(t *testing.T) {
	f := newFixture(t)
	vkey := f.trust.Keys[0].Key
	retired, err := engine.ParseTrust(vkey + " not-after=2026-01-01")
	if err != nil {
		t.Fatal(err)
	}
	_, err = engine.VerifyLicense(f.signed, retired)
	u, ok := errors.AsType[*engine.UntrustedError](err)
	if !ok || !errors.Is(err, engine.ErrUntrusted) {
		t.Fatalf("retired key: got %v, want an *UntrustedError matching ErrUntrusted", err)
	}
	if len(u.Signers) != 1 || u.Signers[0] != "tenure-issuer-2026" || !u.Issued.Equal(f.license.Issued) || u.NotAfter.Format(engine.DateFormat) != "2026-01-01" {
		t.Fatalf("retired key: fields %+v", u)
	}
	unknown, err := engine.ParseTrust(newSigner(t, "tenure-issuer-other").vkey)
	if err != nil {
		t.Fatal(err)
	}
	_, err = engine.VerifyLicense(f.signed, unknown)
	if u, ok := errors.AsType[*engine.UntrustedError](err); !ok || !u.NotAfter.IsZero() || len(u.Signers) != 1 || u.Signers[0] != "tenure-issuer-2026" {
		t.Fatalf("unknown key: got %v", err)
	}
}

// TestVerifierKey derives the verifier key GenerateKey made alongside the
// private key, and refuses what is not a private key.
func TestVerifierKey(t *testing.T) {
	skey, vkey, err := engine.GenerateKey(crand.Reader, "A-7f3k2m9q")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := engine.VerifierKey(skey); err != nil || got != vkey {
		t.Fatalf("VerifierKey = %q, %v; want %q", got, err, vkey)
	}
	for _, bad := range []string{"", vkey, "PRIVATE+KEY+A-1+00000000+AAAA"} {
		if _, err := engine.VerifierKey(bad); err == nil {
			t.Errorf("VerifierKey(%q) accepted", bad)
		}
	}
}
