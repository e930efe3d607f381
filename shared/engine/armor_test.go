package engine_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/tenurehq/tenure/shared/engine"
)

func TestArmorRoundTrip(t *testing.T) {
	for n := 0; n <= 200; n++ {
		data := bytes.Repeat([]byte{byte(n)}, n)
		text := engine.Armor(engine.LabelRelease, data)
		for _, line := range strings.Split(strings.TrimSuffix(string(text), "\n"), "\n") {
			if len(line) > 64 && !strings.HasPrefix(line, "-----") {
				t.Fatalf("%d bytes: line of %d columns", n, len(line))
			}
		}
		got, err := engine.Dearmor(engine.LabelRelease, text)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: %v", n, err)
		}
		crlf := bytes.ReplaceAll(text, []byte("\n"), []byte("\r\n"))
		if got, err := engine.Dearmor(engine.LabelRelease, crlf); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes with CR LF: %v", n, err)
		}
	}
}

func TestDearmorStrict(t *testing.T) {
	good := string(engine.Armor(engine.LabelLicense, []byte(strings.Repeat("tenure", 20))))
	lines := strings.Split(good, "\n")
	for _, c := range []struct {
		name, text string
		want       error
	}{
		{"other label", strings.ReplaceAll(good, "TENURE LICENSE", "TENURE RELEASE RECEIPT"), engine.ErrMalformed},
		{"lower case label", strings.ReplaceAll(good, "TENURE LICENSE", "tenure license"), engine.ErrMalformed},
		{"no final newline", strings.TrimSuffix(good, "\n"), engine.ErrMalformed},
		{"blank lines after END", good + "\n \r\n\t\n", nil}, // outside the document, as in age's armor
		{"text after blank lines", good + "\n\nhi\n", engine.ErrMalformed},
		{"leading blank line", "\n" + good, engine.ErrMalformed},
		{"blank line inside", strings.Replace(good, "-----\n", "-----\n\n", 1), engine.ErrMalformed},
		{"CR alone", strings.ReplaceAll(good, "\n", "\r"), engine.ErrMalformed},
		{"mixed line ends", strings.Replace(good, "\n", "\r\n", 1), nil}, // CR LF is tolerated line by line
		{"space before a line", strings.Replace(good, "\n"+lines[1], "\n "+lines[1], 1), engine.ErrMalformed},
		{"tab after a line", strings.Replace(good, lines[1]+"\n", lines[1]+"\t\n", 1), engine.ErrMalformed},
		{"url-safe base64", strings.NewReplacer("+", "-", "/", "_").Replace(good), nil}, // checked below: only if the text had neither
		{"two documents", good + good, engine.ErrMalformed},
		{"over 64 KiB", strings.Repeat("A", engine.MaxDocument+1), engine.ErrTooLarge},
		{"empty", "", engine.ErrMalformed},
		{"only BEGIN", lines[0] + "\n", engine.ErrMalformed},
	} {
		_, err := engine.Dearmor(engine.LabelLicense, []byte(c.text))
		if c.name == "url-safe base64" {
			if strings.ContainsAny(good, "+/") && err == nil {
				t.Errorf("%s: accepted", c.name)
			}
			continue
		}
		if c.want == nil {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

func TestMaxDocumentBoundary(t *testing.T) {
	// The largest armored text accepted is exactly MaxDocument bytes.
	data := bytes.Repeat([]byte("x"), 48000)
	text := engine.Armor(engine.LabelLicense, data)
	if len(text) > engine.MaxDocument {
		t.Fatalf("test armor is %d bytes", len(text))
	}
	if _, err := engine.Dearmor(engine.LabelLicense, text); err != nil {
		t.Fatal(err)
	}
	big := engine.Armor(engine.LabelLicense, bytes.Repeat([]byte("x"), 49000))
	if _, err := engine.Dearmor(engine.LabelLicense, big); !errors.Is(err, engine.ErrTooLarge) {
		t.Fatalf("%d bytes: %v", len(big), err)
	}
}
