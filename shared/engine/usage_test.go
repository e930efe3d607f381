package engine_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tenurehq/tenure/shared/engine"
)

const usageAppliance = "A-7f3k2m9q"

var usageHashes = []string{strings.Repeat("1", 64), strings.Repeat("2", 64), strings.Repeat("3", 64), strings.Repeat("4", 64)}

// baseUsage is half a year of a base contract and an addon: the addon
// records features only.
func baseUsage() *engine.Usage {
	return &engine.Usage{
		Appliance: usageAppliance, Product: "edge",
		Period: engine.Period{From: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC), Until: time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC)},
		Contracts: []engine.UsageSection{
			{Contract: "IC-1042", Limits: map[string]engine.Peaks{"peering_tunnels": {Allowed: 80}, "vpn_users": {Allowed: 250, Denied: 312}},
				Features: map[string]int{"monitoring": 177, "scion": 170, "vpn": 150}},
			{Contract: "IC-2077", Limits: map[string]engine.Peaks{}, Features: map[string]int{"peering": 40}},
		},
		History:  engine.NewTrail(usageHashes, 2),
		Sequence: 5, Created: time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC), Nonce: "us4ge-0123456789abcdef",
	}
}

// pin is the issuer's look-up of the device key it pinned for an appliance.
func pin(vkey string) func(string) (string, error) {
	return func(string) (string, error) { return vkey, nil }
}

// armoredUsage signs body exactly as given, for bodies SignUsage would never
// produce, and armors it.
func armoredUsage(t *testing.T, body string, s signer) []byte {
	t.Helper()
	msg, err := engine.Sign([]byte(body), s.signer)
	if err != nil {
		t.Fatal(err)
	}
	return engine.Armor(engine.LabelUsage, msg)
}

func usageBody(t *testing.T, u *engine.Usage) string {
	t.Helper()
	b, err := engine.Encode(engine.TypeUsage, u)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestUsageRoundTrip(t *testing.T) {
	dev := newSigner(t, usageAppliance)
	want := baseUsage()
	text, err := engine.SignUsage(want, dev.signer)
	if err != nil {
		t.Fatal(err)
	}
	if got := engine.ArmorLabel(text); got != engine.LabelUsage {
		t.Fatalf("ArmorLabel = %q", got)
	}
	var asked []string
	got, msg, err := engine.OpenUsage(text, func(appliance string) (string, error) {
		asked = append(asked, appliance)
		return dev.vkey, nil
	})
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("OpenUsage = %+v, %v; want %+v", got, err, want)
	}
	if len(asked) != 1 || asked[0] != usageAppliance {
		t.Fatalf("the pinned key was asked for %q, want the report's appliance once", asked)
	}
	// The note is what was signed: it armors back to the report, and its
	// body is the one exact encoding.
	if !bytes.Equal(engine.Armor(engine.LabelUsage, msg), text) || !bytes.HasPrefix(msg, []byte(usageBody(t, want)+"\n")) {
		t.Fatalf("OpenUsage returned note %q", msg)
	}
	if !strings.HasPrefix(usageBody(t, want), engine.TypeUsage+"\n{\"appliance\":") {
		t.Fatalf("body %q does not start with its type line", usageBody(t, want))
	}
	// A mail client's CR LF is the same report.
	crlf := bytes.ReplaceAll(text, []byte("\n"), []byte("\r\n"))
	if got, _, err := engine.OpenUsage(crlf, pin(dev.vkey)); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("CR LF: %+v, %v", got, err)
	}

	peeked, err := engine.PeekUsage(text)
	if err != nil || !reflect.DeepEqual(peeked, want) {
		t.Fatalf("PeekUsage = %+v, %v", peeked, err)
	}
	// Peeking verifies nothing: a report signed by a stranger still peeks,
	// and only OpenUsage tells them apart.
	stranger := newSigner(t, usageAppliance)
	forged, err := engine.SignUsage(want, stranger.signer)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := engine.PeekUsage(forged); err != nil || p.Appliance != usageAppliance {
		t.Fatalf("PeekUsage of a stranger's report = %+v, %v", p, err)
	}
	if _, _, err := engine.OpenUsage(forged, pin(dev.vkey)); !errors.Is(err, engine.ErrUntrusted) {
		t.Fatalf("OpenUsage of a stranger's report: %v", err)
	}

	if s := got.Section("IC-2077"); s == nil || s.Features["peering"] != 40 || len(s.Limits) != 0 {
		t.Fatalf("Section(IC-2077) = %+v", s)
	}
	if s := got.Section("IC-9999"); s != nil {
		t.Fatalf("Section(IC-9999) = %+v, want nil", s)
	}
	if p := got.Section("IC-1042").Limits["vpn_users"].Peak(); p != 312 {
		t.Fatalf("vpn_users peak = %d, want the denied 312", p)
	}
	if p := (engine.Peaks{Allowed: 7}).Peak(); p != 7 {
		t.Fatalf("peak of allowed 7, denied none = %d", p)
	}
}

