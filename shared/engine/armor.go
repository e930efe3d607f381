package engine

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
)

// MaxDocument is the largest armored document Tenure reads, in bytes. Larger
// input is refused before it is parsed.
const MaxDocument = 64 << 10

// Armor labels, one per document carried between machines.
const (
	LabelLicense = "TENURE LICENSE"
	LabelRequest = "TENURE LICENSE REQUEST"
	LabelRelease = "TENURE RELEASE RECEIPT"
	LabelClock   = "TENURE CLOCK"
	LabelUsage   = "TENURE USAGE"
)

const armorColumns = 64

var strictBase64 = base64.StdEncoding.Strict()

// Armor wraps data in strict ASCII armor: a BEGIN line, standard base64 in
// lines of 64 columns, an END line, each ending in "\n".
func Armor(label string, data []byte) []byte {
	var b bytes.Buffer
	b.WriteString("-----BEGIN " + label + "-----\n")
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > armorColumns {
		b.WriteString(enc[:armorColumns])
		b.WriteByte('\n')
		enc = enc[armorColumns:]
	}
	if enc != "" {
		b.WriteString(enc)
		b.WriteByte('\n')
	}
	b.WriteString("-----END " + label + "-----\n")
	return b.Bytes()
}

// Dearmor reverses [Armor] for exactly one label. It accepts only the bytes
// Armor produces (or the same with CRLF line ends, as some mail clients write
// them, and with blank lines after the END line), so a document has one
// armored form and any changed byte inside it is refused.
func Dearmor(label string, text []byte) ([]byte, error) {
	if len(text) > MaxDocument {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(text), MaxDocument)
	}
	s := string(text)
	if strings.Contains(s, "\r\n") {
		s = strings.ReplaceAll(s, "\r\n", "\n")
	}
	begin, end := "-----BEGIN "+label+"-----", "-----END "+label+"-----"
	// Blank lines and spaces after the END line are dropped, as age's armor
	// does: editors and `jq -r` add them, and they are outside the document.
	if i := strings.LastIndex(s, "\n"+end+"\n"); i >= 0 && strings.TrimRight(s[i+len(end)+2:], " \t\n") == "" {
		s = s[:i+len(end)+2]
	}
	if !strings.HasPrefix(s, begin+"\n") {
		if first, _, _ := strings.Cut(s, "\n"); strings.HasPrefix(first, "-----BEGIN ") {
			return nil, fmt.Errorf("%w: found %q, expected %s", ErrMalformed, first, begin)
		}
		return nil, fmt.Errorf("%w: the text does not start with %s", ErrMalformed, begin)
	}
	if !strings.HasSuffix(s, "\n"+end+"\n") {
		return nil, fmt.Errorf("%w: the text does not end with %s and a newline", ErrMalformed, end)
	}
	if len(s) == len(begin)+len(end)+2 {
		// The BEGIN and END lines share their newline: Armor's form of no data.
		return []byte{}, nil
	}
	body := strings.Split(s[len(begin)+1:len(s)-len(end)-2], "\n")
	var b64 strings.Builder
	for i, line := range body {
		last := i == len(body)-1
		if line == "" || len(line) > armorColumns || (!last && len(line) != armorColumns) {
			return nil, fmt.Errorf("%w: armor line %d is not %d columns", ErrMalformed, i+2, armorColumns)
		}
		// The base64 decoder skips a CR even in strict mode: a lone one
		// inside a line would be a second armored form of the same bytes.
		if strings.Contains(line, "\r") {
			return nil, fmt.Errorf("%w: armor line %d holds a carriage return", ErrMalformed, i+2)
		}
		b64.WriteString(line)
	}
	data, err := strictBase64.DecodeString(b64.String())
	if err != nil {
		return nil, fmt.Errorf("%w: bad base64 in armor: %v", ErrMalformed, err)
	}
	return data, nil
}
