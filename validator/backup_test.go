package validator

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"filippo.io/age/armor"
)

// TestBackupBounds: a short passphrase is refused with a way to make a good
// one, and a backup asking for more scrypt work than age's default is
// refused before any of it is done (a 400-byte file could otherwise make
// restore take gigabytes).
func TestBackupBounds(t *testing.T) {
	is := newIssuer(t, "tenure-issuer-test")
	cfg := testConfig(t, is.trust(t, ""))
	e := env{now: "2026-01-05T10:00:00Z", platform: platformA}
	cli(t, cfg, e, "", 0, "init", "--product", "edge", "--version", "0.40.0")
	r := cli(t, cfg, e, "short pass\n", 2, "backup", "--passphrase-file", "-")
	mustContain(t, "a short passphrase's refusal", r.Stderr, "at least 12", "--passphrase-file F")

	bk := cli(t, cfg, e, "a long pass phrase\n", 0, "backup", "--passphrase-file", "-").Stdout
	raw, err := io.ReadAll(armor.NewReader(strings.NewReader(bk)))
	if err != nil {
		t.Fatal(err)
	}
	// The scrypt stanza names its work factor after the salt: make it 30.
	lines := bytes.SplitN(raw, []byte("\n"), 3)
	f := bytes.Fields(lines[1])
	if len(f) != 4 || string(f[1]) != "scrypt" || string(f[3]) != "10" {
		t.Fatalf("unexpected stanza %q", lines[1])
	}
	f[3] = []byte("30")
	lines[1] = bytes.Join(f, []byte(" "))
	var crafted bytes.Buffer
	w := armor.NewWriter(&crafted)
	w.Write(bytes.Join(lines, []byte("\n")))
	w.Close()
	empty := testConfig(t, cfg.Trust)
	r = cli(t, empty, e, "a long pass phrase\n"+crafted.String(), 1, "restore", "--passphrase-file", "-")
	mustContain(t, "a costly backup's refusal", r.Stderr, "work factor")
}
