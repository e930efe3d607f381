package abi

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func encode(s string, escapeHTML bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// tricky are strings whose JSON needs every kind of escape, for every test
// of the codec.
var tricky = []string{
	"", "plain", `quote " and \ backslash`, `slash /`, "tab\tnew\nline\rcr\bbs\fff", "\x00\x01\x1f\x7f",
	"<script>&amp;</script>", "é ü 日本", "\u2028\u2029", "été \u2028 \u2029 😀", "bad \xff utf-8 \xc3",
	"bad \xff utf-8 \xe2\x82", "\xff\xfe bad", "\xed\xa0\x80", "\ufffd", "\\u0041", "emoji 🎉",
	`{"machine_id":"4c4c","mac:eth0":"52:54"}`, "allowed: feature vpn (licensed)\n", "tenure: `tenure status`",
}

func TestAppendString(t *testing.T) {
	for _, s := range tricky {
		for _, html := range []bool{true, false} {
			if got, want := string(appendString(nil, s, html)), encode(s, html); got != want {
				t.Errorf("appendString(%q, %v) = %s, encoding/json writes %s", s, html, got, want)
			}
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range tricky {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, html bool) {
		if got, want := string(appendString([]byte("x"), s, html)), "x"+encode(s, html); got != want {
			t.Fatalf("appendString(%q, %v) = %s, encoding/json writes %s", s, html, got, want)
		}
	})
}

// TestReadString: what readString accepts reads as encoding/json reads it,
// and it never accepts what encoding/json refuses.
func TestReadString(t *testing.T) {
	inputs := []string{`"x"`, `"a\"b"`, `"\u00e9\u2028"`, `"\ud83c\udf89"`, `"\x"`, "\"a\x01\"", "\"\xff\"", `"\/\b\f\n\r\t"`, `"open`, `"\u+123"`}
	for _, s := range tricky {
		inputs = append(inputs, encode(s, true), encode(s, false))
	}
	for _, in := range inputs {
		got, next, ok := readString([]byte(in+","), 0)
		var want string
		err := json.Unmarshal([]byte(in), &want)
		if !ok {
			continue
		}
		if err != nil || got != want || next != len(in) {
			t.Errorf("readString(%s) = %q, %d; encoding/json: %q, %v", in, got, next, want, err)
		}
	}
	// The fast forms must not fall back.
	for _, s := range []string{"plain", "tab\there", "<&>", "é"} {
		if _, _, ok := readString(appendString(nil, s, true), 0); !ok {
			t.Errorf("readString did not read %q as appendString wrote it", s)
		}
	}
}

func FuzzReadString(f *testing.F) {
	for _, s := range tricky {
		f.Add([]byte(encode(s, true)))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, next, ok := readString(b, 0)
		if !ok {
			return
		}
		var want string
		if err := json.Unmarshal(b[:next], &want); err != nil || got != want {
			t.Fatalf("readString(%q) = %q; encoding/json: %q, %v", b[:next], got, want, err)
		}
	})
}
