package main

import (
	"fmt"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tenurehq/tenure/shared/engine"
)

// The appliance every vector is about, and another one.
const (
	appliance = "A-7f3k2m9q"
	otherApp  = "A-9x8w7v6u"
	product   = "edge"
)

// The raw platform the appliance runs on.
var platform = map[string]string{
	"machine_id": "4c4c4544004a3510804bb4c04f565931",
	"dmi_uuid":   "44454c4c-4a00-1035-804b-b4c04f565931",
	"mac:eth0":   "00:1b:21:3a:4f:10",
}

// A key is a throwaway note key pair; the private half stays in memory.
type key struct {
	name   string
	vkey   string
	signer note.Signer
}

func newKey(name string) (key, error) {
	skey, vkey, err := engine.GenerateKey(random, name)
	if err != nil {
		return key{}, err
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		return key{}, err
	}
	return key{name: name, vkey: vkey, signer: s}, nil
}

type gen struct {
	files map[string][]byte
	err   error

	old, cur, rogue key // issuer keys: the retiring one, the current one, one nobody trusts
	device, other   key // the appliance's device key, another appliance's
}

func newGen() (*gen, error) {
	g := &gen{files: map[string][]byte{}}
	var err error
	for _, k := range []struct {
		to   *key
		name string
	}{{&g.old, "tenure-issuer-2025"}, {&g.cur, "tenure-issuer-2026"}, {&g.rogue, "tenure-issuer-rogue"}, {&g.device, appliance}, {&g.other, otherApp}} {
		if *k.to, err = newKey(k.name); err != nil {
			return nil, fmt.Errorf("failed to make a throwaway key: %w", err)
		}
	}
	return g, nil
}

func (g *gen) all() error {
	g.documents()
	g.armors()
	g.backups()
	g.scenarios()
	g.issuing()
	return g.err
}

func (g *gen) fail(err error) {
	if err != nil && g.err == nil {
		g.err = err
	}
}

// ts parses an instant or date written in a case.
func ts(s string) time.Time {
	t, err := engine.ParseInstant(s)
	if err != nil {
		panic(err)
	}
	return t
}

func tsp(s string) *time.Time { t := ts(s); return &t }

var (
	proFeatures  = []string{"monitoring", "peering", "scion", "vpn"}
	liteFeatures = []string{"monitoring", "scion"}
	proLimits    = map[string]int64{"peering_tunnels": 100, "vpn_users": 250}
	liteLimits   = map[string]int64{"peering_tunnels": 10, "vpn_users": 25}
)

// baseLicense is a year of tier pro for the appliance from 2026-01-05.
func (g *gen) baseLicense() *engine.License {
	return &engine.License{
		ID: "L-000001", Contract: "IC-1042", Revision: 1, Customer: "ACME Networks", Product: product,
		Tier: "pro", Kind: engine.KindCommercial, Appliance: appliance,
		Platform: engine.HashPlatform(product, platform), DeviceKeyHash: engine.KeyHash(g.device.vkey),
		Features: proFeatures, Limits: proLimits,
		From: ts("2026-01-05"), Until: ts("2027-01-05"), GraceDays: 90, MinVersion: "0.38.0",
		Reason: engine.ReasonInitial, Issued: ts("2026-01-05T09:00:00Z"),
	}
}

// license signs a variant of the base license with the current issuer key,
// or with the given keys.
func (g *gen) license(edit func(*engine.License), signers ...key) string {
	l := g.baseLicense()
	if edit != nil {
		edit(l)
	}
	if len(signers) == 0 {
		signers = []key{g.cur}
	}
	var ss []note.Signer
	for _, k := range signers {
		ss = append(ss, k.signer)
	}
	signed, err := engine.SignLicense(l, ss...)
	g.fail(err)
	return string(signed)
}

// signBody signs a body exactly as given, for bodies the encoder would
// never produce.
func (g *gen) signBody(body string, signers ...key) string {
	var ss []note.Signer
	for _, k := range signers {
		ss = append(ss, k.signer)
	}
	signed, err := engine.Sign([]byte(body), ss...)
	g.fail(err)
	return string(signed)
}

