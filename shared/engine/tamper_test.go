package engine_test

import (
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"filippo.io/age"
	"golang.org/x/mod/sumdb/note"

	"github.com/tenurehq/tenure/schema"
	"github.com/tenurehq/tenure/shared/engine"
)

// fixture is one appliance and one issuer with throwaway keys, and the three
// documents that travel between them.
type fixture struct {
	product  *engine.Product
	trust    *engine.Trust
	identity *age.X25519Identity
	device   string // the device's verifier key
	binding  engine.Binding
	signed   []byte // a signed license note
	sealed   []byte // the same, sealed to the appliance and armored
	lrf      []byte // an armored LRF
	receipt  []byte // an armored release receipt
	license  *engine.License
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{}
	var err error
	if f.product, err = engine.ParseProduct(schema.EdgeProduct); err != nil {
		t.Fatal(err)
	}
	issuer := newSigner(t, "tenure-issuer-2026")
	if f.trust, err = engine.ParseTrust(issuer.vkey); err != nil {
		t.Fatal(err)
	}
	dev := newSigner(t, "A-7f3k2m9q")
	f.device = dev.vkey
	if f.identity, err = age.GenerateX25519Identity(); err != nil {
		t.Fatal(err)
	}
	plat := engine.HashPlatform("edge", map[string]string{"machine_id": "m1", "dmi_uuid": "u1", "mac:eth0": "aa"})
	now := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	req := &engine.Request{Appliance: "A-7f3k2m9q", Platform: plat, Product: "edge", Version: "0.40.0", DeviceKey: dev.vkey,
		Recipient: f.identity.Recipient().String(), TrialStart: now, Mode: engine.ModeTrial, Installed: []string{}, Sequence: 1,
		Created: now, Nonce: "0123456789abcdef0123"}
	if f.lrf, err = engine.SignRequest(req, dev.signer); err != nil {
		t.Fatal(err)
	}
	got, _, err := engine.OpenRequest(f.lrf)
	if err != nil || got.Appliance != req.Appliance || got.Recipient != req.Recipient {
		t.Fatalf("open request: %v", err)
	}
	d, err := engine.Decide(engine.Activation{At: now, Order: now, New: []engine.Revision{{Number: 1, Change: engine.ChangeOrder, TermMonths: 12}}})
	if err != nil {
		t.Fatal(err)
	}
	f.license = &engine.License{ID: "L-000001", Contract: "IC-1042", Revision: 1, Customer: "ACME", Product: "edge", Tier: "pro",
		Kind: engine.KindCommercial, Appliance: req.Appliance, Platform: plat, DeviceKeyHash: engine.KeyHash(dev.vkey),
		Features: []string{"scion", "vpn"}, Limits: map[string]int64{"vpn_users": 250}, From: d.From, Until: d.Until,
		GraceDays: 90, MinVersion: "0.38.0", Reason: d.Reason, Issued: now}
	if f.signed, err = engine.SignLicense(f.license, issuer.signer); err != nil {
		t.Fatal(err)
	}
	if f.sealed, err = engine.Seal(f.signed, req.Recipient); err != nil {
		t.Fatal(err)
	}
	f.binding = engine.Binding{Appliance: req.Appliance, Platform: plat, DeviceKey: dev.vkey, Product: f.product, Version: "0.40.0"}
	rel := &engine.Release{Contract: "IC-1042", Licenses: []string{"L-000001"}, Appliance: req.Appliance, Released: now.Add(time.Hour),
		Sequence: 2, Nonce: "0123456789abcdef0124"}
	if f.receipt, err = engine.SignRelease(rel, dev.signer); err != nil {
		t.Fatal(err)
	}
	return f
}

type signer struct {
	vkey   string
	signer note.Signer
}

func newSigner(t testing.TB, name string) signer {
	t.Helper()
	skey, vkey, err := engine.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return signer{vkey, s}
}

