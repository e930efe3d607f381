package main

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/tenurehq/tenure/shared/wire"
	"github.com/tenurehq/tenure/validator"
)

// The request and response JSON are read and written by hand for the forms
// hosts send, because encoding/json's reflection and byte-by-byte scanner
// cost a warm feature check more than the check itself inside wasm. Anything
// the fast reader does not recognise goes to encoding/json, so the accepted
// requests and the error messages stay exactly those of encoding/json.

// decodeRequest reads a request as json.Decoder with DisallowUnknownFields
// does.
func decodeRequest(b []byte) (validator.Request, error) {
	if req, ok := fastRequest(b); ok {
		return req, nil
	}
	var req validator.Request
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return validator.Request{}, err
	}
	return req, nil
}

// fastRequest reads an object with the keys args, env and stdin spelt
// exactly, each at most once, holding strings with valid UTF-8, and nothing
// but white space after it. ok is false for anything else.
func fastRequest(b []byte) (req validator.Request, ok bool) {
	r := reader{b: b}
	if !r.expect('{') {
		return req, false
	}
	seen := 0
	for first := true; ; first = false {
		r.space()
		if r.peek() == '}' && first {
			r.i++
			break
		}
		if !first && !r.expect(',') {
			return req, false
		}
		key, ok := r.key()
		if !ok || !r.expect(':') {
			return req, false
		}
		var bit int
		switch string(key) {
		case "args":
			bit = 1
			if req.Args, ok = r.args(); !ok {
				return req, false
			}
		case "env":
			bit = 2
			if req.Env, ok = r.env(); !ok {
				return req, false
			}
		case "stdin":
			bit = 4
			if req.Stdin, ok = r.str(); !ok {
				return req, false
			}
		default:
			return req, false
		}
		if seen&bit != 0 {
			return req, false
		}
		seen |= bit
		r.space()
		if r.peek() == '}' {
			r.i++
			break
		}
	}
	r.space()
	return req, r.i == len(r.b)
}

type reader struct {
	b []byte
	i int
}

func (r *reader) space() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

func (r *reader) peek() byte {
	if r.i < len(r.b) {
		return r.b[r.i]
	}
	return 0
}

func (r *reader) expect(c byte) bool {
	r.space()
	if r.peek() != c {
		return false
	}
	r.i++
	return true
}

// str reads a string; wire.ReadString leaves the unusual to encoding/json.
func (r *reader) str() (string, bool) {
	r.space()
	s, next, ok := wire.ReadString(r.b, r.i)
	if ok {
		r.i = next
	}
	return s, ok
}

func (r *reader) strings() ([]string, bool) {
	if !r.expect('[') {
		return nil, false
	}
	out := make([]string, 0, 4)
	r.space()
	if r.peek() == ']' {
		r.i++
		return out, true
	}
	for {
		s, ok := r.str()
		if !ok {
			return nil, false
		}
		out = append(out, s)
		r.space()
		switch r.peek() {
		case ',':
			r.i++
		case ']':
			r.i++
			return out, true
		default:
			return nil, false
		}
	}
}

// last holds the args array and the env object of the last request, as
// their bytes and as read. A host sends the same environment with every
// call, and mostly the same few questions; reading them again (the platform
// is a JSON text inside a string, all escapes) and allocating the strings
// is most of the work of a warm check inside wasm, where an allocation costs
// about a microsecond. The slice and the map are shared between requests;
// the validator only reads them.
var last struct {
	argsRaw, envRaw []byte
	args            []string
	env             map[string]string
}

// args reads the args array, or takes the last one read when the bytes are
// the same: a JSON value's text ends where the value does, so the same bytes
// are the same value.
func (r *reader) args() ([]string, bool) {
	r.space()
	if raw := last.argsRaw; raw != nil && bytes.HasPrefix(r.b[r.i:], raw) {
		r.i += len(raw)
		return last.args, true
	}
	start := r.i
	args, ok := r.strings()
	if ok {
		last.argsRaw, last.args = append(last.argsRaw[:0], r.b[start:r.i]...), args
	}
	return args, ok
}

// env reads the env object, or takes the last one read, as args does.
func (r *reader) env() (map[string]string, bool) {
	r.space()
	if raw := last.envRaw; raw != nil && bytes.HasPrefix(r.b[r.i:], raw) {
		r.i += len(raw)
		return last.env, true
	}
	start := r.i
	env, ok := r.object()
	if ok {
		last.envRaw, last.env = append(last.envRaw[:0], r.b[start:r.i]...), env
	}
	return env, ok
}

// key reads an object key without escapes, as bytes (no allocation); a key
// with an escape or other bytes than ASCII letters is left to
// encoding/json, as any key but the three is.
func (r *reader) key() ([]byte, bool) {
	if !r.expect('"') {
		return nil, false
	}
	start := r.i
	for r.i < len(r.b) {
		c := r.b[r.i]
		if c == '"' {
			r.i++
			return r.b[start : r.i-1], true
		}
		if c < 'a' || c > 'z' {
			return nil, false
		}
		r.i++
	}
	return nil, false
}

func (r *reader) object() (map[string]string, bool) {
	if !r.expect('{') {
		return nil, false
	}
	out := map[string]string{}
	r.space()
	if r.peek() == '}' {
		r.i++
		return out, true
	}
	for {
		k, ok := r.str()
		if !ok || !r.expect(':') {
			return nil, false
		}
		v, ok := r.str()
		if !ok {
			return nil, false
		}
		out[k] = v
		r.space()
		switch r.peek() {
		case ',':
			r.i++
		case '}':
			r.i++
			return out, true
		default:
			return nil, false
		}
	}
}

// appendResponse appends the JSON of resp to b, byte for byte what
// json.Marshal writes.
func appendResponse(b []byte, resp validator.Response) []byte {
	b = append(b, `{"exit":`...)
	b = strconv.AppendInt(b, int64(resp.Exit), 10)
	b = append(b, `,"stdout":`...)
	b = wire.AppendString(b, resp.Stdout, true)
	b = append(b, `,"stderr":`...)
	b = wire.AppendString(b, resp.Stderr, true)
	return append(b, '}')
}
