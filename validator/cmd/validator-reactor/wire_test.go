package main

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/tenurehq/tenure/validator"
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
// request, or an error where encoding/json has one.
func TestDecodeRequest(t *testing.T) {
	fast := 0
	for _, s := range requestSeeds {
		if _, ok := fastRequest([]byte(s)); ok {
			fast++
		}
		sameAsJSON(t, []byte(s))
	}
	if fast < 5 {
		t.Errorf("only %d seeds took the fast path", fast)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(sameAsJSON)
}

func sameAsJSON(t *testing.T, b []byte) {
	t.Helper()
	var want validator.Request
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	wantErr := dec.Decode(&want)
	got, err := decodeRequest(b)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q: error %v, encoding/json says %v", b, err, wantErr)
	}
	if err != nil {
		if err.Error() != wantErr.Error() {
			t.Fatalf("%q: error %q, encoding/json says %q", b, err, wantErr)
		}
		return
	}
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("%q: %#v, encoding/json reads %#v", b, got, want)
	}
	if (want.Args == nil) != (got.Args == nil) || (want.Env == nil) != (got.Env == nil) {
		t.Fatalf("%q: nil-ness differs: %#v, encoding/json %#v", b, got, want)
	}
}

var responseSeeds = []string{
	"", "allowed: feature vpn (licensed)\n", `quote " backslash \ <tag> & amp`,
	"\x00\x01\b\f\n\r\t\x1f\x7f", "été \u2028 \u2029 😀", "bad \xff utf-8 \xe2\x82", "tenure: `tenure status`",
}

// TestAppendResponse holds the hand-written writer to json.Marshal, byte for
// byte.
func TestAppendResponse(t *testing.T) {
	for _, s := range responseSeeds {
		sameResponse(t, 2, s, s+"x")
	}
}

func FuzzAppendResponse(f *testing.F) {
	for i, s := range responseSeeds {
		f.Add(i-1, s, s)
	}
	f.Fuzz(sameResponse)
}

func sameResponse(t *testing.T, exit int, stdout, stderr string) {
	r := validator.Response{Exit: exit, Stdout: stdout, Stderr: stderr}
	want, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if got := appendResponse(nil, r); !bytes.Equal(got, want) {
		t.Fatalf("%+v:\n got %s\nwant %s", r, got, want)
	}
}
