package wire_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tenurehq/tenure/shared/wire"
)

func encode(s string, escapeHTML bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

var tricky = []string{
	"", "plain", `quote " and \ backslash`, "tab\tnew\nline\rcr\bbs\fff", "\x00\x01\x1f\x7f",
	"<script>&amp;</script>", "é ü 日本", "\u2028\u2029", "bad \xff utf-8 \xc3", "emoji 🎉",
}

func TestAppendString(t *testing.T) {
	for _, s := range tricky {
		for _, html := range []bool{true, false} {
			if got, want := string(wire.AppendString(nil, s, html)), encode(s, html); got != want {
				t.Errorf("AppendString(%q, %v) = %s, encoding/json writes %s", s, html, got, want)
			}
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range tricky {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, html bool) {
		if got, want := string(wire.AppendString([]byte("x"), s, html)), "x"+encode(s, html); got != want {
			t.Fatalf("AppendString(%q, %v) = %s, encoding/json writes %s", s, html, got, want)
		}
	})
}

// TestReadString: what ReadString accepts reads as encoding/json reads it,
// and it never accepts what encoding/json refuses.
func TestReadString(t *testing.T) {
	inputs := []string{`"x"`, `"a\"b"`, `"\u00e9\u2028"`, `"\ud83c\udf89"`, `"\x"`, "\"a\x01\"", "\"\xff\"", `"\/\b\f\n\r\t"`, `"open`, `"\u+123"`}
	for _, s := range tricky {
		inputs = append(inputs, encode(s, true), encode(s, false))
	}
	for _, in := range inputs {
		got, next, ok := wire.ReadString([]byte(in+","), 0)
		var want string
		err := json.Unmarshal([]byte(in), &want)
		if !ok {
			continue
		}
		if err != nil || got != want || next != len(in) {
			t.Errorf("ReadString(%s) = %q, %d; encoding/json: %q, %v", in, got, next, want, err)
		}
	}
	// The fast forms must not fall back.
	for _, s := range []string{"plain", "tab\there", "<&>", "é"} {
		if _, _, ok := wire.ReadString(wire.AppendString(nil, s, true), 0); !ok {
			t.Errorf("ReadString did not read %q as AppendString wrote it", s)
		}
	}
}

func FuzzReadString(f *testing.F) {
	for _, s := range tricky {
		f.Add([]byte(encode(s, true)))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, next, ok := wire.ReadString(b, 0)
		if !ok {
			return
		}
		var want string
		if err := json.Unmarshal(b[:next], &want); err != nil || got != want {
			t.Fatalf("ReadString(%q) = %q; encoding/json: %q, %v", b[:next], got, want, err)
		}
	})
}
