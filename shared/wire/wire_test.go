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
