package engine_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/tenurehq/tenure/schema"
	"github.com/tenurehq/tenure/shared/engine"
)

func ExampleHashComponent() {
	// Every host hashes a raw component the same way, so an issuer and an
	// appliance agree on a platform without the serial numbers leaving it.
	fmt.Println(engine.HashComponent("edge", "machine_id", "4c4c4544004a3510804bb4c04f565931"))
	// Output:
	// 6b91e083ccab3f1fbc6206bf1bb5b510a811c98fed35569979a29c882e9df243
}

func ExampleMatchPlatform() {
	raw := map[string]string{
		"machine_id":            "4c4c4544004a3510804bb4c04f565931",
		"dmi_uuid":              "44454c4c-4a00-1035-804b-b4c04f565931",
		"mac:00:1b:21:3a:4f:10": "00:1b:21:3a:4f:10", // the NIC, by its address
		"mac:eth0":              "00:1b:21:3a:4f:10", // and by its name, as before Revision 2
	}
	licensed := engine.HashPlatform("edge", raw)

	// The NIC is renamed ens3: its address still names it.
	delete(raw, "mac:eth0")
	raw["mac:ens3"] = "00:1b:21:3a:4f:10"
	m := engine.MatchPlatform(licensed, engine.HashPlatform("edge", raw), 0)
	fmt.Println(m, m.OK())

	// A VM cloned from it: a new board UUID and a new NIC, the same image.
	clone := map[string]string{
		"machine_id":            "4c4c4544004a3510804bb4c04f565931",
		"dmi_uuid":              "11112222-3333-4444-5555-666677778888",
		"mac:52:54:00:9e:01:02": "52:54:00:9e:01:02",
		"mac:eth0":              "52:54:00:9e:01:02",
	}
	m = engine.MatchPlatform(licensed, engine.HashPlatform("edge", clone), 0)
	fmt.Println(m, m.OK())
	// Output:
	// 3 of 3 component classes match, 2 needed true
	// 1 of 3 component classes match, 2 needed false
}

func ExampleAddMonths() {
	jan31 := time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)
	fmt.Println(engine.AddMonths(jan31, 1).Format(engine.DateFormat))
	fmt.Println(engine.AddMonths(jan31, 2).Format(engine.DateFormat))
	fmt.Println(engine.AddMonths(jan31.AddDate(2, 0, 0), 1).Format(engine.DateFormat)) // 2028 is a leap year
	// Output:
	// 2026-02-28
	// 2026-03-31
	// 2028-02-29
}

// A renewal that reaches the issuer in grace still starts at the end of the
// old coverage, so the appliance's coverage has no gap.
func ExampleDecide() {
	current := &engine.License{ID: "L-000001",
		From: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC), Until: time.Date(2027, 1, 5, 0, 0, 0, 0, time.UTC)}
	d, err := engine.Decide(engine.Activation{
		At:    time.Date(2027, 2, 10, 9, 30, 0, 0, time.UTC), // 36 days late
		Order: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC),
		New:   []engine.Revision{{Number: 2, Change: engine.ChangeRenewal, TermMonths: 12}},
		Chain: []*engine.License{current},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.Reason, d.From.Format(engine.TimeFormat), d.Until.Format(engine.TimeFormat))
	// Output:
	// renewal 2027-01-05T00:00:00Z 2028-01-05T00:00:00Z
}

// An upgrade runs from the day it is activated to the end of the current
// coverage; once the coverage has ended it must wait for a renewal.
func ExampleDecide_upgrade() {
	current := &engine.License{ID: "L-000001",
		From: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC), Until: time.Date(2027, 1, 5, 0, 0, 0, 0, time.UTC)}
	a := engine.Activation{
		At:    time.Date(2026, 6, 15, 11, 0, 0, 0, time.UTC),
		Order: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC),
		New:   []engine.Revision{{Number: 2, Change: engine.ChangeUpgrade, TermMonths: 12}},
		Chain: []*engine.License{current},
	}
	d, _ := engine.Decide(a)
	fmt.Println(d.Reason, d.From.Format(engine.TimeFormat), d.Until.Format(engine.TimeFormat))

	a.At = time.Date(2027, 2, 10, 9, 0, 0, 0, time.UTC) // in grace
	_, err := engine.Decide(a)
	fmt.Println(errors.Is(err, engine.ErrRenewFirst))
	// Output:
	// upgrade 2026-06-15T00:00:00Z 2027-01-05T00:00:00Z
	// true
}

func ExampleEvaluate() {
	product, err := engine.ParseProduct(schema.EdgeProduct)
	if err != nil {
		fmt.Println(err)
		return
	}
	// A license as VerifyLicense and Binding.Check have let it through.
	l := &engine.License{ID: "L-000001", Contract: "IC-1042", Tier: "lite", Kind: engine.KindCommercial,
		Features: []string{"monitoring", "scion"}, Limits: map[string]int64{"vpn_users": 25},
		From: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC), Until: time.Date(2027, 1, 5, 0, 0, 0, 0, time.UTC),
		GraceDays: 90, Reason: engine.ReasonInitial, Issued: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)}
	in := &engine.Input{
		Product:    product,
		Host:       time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		TrialStart: time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC),
		Licenses:   []engine.Entry{{ID: l.ID, License: l}},
	}
	s := engine.Evaluate(in)
	fmt.Println(s.State, s.Features, s.Limits["vpn_users"], "until", s.Until.Format(engine.DateFormat))

	// The same appliance a month after the license ended: grace, with the
	// features it had.
	at := time.Date(2027, 2, 5, 0, 0, 0, 0, time.UTC)
	in.At = &at
	s = engine.Evaluate(in)
	fmt.Println(s.State, s.Features, s.Limits["vpn_users"], "until", s.Until.Format(engine.DateFormat), "then", s.Next.State)
	fmt.Println(s.Reason)
	// Output:
	// licensed [monitoring scion] 25 until 2027-01-05
	// grace [monitoring scion] 25 until 2027-04-05 then restricted
	// license coverage ended 2027-01-05T00:00:00Z; grace ends 2027-04-05T00:00:00Z; install a renewal
}

func ExampleArmor() {
	text := engine.Armor(engine.LabelRelease, []byte("tenure.release/v1\n{\"contract\":\"IC-1042\"}\n"))
	fmt.Print(string(text))
	data, err := engine.Dearmor(engine.LabelRelease, text)
	fmt.Printf("%q %v\n", data, err)
	_, err = engine.Dearmor(engine.LabelLicense, text)
	fmt.Println(err)
	// Output:
	// -----BEGIN TENURE RELEASE RECEIPT-----
	// dGVudXJlLnJlbGVhc2UvdjEKeyJjb250cmFjdCI6IklDLTEwNDIifQo=
	// -----END TENURE RELEASE RECEIPT-----
	// "tenure.release/v1\n{\"contract\":\"IC-1042\"}\n" <nil>
	// malformed document: found "-----BEGIN TENURE RELEASE RECEIPT-----", expected -----BEGIN TENURE LICENSE-----
}