// TestRoundTrip follows one license from the LRF to the status: request,
// decision, signing, sealing, opening, binding and evaluation.
func TestRoundTrip(t *testing.T) {
	f := newFixture(t)
	opened, signed, err := engine.OpenLicense(f.sealed, f.identity, f.trust)
	if err != nil {
		t.Fatal(err)
	}
	if string(signed) != string(f.signed) || opened.Until != time.Date(2027, 1, 5, 0, 0, 0, 0, time.UTC) {
		t.Fatalf("opened %+v", opened)
	}
	if err := f.binding.Check(opened); err != nil {
		t.Fatal(err)
	}
	other, _ := age.GenerateX25519Identity()
	if _, _, err := engine.OpenLicense(f.sealed, other, f.trust); !errors.Is(err, engine.ErrSealedElsewhere) {
		t.Fatalf("another appliance's identity: %v", err)
	}
	in := &engine.Input{Product: f.product, Host: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), TrialStart: f.license.Issued,
		Licenses: []engine.Entry{{ID: opened.ID, License: opened}}}
	st := engine.Evaluate(in)
	if st.State != engine.ModeLicensed || !st.ConfigChanges || st.Next.State != engine.ModeGrace {
		t.Fatalf("%+v", st)
	}
	m := engine.ModeAt(in, st.At)
	if !m.Allows("vpn") || m.Allows("peering") || !m.AllowsLimit("vpn_users", 250) || m.AllowsLimit("vpn_users", 251) || m.AllowsLimit("peering_tunnels", 1) {
		t.Fatalf("mode %+v", m)
	}
	rel, _, err := engine.OpenRelease(f.receipt, func(string) (string, error) { return f.device, nil })
	if err != nil || rel.Licenses[0] != "L-000001" {
		t.Fatalf("receipt: %v", err)
	}
}

// mutations yields every single-byte change of doc: each byte XOR 0x01, and
// each byte replaced by another printable character.
func mutations(doc []byte, yield func(i int, changed []byte)) {
	for i := range doc {
		for _, b := range []byte{doc[i] ^ 0x01, printableOther(doc[i])} {
			c := append([]byte(nil), doc...)
			c[i] = b
			yield(i, c)
		}
	}
}

func printableOther(b byte) byte {
	if b == 'A' {
		return 'B'
	}
	return 'A'
}

func TestTamperSignedLicense(t *testing.T) {
	f := newFixture(t)
	armored := engine.Armor(engine.LabelLicense, f.signed)
	n := 0
	mutations(armored, func(i int, c []byte) {
		n++
		signed, err := engine.Dearmor(engine.LabelLicense, c)
		if err != nil {
			return
		}
		if l, err := engine.VerifyLicense(signed, f.trust); err == nil {
			t.Errorf("byte %d (%q→%q) changed and the license still verifies: %+v", i, armored[i], c[i], l)
		}
	})
	mutations(f.signed, func(i int, c []byte) {
		if _, err := engine.VerifyLicense(c, f.trust); err == nil {
			t.Errorf("note byte %d (%q→%q) changed and the license still verifies", i, f.signed[i], c[i])
		}
	})
	t.Logf("%d armored and %d note mutations refused", n, 2*len(f.signed))
}

func TestTamperSealedLicense(t *testing.T) {
	f := newFixture(t)
	mutations(f.sealed, func(i int, c []byte) {
		if _, _, err := engine.OpenLicense(c, f.identity, f.trust); err == nil {
			t.Errorf("sealed byte %d (%q→%q) changed and the license still opens", i, f.sealed[i], c[i])
		}
	})
}

func TestTamperRequest(t *testing.T) {
	f := newFixture(t)
	mutations(f.lrf, func(i int, c []byte) {
		if r, _, err := engine.OpenRequest(c); err == nil {
			t.Errorf("LRF byte %d (%q→%q) changed and it still opens: %+v", i, f.lrf[i], c[i], r)
		}
	})
}

func TestTamperReceipt(t *testing.T) {
	f := newFixture(t)
	pinned := func(string) (string, error) { return f.device, nil }
	mutations(f.receipt, func(i int, c []byte) {
		if r, _, err := engine.OpenRelease(c, pinned); err == nil {
			t.Errorf("receipt byte %d (%q→%q) changed and it still opens: %+v", i, f.receipt[i], c[i], r)
		}
	})
}