// TestUsageEmpty: a report of a period in which nothing was checked, or no
// time passed, is still a report.
func TestUsageEmpty(t *testing.T) {
	dev := newSigner(t, usageAppliance)
	u := baseUsage()
	u.Contracts = []engine.UsageSection{}
	u.Period.Until = u.Period.From
	text, err := engine.SignUsage(u, dev.signer)
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := engine.OpenUsage(text, pin(dev.vkey)); err != nil || !reflect.DeepEqual(got, u) {
		t.Fatalf("OpenUsage = %+v, %v", got, err)
	}
}

func TestTamperUsage(t *testing.T) {
	dev := newSigner(t, usageAppliance)
	text, err := engine.SignUsage(baseUsage(), dev.signer)
	if err != nil {
		t.Fatal(err)
	}
	// Every changed byte is refused: the armor, the body and the signature
	// leave no byte free.
	for i := range text {
		for _, x := range []byte{0x01, 0x20, 0x80} {
			bad := append([]byte(nil), text...)
			bad[i] ^= x
			if u, _, err := engine.OpenUsage(bad, pin(dev.vkey)); err == nil {
				t.Fatalf("byte %d ^ %#x opened: %+v", i, x, u)
			}
		}
	}
	msg, err := engine.Dearmor(engine.LabelUsage, text)
	if err != nil {
		t.Fatal(err)
	}
	mutations(msg, func(i int, c []byte) {
		if u, _, err := engine.OpenUsage(engine.Armor(engine.LabelUsage, c), pin(dev.vkey)); err == nil {
			t.Errorf("note byte %d (%q→%q) changed and the report still opens: %+v", i, msg[i], c[i], u)
		}
	})
}

