package validator

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tenurehq/tenure/schema"
	"github.com/tenurehq/tenure/shared/engine"
)

const (
	platformA = `{"machine_id":"m-aaaa","dmi_uuid":"u-aaaa","mac:eth0":"52:54:00:00:00:0a"}`
	// platformA2 is platform A with its NIC replaced: two classes of three.
	platformA2 = `{"machine_id":"m-aaaa","dmi_uuid":"u-aaaa","mac:eth0":"52:54:00:00:00:ff"}`
	platformB  = `{"machine_id":"m-bbbb","dmi_uuid":"u-bbbb","mac:eth0":"52:54:00:00:00:0b"}`
)

// issuer is a throwaway issuer key, made for each test.
type issuer struct {
	signer note.Signer
	vkey   string
	n      int
}

func newIssuer(t testing.TB, name string) *issuer {
	t.Helper()
	skey, vkey, err := engine.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return &issuer{signer: s, vkey: vkey}
}

func (is *issuer) trust(t testing.TB, extra string) *engine.Trust {
	t.Helper()
	tr, err := engine.ParseTrust(is.vkey + extra + "\n")
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// license makes a license for the appliance that made lrf, sealed to it.
// edit may change the license before it is signed.
func (is *issuer) license(t testing.TB, lrf string, contract, from, until, issued string, edit func(*engine.License)) (id, sealed string) {
	t.Helper()
	req, _, err := engine.OpenRequest([]byte(lrf))
	if err != nil {
		t.Fatalf("the LRF does not open: %v", err)
	}
	is.n++
	l := &engine.License{
		ID: "L-" + strings.Repeat("0", 5) + string(rune('a'+is.n)), Contract: contract, Revision: is.n, Customer: "ACME",
		Product: req.Product, Tier: "pro", Kind: engine.KindCommercial, Appliance: req.Appliance,
		Platform: req.Platform, DeviceKeyHash: engine.KeyHash(req.DeviceKey),
		Features: []string{"scion", "vpn"}, Limits: map[string]int64{"vpn_users": 250},
		From: day(t, from), Until: day(t, until), GraceDays: 90, MinVersion: "0.38.0",
		Reason: engine.ReasonInitial, Issued: day(t, issued),
	}
	if edit != nil {
		edit(l)
	}
	signed, err := engine.SignLicense(l, is.signer)
	if err != nil {
		t.Fatal(err)
	}
	s, err := engine.Seal(signed, req.Recipient)
	if err != nil {
		t.Fatal(err)
	}
	return l.ID, string(s)
}

// reset makes a clock reset answering lrf, with mark as the issuer's time.
// edit may change it before it is signed.
func (is *issuer) reset(t testing.TB, lrf, mark string, edit func(*engine.ClockReset)) string {
	t.Helper()
	req, _, err := engine.OpenRequest([]byte(lrf))
	if err != nil {
		t.Fatalf("the LRF does not open: %v", err)
	}
	r := &engine.ClockReset{Appliance: req.Appliance, DeviceKeyHash: engine.KeyHash(req.DeviceKey), Nonce: req.Nonce,
		Sequence: req.Sequence, Mark: day(t, mark), Reason: "host clock ran ahead", Issued: day(t, mark)}
	if edit != nil {
		edit(r)
	}
	text, err := engine.SignClockReset(r, is.signer)
	if err != nil {
		t.Fatal(err)
	}
	return string(text)
}

func day(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := engine.ParseInstant(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func edge(t testing.TB) *engine.Product {
	t.Helper()
	p, err := engine.ParseProduct(schema.EdgeProduct)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func testConfig(t *testing.T, trust *engine.Trust) *Config {
	return &Config{Dir: t.TempDir(), Trust: trust, Product: edge(t), ScryptWorkFactor: 10}
}

// env is an invocation's environment.
type env struct {
	now, platform, version string
}

func (e env) vars() map[string]string {
	m := map[string]string{EnvNow: e.now, EnvPlatform: e.platform}
	if e.version != "" {
		m[EnvVersion] = e.version
	}
	return m
}

// cli runs one invocation in a fresh Appliance, as the command module does,
// and fails the test unless it exits with want.
func cli(t *testing.T, cfg *Config, e env, stdin string, want int, args ...string) Response {
	t.Helper()
	return expect(t, Run(cfg, Request{Args: args, Env: e.vars(), Stdin: stdin}), want, args)
}

func expect(t *testing.T, r Response, want int, args []string) Response {
	t.Helper()
	if r.Exit != want {
		t.Fatalf("tenure %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.Exit, want, r.Stdout, r.Stderr)
	}
	return r
}

func status(t *testing.T, cfg *Config, e env, args ...string) *engine.Status {
	t.Helper()
	r := cli(t, cfg, e, "", 0, append([]string{"status", "--json"}, args...)...)
	var s engine.Status
	if err := json.Unmarshal([]byte(r.Stdout), &s); err != nil {
		t.Fatalf("status --json is not a status: %v\n%s", err, r.Stdout)
	}
	return &s
}

func standing(s *engine.Status, id string) engine.LicenseStatus {
	for _, l := range s.Licenses {
		if l.ID == id {
			return l
		}
	}
	return engine.LicenseStatus{}
}

func mustContain(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s does not say %q:\n%s", what, w, got)
		}
	}
}

// day1 is the day the tests' appliances are made.
const day1 = "2026-01-05T10:00:00Z"

// newAppliance makes an appliance on platform A at day1 and its first LRF.
func newAppliance(t *testing.T) (is *issuer, cfg *Config, e env, lrf string) {
	t.Helper()
	is = newIssuer(t, "tenure-issuer-test")
	cfg = testConfig(t, is.trust(t, ""))
	e = env{now: day1, platform: platformA}
	cli(t, cfg, e, "", 0, "init", "--product", "edge", "--version", "0.40.0")
	return is, cfg, e, cli(t, cfg, e, "", 0, "request").Stdout
}

// cutFrom makes the nth write step, and every one after it, fail as a
// power cut would; steps reports how many steps were reached, so a run
// that reached fewer than n did its whole job. The test must call stop.
func cutFrom(n int) (steps func() int, stop func()) {
	count := 0
	cutPower = func(name, step string) error {
		count++
		if count >= n {
			return fmt.Errorf("%w at %s/%s", errPowerCut, name, step)
		}
		return nil
	}
	return func() int { return count }, func() { cutPower = nil }
}
