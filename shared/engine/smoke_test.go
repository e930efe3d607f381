package engine

import (
	"crypto/rand"
	"testing"
	"time"

	"filippo.io/age"
	"golang.org/x/mod/sumdb/note"

	"github.com/tenurehq/tenure/schema"
)

func TestSmokeRoundTrip(t *testing.T) {
	prod, err := ParseProduct(schema.EdgeProduct)
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey, _ := GenerateKey(rand.Reader, "tenure-issuer-test")
	signer, _ := note.NewSigner(skey)
	trust, err := ParseTrust(vkey + "\n")
	if err != nil {
		t.Fatal(err)
	}
	dskey, dvkey, _ := GenerateKey(rand.Reader, "A-abc123xyz")
	dev, _ := note.NewSigner(dskey)
	id, _ := age.GenerateX25519Identity()
	plat := HashPlatform("edge", map[string]string{"machine_id": "m1", "dmi_uuid": "u1", "mac:eth0": "aa"})
	now := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	req := &Request{Appliance: "A-abc123xyz", Platform: plat, Product: "edge", Version: "0.40.0", DeviceKey: dvkey,
		Recipient: id.Recipient().String(), TrialStart: now, Mode: "trial", Installed: []string{}, Sequence: 1, Created: now, Nonce: "0123456789abcdef0123"}
	lrf, err := SignRequest(req, dev)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := OpenRequest(lrf)
	if err != nil || got.Appliance != req.Appliance {
		t.Fatal(err)
	}
	d, err := Decide(Activation{At: now, Order: now, New: []Revision{{Number: 1, Change: ChangeOrder, TermMonths: 12}}})
	if err != nil {
		t.Fatal(err)
	}
	lic := &License{ID: "L-000001", Contract: "IC-1042", Revision: 1, Customer: "ACME", Product: "edge", Tier: "pro", Kind: KindCommercial,
		Appliance: req.Appliance, Platform: plat, DeviceKeyHash: KeyHash(dvkey), Features: []string{"scion", "vpn"},
		Limits: map[string]int64{"vpn_users": 250}, From: d.From, Until: d.Until, GraceDays: 90, MinVersion: "0.38.0", Reason: d.Reason, Issued: now}
	signed, err := SignLicense(lic, signer)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := Seal(signed, req.Recipient)
	if err != nil {
		t.Fatal(err)
	}
	opened, _, err := OpenLicense(sealed, id, trust)
	if err != nil {
		t.Fatal(err)
	}
	if err := (Binding{Appliance: req.Appliance, Platform: plat, DeviceKey: dvkey, Product: prod, Version: "0.40.0"}).Check(opened); err != nil {
		t.Fatal(err)
	}
	st := Evaluate(&Input{Product: prod, Host: now.Add(time.Hour), TrialStart: now, Licenses: []Entry{{ID: lic.ID, License: opened}}})
	if st.State != ModeLicensed || st.Until == nil || !st.Until.Equal(time.Date(2027, 1, 5, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("%+v", st)
	}
	at := time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)
	st = Evaluate(&Input{Product: prod, Host: now, At: &at, TrialStart: now, Licenses: []Entry{{ID: lic.ID, License: opened}}})
	if st.State != ModeGrace || st.Next.State != ModeRestricted {
		t.Fatalf("%+v", st)
	}
	t.Logf("%s / %s", st.Reason, st.Next.At)
}