func TestUsageRefused(t *testing.T) {
	dev := newSigner(t, usageAppliance)
	other := newSigner(t, "A-9x8w7v6u")
	stranger := newSigner(t, usageAppliance) // another key with the appliance's name
	good, err := engine.SignUsage(baseUsage(), dev.signer)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := engine.Dearmor(engine.LabelUsage, good)
	body := usageBody(t, baseUsage())
	edited := func(from, to string) string {
		t.Helper()
		if !strings.Contains(body, from) {
			t.Fatalf("the body does not contain %q", from)
		}
		return strings.Replace(body, from, to, 1)
	}
	license := engine.Armor(engine.LabelUsage, newFixture(t).signed)
	errNeverActivated := errors.New("appliance A-7f3k2m9q was never activated")

	for _, c := range []struct {
		name   string
		text   []byte
		pinned func(string) (string, error)
		is     error  // what the error matches with errors.Is
		want   string // and a part of its message
		peeks  bool   // PeekUsage, which verifies nothing, still decodes it
	}{
		{"another appliance's key pinned", good, pin(other.vkey), engine.ErrUntrusted, "signed by an unknown key", true},
		{"signed by a different key", armoredUsage(t, body, stranger), pin(dev.vkey), engine.ErrUntrusted, "signed by an unknown key", true},
		{"signed by another appliance's pinned key", armoredUsage(t, body, other), pin(other.vkey), engine.ErrUntrusted,
			"signed by A-9x8w7v6u, not by appliance A-7f3k2m9q", true},
		{"never activated", good, func(string) (string, error) { return "", errNeverActivated }, errNeverActivated, "never activated", true},
		{"no pinned key", good, pin(""), engine.ErrUntrusted, "no device key", true},
		{"altered after signing", engine.Armor(engine.LabelUsage, bytes.Replace(msg, []byte(`"denied":312`), []byte(`"denied":311`), 1)),
			pin(dev.vkey), engine.ErrBadSignature, "signature does not verify", true},
		{"wrong armor label", engine.Armor(engine.LabelRelease, msg), pin(dev.vkey), engine.ErrMalformed,
			`found "-----BEGIN TENURE RELEASE RECEIPT-----", expected -----BEGIN TENURE USAGE-----`, false},
		{"license inside", license, pin(dev.vkey), engine.ErrMalformed, "expected a tenure.usage/v1 document", false},
		{"unsorted contracts", armoredUsage(t, strings.Replace(strings.Replace(strings.Replace(body,
			`"IC-1042"`, `"IC-X"`, 1), `"IC-2077"`, `"IC-1042"`, 1), `"IC-X"`, `"IC-2077"`, 1), dev),
			pin(dev.vkey), engine.ErrMalformed, "contracts must be sorted by contract without repeats", false},
		{"repeated contract", armoredUsage(t, edited(`"IC-2077"`, `"IC-1042"`), dev), pin(dev.vkey), engine.ErrMalformed,
			"contracts must be sorted by contract without repeats", false},
		{"period reversed", armoredUsage(t, edited(`"until":"2026-07-01T08:00:00Z"`, `"until":"2026-01-01T00:00:00Z"`), dev),
			pin(dev.vkey), engine.ErrMalformed, "period ends (2026-01-01T00:00:00Z) before it starts (2026-01-05T09:00:00Z)", false},
		{"history's last entry not its head", armoredUsage(t, edited(`"`+usageHashes[3]+`"]`, `"`+usageHashes[0]+`"]`), dev),
			pin(dev.vkey), engine.ErrMalformed, "history's last entry is not its head", false},
		{"history short", armoredUsage(t, edited(`"entries":["`+usageHashes[1]+`",`, `"entries":[`), dev),
			pin(dev.vkey), engine.ErrMalformed, "history lists 2 entries for 2..4", false},
		{"history from ahead", armoredUsage(t, edited(`"from":2`, `"from":5`), dev),
			pin(dev.vkey), engine.ErrMalformed, "history from 5 is outside 1..4", false},
		{"no history", armoredUsage(t, edited(`,"history":{`, `,"x":{`), dev), pin(dev.vkey), engine.ErrMalformed, "missing properties: 'history'", false},
		{"unknown field", armoredUsage(t, edited(`{`, `{"color":"red",`), dev), pin(dev.vkey), engine.ErrMalformed,
			"additionalProperties 'color' not allowed", false},
		{"unknown section field", armoredUsage(t, edited(`{"contract":"IC-2077",`, `{"contract":"IC-2077","seats":2,`), dev),
			pin(dev.vkey), engine.ErrMalformed, "additionalProperties 'seats' not allowed", false},
		{"count over 2^53-1", armoredUsage(t, edited(`"denied":312`, `"denied":9007199254740992`), dev), pin(dev.vkey),
			engine.ErrMalformed, "/contracts/0/limits/vpn_users/denied: must be <=", false},
		{"negative count", armoredUsage(t, edited(`"allowed":80`, `"allowed":-80`), dev), pin(dev.vkey),
			engine.ErrMalformed, "/contracts/0/limits/peering_tunnels/allowed: must be >= 0", false},
		{"reordered", armoredUsage(t, reorderBody(t, body), dev), pin(dev.vkey), engine.ErrMalformed, "not in its one exact encoding", false},
		{"whitespace", armoredUsage(t, strings.ReplaceAll(body, `":`, `": `), dev), pin(dev.vkey), engine.ErrMalformed,
			"not in its one exact encoding", false},
		{"count as 2.5e2", armoredUsage(t, edited(`"allowed":250`, `"allowed":2.5e2`), dev), pin(dev.vkey), engine.ErrMalformed, "2.5e2", false},
		{"two lines", armoredUsage(t, edited(`,"product"`, ",\n\"product\""), dev), pin(dev.vkey), engine.ErrMalformed, "one line of JSON", false},
		{"fraction", armoredUsage(t, edited(`"from":"2026-01-05T09:00:00Z"`, `"from":"2026-01-05T09:00:00.5Z"`), dev),
			pin(dev.vkey), engine.ErrMalformed, "/period/from", false},
		{"over 64 KiB", append(bytes.Clone(good), bytes.Repeat([]byte("\n"), engine.MaxDocument)...), pin(dev.vkey), engine.ErrTooLarge,
			"document too large", false},
		{"a large body over 64 KiB", engine.Armor(engine.LabelUsage, append(bytes.Clone(msg), bytes.Repeat([]byte("x"), engine.MaxDocument)...)),
			pin(dev.vkey), engine.ErrTooLarge, "document too large", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			u, _, err := engine.OpenUsage(c.text, c.pinned)
			if err == nil {
				t.Fatalf("opened: %+v", u)
			}
			if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "failed to open usage report: ") {
				t.Fatalf("OpenUsage: %v; want %v containing %q", err, c.is, c.want)
			}
			if _, err := engine.PeekUsage(c.text); (err == nil) != c.peeks {
				t.Fatalf("PeekUsage: %v; want it to decode: %v", err, c.peeks)
			}
		})
	}

	// A report opens as nothing else, and nothing else as a report.
	if _, _, err := engine.OpenRelease(good, pin(dev.vkey)); err == nil {
		t.Error("a usage report opened as a receipt")
	}
	if _, _, err := engine.OpenRequest(good); err == nil {
		t.Error("a usage report opened as an LRF")
	}
	if _, err := engine.PeekUsage(newFixture(t).receipt); err == nil {
		t.Error("a receipt peeked as a usage report")
	}
}

