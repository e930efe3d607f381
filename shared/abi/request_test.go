package abi

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

var requestSeeds = []string{
	`{"args":["check","vpn"],"env":{"TENURE_NOW":"2026-01-05T10:00:00Z","TENURE_PLATFORM":"{\"machine_id\":\"m-aaaa\",\"mac:eth0\":\"52:54:00:00:00:0a\"}"},"stdin":""}`,
	`{"args":[],"env":{},"stdin":"line\n\ttab \\ \/ \b\f\r"}`,
	`{}`,
	` { "args" : [ "status" , "--json" ] , "env" : { } } `,
	`{"args":["check","vpn"]} trailing`,
	`{"args":["a"],"args":["b"]}`,
	`{"env":{"A":"1"},"env":{"B":"2"}}`,
	`{"Args":["check"]}`,
	`{"args":null,"env":null,"stdin":null}`,
	`{"args":["\u00e9t\u00e9 \ud83d\ude00"]}`,
	`{"args":["été"]}`,
	"{\"args\":[\"\xff\"]}",
	"{\"args\":[\"a\x01\"]}",
	`{"args":["check"],"extra":1}`,
	`{"args":[1]}`,
	`{"args":"check"}`,
	`{"args":["check",]}`,
	`{"args":["check"],}`,
	`{"stdin":"x"`,
	``,
	`[]`,
	`{"env":{"A":"1","A":"2"}}`,
}

// TestDecodeRequest holds the hand-written reader to encoding/json: the same
// request, or an error where encoding/json has one. One decoder reads every
// seed, as the reactor's reads every request, so what it remembers from one
// request is tried on the next.
func TestDecodeRequest(t *testing.T) {
	var d RequestDecoder
	fast := 0
	for _, s := range requestSeeds {
		if _, ok := d.fast([]byte(s)); ok {
			fast++
		}
		sameAsJSON(t, &d, []byte(s))
	}
	if fast < 5 {
		t.Errorf("only %d seeds took the fast path", fast)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	var d RequestDecoder
	f.Fuzz(func(t *testing.T, b []byte) { sameAsJSON(t, &d, b) })
}

func sameAsJSON(t *testing.T, d *RequestDecoder, b []byte) {
	t.Helper()
	// The reference: encoding/json, strict about unknown fields, with the
	// two rules a request adds (valid UTF-8, nothing after the object).
	var want Request
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	wantErr := dec.Decode(&want)
	switch {
	case !utf8.Valid(b):
		wantErr = errors.New("the request is not valid UTF-8")
	case wantErr == nil && len(bytes.TrimLeft(b[dec.InputOffset():], " \t\r\n")) > 0:
		wantErr = errors.New("the request has data after its JSON object")
	}
	got, err := d.Decode(b)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q: error %v, encoding/json says %v", b, err, wantErr)
	}
	if err != nil {
		if err.Error() != wantErr.Error() {
			t.Fatalf("%q: error %q, encoding/json says %q", b, err, wantErr)
		}
		return
	}
	got.Vars = varsRead(t, b, got)
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("%q: %#v, encoding/json reads %#v", b, got, want)
	}
	if (want.Args == nil) != (got.Args == nil) || (want.Env == nil) != (got.Env == nil) {
		t.Fatalf("%q: nil-ness differs: %#v, encoding/json %#v", b, got, want)
	}
}

// varsRead checks that the Vars the decoder gave with r, if any, are its
// Env's (the decoder keeps them from one request to the next, so a wrong
// one would be an environment's variables given with another's), and
// returns them cleared, for a comparison with encoding/json.
func varsRead(t *testing.T, b []byte, r Request) Vars {
	t.Helper()
	if r.Vars.Read && r.Vars != VarsOf(r.Env) {
		t.Fatalf("%q: Vars %+v, its env says %+v", b, r.Vars, VarsOf(r.Env))
	}
	return Vars{}
}