func (g *gen) baseRequest() *engine.Request {
	return &engine.Request{
		Appliance: appliance, Platform: engine.HashPlatform(product, platform), Product: product, Version: "0.40.0",
		DeviceKey: g.device.vkey, Recipient: "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
		TrialStart: ts("2026-01-05T08:00:00Z"), Mode: engine.ModeTrial, Installed: []string{}, Sequence: 1,
		Created: ts("2026-01-20T14:30:00Z"), Nonce: "n0nce-0123456789abcdef",
	}
}

func (g *gen) request(edit func(*engine.Request)) string {
	r := g.baseRequest()
	if edit != nil {
		edit(r)
	}
	lrf, err := engine.SignRequest(r, g.device.signer)
	g.fail(err)
	return string(lrf)
}

func (g *gen) baseRelease() *engine.Release {
	return &engine.Release{
		Contract: "IC-1042", Licenses: []string{"L-000001", "L-000002"}, Appliance: appliance,
		Released: ts("2026-09-01T10:00:00Z"), Sequence: 7, Nonce: "r3lease-0123456789abcdef",
	}
}

func (g *gen) receipt(edit func(*engine.Release)) string {
	r := g.baseRelease()
	if edit != nil {
		edit(r)
	}
	text, err := engine.SignRelease(r, g.device.signer)
	g.fail(err)
	return string(text)
}

// baseClock is a clock reset answering the base request, issued the day
// after it was made.
func (g *gen) baseClock() *engine.ClockReset {
	return &engine.ClockReset{
		Appliance: appliance, DeviceKeyHash: engine.KeyHash(g.device.vkey), Nonce: "n0nce-0123456789abcdef",
		Sequence: 1, Mark: ts("2026-01-21T09:00:00Z"), Reason: "the host clock ran to 2099", Issued: ts("2026-01-21T09:00:00Z"),
	}
}

func (g *gen) clock(edit func(*engine.ClockReset), signers ...key) string {
	c := g.baseClock()
	if edit != nil {
		edit(c)
	}
	if len(signers) == 0 {
		signers = []key{g.cur}
	}
	var ss []note.Signer
	for _, k := range signers {
		ss = append(ss, k.signer)
	}
	text, err := engine.SignClockReset(c, ss...)
	g.fail(err)
	return string(text)
}

// usageHashes is the history a usage report carries: four entries, then the
// report's own.
var usageHashes = []string{strings.Repeat("1", 64), strings.Repeat("2", 64), strings.Repeat("3", 64), strings.Repeat("4", 64), strings.Repeat("5", 64)}

// baseUsage is the first usage report of the appliance, from its first
// license to the start of July: a base contract, and an addon that records
// features only.
func (g *gen) baseUsage() *engine.Usage {
	return &engine.Usage{
		Appliance: appliance, Product: product,
		Period: engine.Period{From: ts("2026-01-05T09:00:00Z"), Until: ts("2026-07-01T08:00:00Z")},
		Contracts: []engine.UsageSection{
			{Contract: "IC-1042", Limits: map[string]engine.Peaks{"peering_tunnels": {Allowed: 80}, "vpn_users": {Allowed: 250, Denied: 312}},
				Features: map[string]int{"monitoring": 177, "scion": 170, "vpn": 150}},
			{Contract: "IC-2077", Limits: map[string]engine.Peaks{}, Features: map[string]int{"peering": 40}},
		},
		History:  engine.NewTrail(usageHashes, 3),
		Sequence: 5, Created: ts("2026-07-01T08:00:00Z"), Nonce: "us4ge-0123456789abcdef",
	}
}

// usage signs a variant of the base report with the device key.
func (g *gen) usage(edit func(*engine.Usage)) string {
	u := g.baseUsage()
	if edit != nil {
		edit(u)
	}
	text, err := engine.SignUsage(u, g.device.signer)
	g.fail(err)
	return string(text)
}

func body(typ string, v any) string {
	b, err := engine.Encode(typ, v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