// reorderBody re-encodes a body's JSON with its fields sorted by name: the
// same values, another encoding.
func reorderBody(t *testing.T, body string) string {
	t.Helper()
	typ, j, _ := strings.Cut(body, "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(j), &m); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if string(b)+"\n" == j {
		t.Fatal("sorting the fields changed nothing")
	}
	return typ + "\n" + string(b) + "\n"
}

func TestSignUsageRefused(t *testing.T) {
	dev := newSigner(t, usageAppliance)
	other := newSigner(t, "A-9x8w7v6u")
	for _, c := range []struct {
		name string
		edit func(*engine.Usage)
		key  signer
		want string
	}{
		{"key named for another appliance", nil, other, "the device key is not named for the appliance"},
		{"unsorted contracts", func(u *engine.Usage) { u.Contracts[0], u.Contracts[1] = u.Contracts[1], u.Contracts[0] }, dev, "contracts must be sorted"},
		{"repeated contract", func(u *engine.Usage) { u.Contracts[1].Contract = u.Contracts[0].Contract }, dev, "contracts must be sorted"},
		{"period reversed", func(u *engine.Usage) { u.Period.From, u.Period.Until = u.Period.Until, u.Period.From }, dev, "period ends"},
		{"count over MaxCount", func(u *engine.Usage) { u.Contracts[0].Limits["vpn_users"] = engine.Peaks{Denied: engine.MaxCount + 1} }, dev, "must be <="},
		{"no history", func(u *engine.Usage) { u.History = nil }, dev, "/history"},
		{"inconsistent history", func(u *engine.Usage) { u.History.From = 9 }, dev, "history from 9"},
		{"nil limits", func(u *engine.Usage) { u.Contracts[1].Limits = nil }, dev, "/contracts/1/limits: expected object, but got null"},
		{"nil contracts", func(u *engine.Usage) { u.Contracts = nil }, dev, "/contracts: expected array, but got null"},
		{"a feature never checked", func(u *engine.Usage) { u.Contracts[1].Features["vpn"] = 0 }, dev, "/contracts/1/features/vpn: must be >= 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			u := baseUsage()
			if c.edit != nil {
				c.edit(u)
			}
			if text, err := engine.SignUsage(u, c.key.signer); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("SignUsage = %q, %v; want an error containing %q", text, err, c.want)
			}
		})
	}
	// The largest count a report records is MaxCount, and it stays exact.
	u := baseUsage()
	u.Contracts[0].Limits["vpn_users"] = engine.Peaks{Allowed: engine.MaxCount, Denied: engine.MaxCount}
	text, err := engine.SignUsage(u, dev.signer)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := engine.OpenUsage(text, pin(dev.vkey))
	if err != nil || got.Section("IC-1042").Limits["vpn_users"].Peak() != engine.MaxCount {
		t.Fatalf("a count of MaxCount: %+v, %v", got, err)
	}
}

