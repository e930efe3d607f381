package abi

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// The guest's side: a response written by hand.

// AppendResponse appends the JSON of r to b, byte for byte what json.Marshal
// writes.
func AppendResponse(b []byte, r Response) []byte {
	b = append(b, responsePrefix...)
	b = strconv.AppendInt(b, int64(r.Exit), 10)
	b = append(b, `,"stdout":`...)
	b = appendString(b, r.Stdout, true)
	b = append(b, `,"stderr":`...)
	b = appendString(b, r.Stderr, true)
	if h := r.Hold; h != nil {
		b = append(b, holdPrefix...)
		b = appendString(b, h.Gen, true)
		b = append(b, `,"from":`...)
		b = strconv.AppendInt(b, h.From, 10)
		b = append(b, `,"until":`...)
		b = strconv.AppendInt(b, h.Until, 10)
		b = append(b, '}')
	}
	return append(b, '}')
}

// holdPrefix starts the hold [AppendResponse] writes. It cannot occur
// inside a string of the response, where every quote is escaped.
const holdPrefix = `,"hold":{"gen":`

// ResponseHold returns the hold of a response as [AppendResponse] writes
// it, without reading the rest; ok is false when it has none.
func ResponseHold(b []byte) (h Hold, ok bool) {
	i := bytes.LastIndex(b, []byte(holdPrefix))
	if i < 0 || !bytes.HasSuffix(b, []byte("}}")) {
		return h, false
	}
	rest := b[i+len(holdPrefix) : len(b)-2]
	gen, j, ok := readString(rest, 0)
	if !ok {
		return h, false
	}
	rest = rest[j:]
	from, rest, ok := cutInt(rest, `,"from":`)
	if !ok {
		return h, false
	}
	until, rest, ok := cutInt(rest, `,"until":`)
	if !ok || len(rest) != 0 {
		return h, false
	}
	return Hold{Gen: gen, From: from, Until: until}, true
}

// cutInt reads prefix and the decimal integer after it.
func cutInt(b []byte, prefix string) (int64, []byte, bool) {
	rest, ok := bytes.CutPrefix(b, []byte(prefix))
	if !ok {
		return 0, nil, false
	}
	n := 0
	for n < len(rest) && (rest[n] >= '0' && rest[n] <= '9' || n == 0 && rest[n] == '-') {
		n++
	}
	v, err := strconv.ParseInt(string(rest[:n]), 10, 64)
	if err != nil {
		return 0, nil, false
	}
	return v, rest[n:], true
}

// The host's side: a response read by hand in the form the guest writes, and
// anything else by encoding/json.

// responsePrefix is how every response [AppendResponse] writes starts.
const responsePrefix = `{"exit":`

// ResponseExit returns the exit code of a response as [AppendResponse] writes
// it, without reading the rest, or -1 when b does not start as one with a
// one-digit code.
func ResponseExit(b []byte) int {
	if len(b) < len(responsePrefix)+2 || string(b[:len(responsePrefix)]) != responsePrefix {
		return -1
	}
	if c, next := b[len(responsePrefix)], b[len(responsePrefix)+1]; c >= '0' && c <= '9' && next == ',' {
		return int(c - '0')
	}
	return -1
}

// DecodeResponse reads a response as json.Unmarshal does.
func DecodeResponse(b []byte) (Response, error) {
	if r, ok := fastResponse(b); ok {
		return r, nil
	}
	var r Response
	if err := json.Unmarshal(b, &r); err != nil {
		return Response{}, err
	}
	return r, nil
}

// fastResponse reads {"exit":N,"stdout":"...","stderr":"..."} with no white
// space, N a small number, and strings of valid UTF-8 with escapes other
// than surrogates; ok is false for anything else.
func fastResponse(b []byte) (r Response, ok bool) {
	const stdout, stderr = `,"stdout":`, `,"stderr":`
	if !bytes.HasPrefix(b, []byte(responsePrefix)) {
		return r, false
	}
	i := len(responsePrefix)
	digits := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		r.Exit = r.Exit*10 + int(b[i]-'0')
		digits++
	}
	if digits == 0 || digits > 6 || (digits > 1 && b[len(responsePrefix)] == '0') || !bytes.HasPrefix(b[i:], []byte(stdout)) {
		return r, false
	}
	if r.Stdout, i, ok = readString(b, i+len(stdout)); !ok || !bytes.HasPrefix(b[i:], []byte(stderr)) {
		return r, false
	}
	if r.Stderr, i, ok = readString(b, i+len(stderr)); !ok || i != len(b)-1 || b[i] != '}' {
		return r, false // a response with a hold is read by encoding/json
	}
	return r, true
}
