package engine_test

import (
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/tenurehq/tenure/shared/engine"
)

func TestParseTrust(t *testing.T) {
	_, k1, _ := engine.GenerateKey(rand.Reader, "tenure-issuer-2025")
	sk2, k2, _ := engine.GenerateKey(rand.Reader, "tenure-issuer-2026")
	for _, c := range []struct {
		name, text string
		keys       []string // names; nil means an error is wanted
		notAfter   []string
		err        string
	}{
		{"one key", k1, []string{"tenure-issuer-2025"}, []string{""}, ""},
		{"two keys, comments, blanks", "# keys\n\n" + k1 + " not-after=2026-07-01\n  " + k2 + "  \n", []string{"tenure-issuer-2025", "tenure-issuer-2026"}, []string{"2026-07-01T00:00:00Z", ""}, ""},
		{"not-after instant", k2 + " not-after=2026-07-01T12:00:00Z", []string{"tenure-issuer-2026"}, []string{"2026-07-01T12:00:00Z"}, ""},
		{"CR LF", k1 + "\r\n" + k2 + "\r\n", []string{"tenure-issuer-2025", "tenure-issuer-2026"}, []string{"", ""}, ""},
		{"empty", "", nil, nil, "no issuer key"},
		{"comments only", "# none\n", nil, nil, "no issuer key"},
		{"private key by mistake", "# oops\n" + sk2, nil, nil, "trust line 2: a private key is not a verifier key"},
		{"not a key", "hello", nil, nil, "line 1: \"hello\" is not a verifier key"},
		{"bad key on line 3", k1 + "\n\n" + k2[:len(k2)-4], nil, nil, "line 3"},
		{"unknown option", k1 + " expires=2026-07-01", nil, nil, "unknown option"},
		{"bad date", k1 + " not-after=tomorrow", nil, nil, "not a UTC instant"},
		{"offset date", k1 + " not-after=2026-07-01T00:00:00+02:00", nil, nil, "not a UTC instant"},
	} {
		tr, err := engine.ParseTrust(c.text)
		if c.keys == nil {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if len(tr.Keys) != len(c.keys) {
			t.Errorf("%s: %d keys", c.name, len(tr.Keys))
			continue
		}
		for i, k := range tr.Keys {
			na := ""
			if !k.NotAfter.IsZero() {
				na = k.NotAfter.Format(time.RFC3339)
			}
			if k.Name != c.keys[i] || na != c.notAfter[i] {
				t.Errorf("%s: key %d is %s not-after %q", c.name, i, k.Name, na)
			}
		}
	}
}
