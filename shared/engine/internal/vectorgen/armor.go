package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/tenurehq/tenure/shared/engine"
)

func (g *gen) armors() {
	hdr := []kv{{"vector", "document"}, {"document", "armor"}, {"label", engine.LabelLicense}}
	data := []byte(strings.Repeat("tenure armor vector, 100 bytes. ", 4)[:100])
	sum := sha256.Sum256(data)
	ok := fmt.Sprintf(`{"ok":true,"bytes":100,"sha256":"%s"}`, hex.EncodeToString(sum[:]))
	good := armor(engine.LabelLicense, string(data))
	lines := strings.Split(strings.TrimSuffix(good, "\n"), "\n") // BEGIN, 64, 64, 8, END
	join := func(ls ...string) string { return strings.Join(ls, "\n") + "\n" }
	b64 := lines[1] + lines[2] + lines[3]

	g.write("armor-ok", "Strict armor: BEGIN line, base64 in lines of 64 columns, END line.", hdr, ok, sec{"armor", good})
	g.write("armor-crlf", "The same armor with CR LF line ends, as some mail clients write it.", hdr, ok, sec{"armor crlf", good})
	g.write("armor-empty", "Armor around no bytes: BEGIN and END lines only.", hdr,
		`{"ok":true,"bytes":0,"sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}`,
		sec{"armor", armor(engine.LabelLicense, "")})
	g.write("armor-no-final-newline", "The END line must end with a newline.", hdr,
		"error: does not end with -----END TENURE LICENSE-----", sec{"armor noeol", good})
	g.write("armor-short-line", "Lines wrapped at 60 columns instead of 64.", hdr, "error: armor line 2 is not 64 columns",
		sec{"armor", join(lines[0], b64[:60], b64[60:120], b64[120:], lines[4])})
	g.write("armor-long-line", "Lines wrapped at 76 columns, as MIME does.", hdr, "error: armor line 2 is not 64 columns",
		sec{"armor", join(lines[0], b64[:76], b64[76:], lines[4])})
	g.write("armor-blank-line", "A blank line after the BEGIN line.", hdr, "error: armor line 2 is not 64 columns",
		sec{"armor", join(lines[0], "", lines[1], lines[2], lines[3], lines[4])})
	g.write("armor-trailing-space", "A space at the end of the last base64 line.", hdr, "error: bad base64",
		sec{"armor", join(lines[0], lines[1], lines[2], lines[3]+" ", lines[4])})
	g.write("armor-padding-bits", `Non-canonical base64: "YR==" decodes like "YQ==" but sets padding bits.`, hdr, "error: bad base64",
		sec{"armor", join(lines[0], "YR==", lines[4])})
	g.write("armor-missing-padding", "Base64 without its padding.", hdr, "error: bad base64",
		sec{"armor", join(lines[0], "YQ", lines[4])})
	g.write("armor-wrong-label", "A receipt's armor where a license was expected.", hdr,
		`error: found "-----BEGIN TENURE RELEASE RECEIPT-----", expected -----BEGIN TENURE LICENSE-----`,
		sec{"armor", armor(engine.LabelRelease, string(data))})
	g.write("armor-text-before", "Text before the BEGIN line, as in a pasted e-mail.", hdr,
		"error: does not start with -----BEGIN TENURE LICENSE-----", sec{"armor", "Here is the license:\n" + good})
	g.write("armor-blank-lines-after", "Blank lines and spaces after the END line (as `jq -r` and editors add them) are outside the document.",
		hdr, ok, sec{"armor", good + "\n  \n"})
	g.write("armor-text-after", "Text after the END line.", hdr,
		"error: does not end with -----END TENURE LICENSE-----", sec{"armor", good + "-- \nsent from a phone\n"})
	g.write("armor-end-mismatch", "An END line naming another label.", hdr,
		"error: does not end with -----END TENURE LICENSE-----",
		sec{"armor", join(lines[0], lines[1], lines[2], lines[3], "-----END TENURE RELEASE RECEIPT-----")})
	g.write("armor-oversized", "Armor over 64 KiB is refused before it is parsed.", hdr,
		"error: document too large", sec{"armor", armor(engine.LabelLicense, strings.Repeat("x", engine.MaxDocument))})
}