// TestRequestUsage: an LRF carries the running summary of the open period,
// held to the same consistency as a report's sections; an LRF without one is
// the LRF an older validator makes, byte for byte.
func TestRequestUsage(t *testing.T) {
	f := newFixture(t)
	plain, _, err := engine.OpenRequest(f.lrf)
	if err != nil {
		t.Fatal(err)
	}
	if plain.Usage != nil {
		t.Fatalf("an LRF without usage opened with %+v", plain.Usage)
	}
	if body, _ := engine.Encode(engine.TypeRequest, plain); bytes.Contains(body, []byte(`"usage"`)) {
		t.Fatalf("an LRF without usage encodes a usage field: %s", body)
	}
	dev := newSigner(t, plain.Appliance)
	r := *plain
	r.DeviceKey = dev.vkey
	u := baseUsage()
	r.Usage = &engine.UsageSummary{Period: engine.Period{From: u.Period.From, Until: plain.Created.Add(30 * 24 * time.Hour)}, Contracts: u.Contracts}
	lrf, err := engine.SignRequest(&r, dev.signer)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := engine.OpenRequest(lrf)
	if err != nil || !reflect.DeepEqual(got.Usage, r.Usage) || !reflect.DeepEqual(got, &r) {
		t.Fatalf("OpenRequest = %+v, %v; want usage %+v", got, err, r.Usage)
	}

	body, err := engine.Encode(engine.TypeRequest, &r)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, from, to, want string }{
		{"repeated contract", `"IC-2077"`, `"IC-1042"`, "contracts must be sorted by contract without repeats"},
		{"period reversed", `"usage":{"period":{"from":"2026-01-05T09:00:00Z"`, `"usage":{"period":{"from":"2027-01-05T09:00:00Z"`, "period ends"},
		{"count over 2^53-1", `"denied":312`, `"denied":9007199254740992`, "/usage/contracts/0/limits/vpn_users/denied: must be <="},
		{"unknown field", `"usage":{`, `"usage":{"report":"x",`, "additionalProperties 'report' not allowed"},
	} {
		if !bytes.Contains(body, []byte(c.from)) {
			t.Fatalf("%s: the LRF body does not contain %q", c.name, c.from)
		}
		msg, err := engine.Sign(bytes.Replace(body, []byte(c.from), []byte(c.to), 1), dev.signer)
		if err != nil {
			t.Fatal(err)
		}
		if got, _, err := engine.OpenRequest(engine.Armor(engine.LabelRequest, msg)); !errors.Is(err, engine.ErrMalformed) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: OpenRequest = %+v, %v; want %q", c.name, got, err, c.want)
		}
	}
	r.Usage.Contracts = []engine.UsageSection{u.Contracts[1], u.Contracts[0]}
	if _, err := engine.SignRequest(&r, dev.signer); err == nil || !strings.Contains(err.Error(), "contracts must be sorted") {
		t.Fatalf("SignRequest with unsorted usage: %v", err)
	}
}
