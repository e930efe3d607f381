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
	return append(b, '}')
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
		return r, false
	}
	return r, true
}
