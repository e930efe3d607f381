package abi

import (
	"strconv"
	"unicode/utf8"
)

// JSON strings, written and read by hand, byte for byte as encoding/json
// writes them.

const hex = "0123456789abcdef"

// appendString appends s to b as a JSON string, exactly as encoding/json
// writes it: control characters, U+2028 and U+2029 escaped, invalid UTF-8
// replaced by U+FFFD, and, when escapeHTML is set (json.Marshal's default),
// <, > and & escaped too.
func appendString(b []byte, s string, escapeHTML bool) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && (!escapeHTML || (c != '<' && c != '>' && c != '&')) {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// readString reads the JSON string that starts at b[i] (its opening quote)
// and returns it and the index after its closing quote. It reads the forms
// appendString writes and the usual escapes; anything else (a surrogate
// \u escape, invalid UTF-8, a control character) is not ok, and the caller
// leaves the whole document to encoding/json, so what is accepted and how it
// is refused stay encoding/json's.
func readString(b []byte, i int) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	i++
	start := i
	for i < len(b) && b[i] != '"' && b[i] != '\\' && b[i] >= 0x20 {
		i++
	}
	if i < len(b) && b[i] == '"' {
		if !utf8.Valid(b[start:i]) {
			return "", 0, false
		}
		return string(b[start:i]), i + 1, true
	}
	out := append([]byte(nil), b[start:i]...)
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			if !utf8.Valid(out) {
				return "", 0, false
			}
			return string(out), i + 1, true
		case c < 0x20:
			return "", 0, false
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(b) {
			return "", 0, false
		}
		switch e := b[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if i+6 > len(b) {
				return "", 0, false
			}
			n, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 32)
			if err != nil || n >= 0xd800 && n < 0xe000 || b[i+2] == '+' || b[i+2] == '-' {
				return "", 0, false
			}
			out = utf8.AppendRune(out, rune(n))
			i += 6
			continue
		default:
			return "", 0, false
		}
		i += 2
	}
	return "", 0, false
}