// TestAppendRequest holds the host's writer to encoding/json, byte for byte,
// and the guest's reader to the writer: what one writes, the other reads
// back, without falling back to encoding/json.
func TestAppendRequest(t *testing.T) {
	var d RequestDecoder
	for _, base := range []map[string]string{
		{EnvPlatform: `{"machine_id":"a\"<b>"}`},
		{EnvPlatform: `{"machine_id":"a\"<b>"}`, EnvNow: "2026-01-05T10:00:00Z", EnvVersion: "0.41.0"},
	} {
		env := NewEnv(base)
		for _, extra := range []map[string]string{nil, {EnvPassphrase: "p\"\u2028"}, {EnvNow: "2027-01-01"}} {
			vars := maps.Clone(base)
			maps.Copy(vars, extra)
			for _, s := range tricky {
				args := []string{"check", s}
				var want bytes.Buffer
				enc := json.NewEncoder(&want)
				enc.SetEscapeHTML(false)
				enc.Encode(struct {
					Args  []string          `json:"args"`
					Env   map[string]string `json:"env"`
					Stdin string            `json:"stdin"`
				}{args, vars, s})
				got := AppendRequest(nil, args, env.With(extra), s)
				if string(got) != strings.TrimSuffix(want.String(), "\n") {
					t.Errorf("wrote %s\nencoding/json %s", got, want.String())
				}
				var back Request
				json.Unmarshal(got, &back)
				r, ok := d.fast(got)
				if ok && !r.Vars.Read {
					t.Errorf("%s: the fast path read no Vars", got)
				}
				if r.Vars = varsRead(t, got, r); ok && !reflect.DeepEqual(r, back) {
					t.Errorf("%s: read back %#v, encoding/json %#v", got, r, back)
				}
			}
		}
	}
	if got := string(AppendRequest(nil, []string{"status"}, Env{}, "")); got != `{"args":["status"],"env":{},"stdin":""}` {
		t.Errorf("with no environment: %s", got)
	}
}

// TestRequestBounds: a request over 1 MiB is refused unless it is a backup
// or restore (run in a throwaway instance), and over 16 MiB always.
func TestRequestBounds(t *testing.T) {
	var d RequestDecoder
	big := strings.Repeat("x", MaxRequest)
	for _, c := range []struct {
		args string
		size int
		ok   bool
	}{
		{`"install","-"`, MaxRequest - 100, true},
		{`"install","-"`, MaxRequest, false},
		{`"restore","--passphrase-file","-"`, MaxRequest, true},
		{`"restore","--passphrase-file","-"`, MaxBulkRequest, false},
	} {
		stdin := big
		if c.size > len(big) {
			stdin = strings.Repeat("x", c.size)
		}
		b := []byte(`{"args":[` + c.args + `],"stdin":"` + stdin[:c.size] + `"}`)
		if _, err := d.Decode(b); (err == nil) != c.ok {
			t.Errorf("%s with %d bytes: %v, want ok %v", c.args, len(b), err, c.ok)
		}
	}
}

// TestDecodeRequestVars: the Vars a decoder gives follow the environment
// from one request to the next, also when an environment comes back.
func TestDecodeRequestVars(t *testing.T) {
	var d RequestDecoder
	for _, now := range []string{"2026-01-05T10:00:00Z", "2027-01-01", "2027-01-01", "", "2026-01-05T10:00:00Z"} {
		env := map[string]string{EnvPlatform: `{"machine_id":"a"}`, EnvHold: "1"}
		if now != "" {
			env[EnvNow] = now
		}
		r, err := d.Decode(AppendRequest(nil, []string{"check", "vpn"}, NewEnv(env), ""))
		if err != nil {
			t.Fatal(err)
		}
		want := Vars{Read: true, Now: now, Platform: `{"machine_id":"a"}`, Hold: "1"}
		if r.Vars != want {
			t.Errorf("TENURE_NOW=%q: Vars %+v, want %+v", now, r.Vars, want)
		}
	}
}
