package abi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// The host's side: an environment encoded once, and requests written around
// it.

// An Env is the environment a host sends with every request, its JSON written
// once.
type Env struct {
	vars []envVar // sorted by name
	json []byte   // the JSON object, without its closing brace
}

// An envVar is one variable of an [Env].
type envVar struct{ name, value string }

// NewEnv returns the environment of vars.
func NewEnv(vars map[string]string) Env {
	var e Env
	for name, value := range vars {
		e.vars = append(e.vars, envVar{name, value})
	}
	return e.encode()
}

// With returns e with vars added, or replacing the values of e of the same
// names; e is left as it was.
func (e Env) With(vars map[string]string) Env {
	if len(vars) == 0 {
		return e
	}
	out := Env{vars: slices.Clone(e.vars)}
	for name, value := range vars {
		if i := slices.IndexFunc(out.vars, func(v envVar) bool { return v.name == name }); i >= 0 {
			out.vars[i].value = value
		} else {
			out.vars = append(out.vars, envVar{name, value})
		}
	}
	return out.encode()
}

func (e Env) encode() Env {
	slices.SortFunc(e.vars, func(a, b envVar) int { return strings.Compare(a.name, b.name) })
	e.json = append(e.json[:0:0], '{')
	for i, v := range e.vars {
		if i > 0 {
			e.json = append(e.json, ',')
		}
		e.json = appendString(e.json, v.name, false)
		e.json = append(e.json, ':')
		e.json = appendString(e.json, v.value, false)
	}
	return e
}

// AppendRequest appends the JSON of a request to b: byte for byte what
// encoding/json writes, without its HTML escapes, for {"args", "env",
// "stdin"} with the env as a map and none of the three left out.
func AppendRequest(b []byte, args []string, env Env, stdin string) []byte {
	b = append(b, `{"args":[`...)
	for i, a := range args {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, a, false)
	}
	b = append(b, `],"env":`...)
	if env.json == nil {
		b = append(b, '{')
	}
	b = append(b, env.json...)
	b = append(b, `},"stdin":`...)
	b = appendString(b, stdin, false)
	return append(b, '}')
}

// The guest's side: requests read by hand in the forms hosts send, and
// everything else by encoding/json.

// A RequestDecoder reads requests as json.Decoder with DisallowUnknownFields
// does. Its zero value is ready to use; it is not safe for concurrent use.
//
// It keeps the args array and the env object of the last request, as their
// bytes and as read. A host sends the same environment with every call, and
// mostly the same few questions; reading them again (the platform is a JSON
// text inside a string, all escapes) and allocating the strings is most of
// the work of a warm check inside wasm, where an allocation costs about a
// microsecond. So the requests it returns share their Args slice and Env
// map: a caller only reads them.
type RequestDecoder struct {
	args memo[[]string]
	env  memo[map[string]string]
	vars Vars // env's [Vars]
}

// A memo is a value read from JSON and the bytes it was read from.
type memo[T any] struct {
	raw []byte
	val T
}

// Bounds of a request. The live instance takes at most MaxRequest, so a
// request can never grow it far; backup and restore run in a throwaway
// instance and take up to MaxBulkRequest (a backup of many licenses).
const (
	MaxRequest     = 1 << 20
	MaxBulkRequest = 16 << 20
)

// Decode reads the request in b: one JSON object in valid UTF-8 and nothing
// after it, within the bounds above. It runs before the module touches its
// state, so a refused request does no I/O.
func (d *RequestDecoder) Decode(b []byte) (Request, error) {
	if len(b) > MaxBulkRequest {
		return Request{}, fmt.Errorf("the request is %d bytes; the limit is %d", len(b), MaxBulkRequest)
	}
	req, ok := d.fast(b)
	if !ok {
		if !utf8.Valid(b) {
			return Request{}, errors.New("the request is not valid UTF-8")
		}
		// Its own variable: taking req's address would move it to the heap
		// on the fast path too, an allocation per warm check.
		var slow Request
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&slow); err != nil {
			return Request{}, err
		}
		req = slow
		if rest := bytes.TrimLeft(b[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
			return Request{}, errors.New("the request has data after its JSON object")
		}
	}
	if len(b) > MaxRequest && !(len(req.Args) > 0 && bulk[req.Args[0]]) {
		return Request{}, fmt.Errorf("the request is %d bytes; the limit is %d (1 MiB) for every command but backup and restore", len(b), MaxRequest)
	}
	return req, nil
}

// bulk are the commands that may take a request over MaxRequest.
var bulk = map[string]bool{"backup": true, "restore": true}

// fast reads an object with the keys args, env and stdin spelt exactly, each
// at most once, holding strings with valid UTF-8, and nothing but white
// space after it. ok is false for anything else.
func (d *RequestDecoder) fast(b []byte) (req Request, ok bool) {
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
			if req.Args, ok = r.args(&d.args); !ok {
				return req, false
			}
		case "env":
			bit = 2
			var again bool
			if req.Env, again, ok = r.env(&d.env); !ok {
				return req, false
			}
			if !again || !d.vars.Read {
				d.vars = VarsOf(req.Env)
			}
			req.Vars = d.vars
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

// args reads the args array, or takes the one m holds when the bytes at r
// are m's: a JSON value's text ends where the value does, so the same bytes
// are the same value. (Written out for each type rather than generic: a
// generic function calling its reader through a func value makes the reader
// escape to the heap, an allocation on every warm check in wasm.)
func (r *reader) args(m *memo[[]string]) ([]string, bool) {
	if r.again(m.raw) {
		return m.val, true
	}
	start := r.i
	v, ok := r.strings()
	if ok {
		m.raw, m.val = append(m.raw[:0], r.b[start:r.i]...), v
	}
	return v, ok
}

// env reads the env object, or takes the one m holds, as args does.
func (r *reader) env(m *memo[map[string]string]) (v map[string]string, again, ok bool) {
	if r.again(m.raw) {
		return m.val, true, true
	}
	start := r.i
	v, ok = r.object()
	if ok {
		m.raw, m.val = append(m.raw[:0], r.b[start:r.i]...), v
	}
	return v, false, ok
}

// again skips white space, then raw when the bytes at r are raw, and
// reports whether it did.
func (r *reader) again(raw []byte) bool {
	r.space()
	if raw != nil && bytes.HasPrefix(r.b[r.i:], raw) {
		r.i += len(raw)
		return true
	}
	return false
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

// str reads a string; readString leaves the unusual to encoding/json.
func (r *reader) str() (string, bool) {
	r.space()
	s, next, ok := readString(r.b, r.i)
	if ok {
		r.i = next
	}
	return s, ok
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

// strings reads an array of strings.
func (r *reader) strings() ([]string, bool) {
	out := make([]string, 0, 4)
	ok := r.list('[', ']', func() bool {
		s, ok := r.str()
		out = append(out, s)
		return ok
	})
	return out, ok
}

// object reads an object of strings.
func (r *reader) object() (map[string]string, bool) {
	out := map[string]string{}
	ok := r.list('{', '}', func() bool {
		k, ok := r.str()
		if !ok || !r.expect(':') {
			return false
		}
		v, ok := r.str()
		out[k] = v
		return ok
	})
	return out, ok
}

// list reads open, the elements one item call each, separated by commas,
// and close.
func (r *reader) list(open, close byte, item func() bool) bool {
	if !r.expect(open) {
		return false
	}
	r.space()
	if r.peek() == close {
		r.i++
		return true
	}
	for {
		if !item() {
			return false
		}
		r.space()
		switch r.peek() {
		case ',':
			r.i++
		case close:
			r.i++
			return true
		default:
			return false
		}
	}
}
