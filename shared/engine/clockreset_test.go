package engine_test

import (
	"crypto/rand"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tenurehq/tenure/shared/engine"
)

func TestClockResetRoundTrip(t *testing.T) {
	skey, vkey, err := engine.GenerateKey(rand.Reader, "tenure-issuer-2026")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	trust, err := engine.ParseTrust(vkey + "\n")
	if err != nil {
		t.Fatal(err)
	}
	mark := time.Date(2026, 12, 1, 21, 0, 0, 0, time.UTC)
	want := engine.ClockReset{Appliance: "A-7f3k2m9q", DeviceKeyHash: engine.KeyHash(vkey), Nonce: "0123456789abcdef0123456789abcdef",
		Sequence: 7, Mark: mark, Reason: "host clock ran to 2099", Issued: mark}
	text, err := engine.SignClockReset(&want, signer)
	if err != nil {
		t.Fatal(err)
	}
	if got := engine.ArmorLabel(text); got != engine.LabelClock {
		t.Fatalf("ArmorLabel = %q", got)
	}
	got, err := engine.OpenClockReset(text, trust)
	if err != nil || *got != want {
		t.Fatalf("OpenClockReset = %+v, %v; want %+v", got, err, want)
	}
	// Every changed byte is refused: the armor, the body and the signature
	// leave no byte free.
	for i := range text {
		for _, x := range []byte{0x01, 0x20, 0x80} {
			bad := append([]byte(nil), text...)
			bad[i] ^= x
			if c, err := engine.OpenClockReset(bad, trust); err == nil {
				t.Fatalf("byte %d ^ %#x opened: %+v", i, x, c)
			}
		}
	}
	// A reset does not open as anything else, nor anything else as a reset.
	if _, _, err := engine.OpenRequest(text); err == nil {
		t.Fatal("a reset opened as an LRF")
	}
	if _, err := engine.OpenClockReset(engine.Armor(engine.LabelClock, []byte("tenure.license/v1\n{}\n")), trust); err == nil {
		t.Fatal("a license body opened as a reset")
	}
}

func TestArmorLabel(t *testing.T) {
	for in, want := range map[string]string{
		"-----BEGIN TENURE CLOCK-----\nAAAA\n":           engine.LabelClock,
		"\r\n-----BEGIN TENURE LICENSE-----\r\nAAAA\r\n": engine.LabelLicense,
		"-----BEGIN AGE ENCRYPTED FILE-----\n":           "AGE ENCRYPTED FILE",
		"BEGIN TENURE CLOCK\n":                           "",
		"-----BEGIN TENURE CLOCK\n":                      "",
		"":                                               "",
	} {
		if got := engine.ArmorLabel([]byte(in)); got != want {
			t.Errorf("ArmorLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIssuedAfter(t *testing.T) {
	mark := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		issued time.Time
		want   bool
	}{
		{mark.Add(-time.Hour), false},
		{mark.Add(engine.FutureSlack), false},
		{mark.Add(engine.FutureSlack + time.Second), true},
		{time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), true},
	} {
		if got := engine.IssuedAfter(&engine.License{Issued: c.issued}, mark); got != c.want {
			t.Errorf("IssuedAfter(issued %v, mark %v) = %v", c.issued, mark, got)
		}
	}
}
