package abi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
)

// TestAppendResponse holds the guest's writer to json.Marshal, byte for byte,
// and the host's reader to the writer.
func TestAppendResponse(t *testing.T) {
	for _, s := range tricky {
		sameResponse(t, 2, s, s+"x")
	}
}

func FuzzAppendResponse(f *testing.F) {
	for i, s := range tricky {
		f.Add(i-1, s, s)
	}
	f.Fuzz(sameResponse)
}

func sameResponse(t *testing.T, exit int, stdout, stderr string) {
	r := Response{Exit: exit, Stdout: stdout, Stderr: stderr}
	want, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	got := AppendResponse(nil, r)
	if !bytes.Equal(got, want) {
		t.Fatalf("%+v:\n got %s\nwant %s", r, got, want)
	}
	var back Response
	json.Unmarshal(got, &back)
	if r, err := DecodeResponse(got); err != nil || r != back {
		t.Fatalf("%s: read back %+v, %v; encoding/json %+v", got, r, err, back)
	}
}

// TestDecodeResponse holds the host's reader to encoding/json, on what the
// guest writes and on what it does not.
func TestDecodeResponse(t *testing.T) {
	for _, s := range tricky {
		for _, exit := range []int{0, 1, 2, 10} {
			for _, raw := range [][]byte{
				AppendResponse(nil, Response{Exit: exit, Stdout: s, Stderr: s + "x"}),
				fmt.Appendf(nil, `{"exit":%d,"stdout":%s,"stderr":%s}`, exit, appendString(nil, s, false), appendString(nil, s, false)),
			} {
				var want Response
				wantErr := json.Unmarshal(raw, &want)
				got, err := DecodeResponse(raw)
				if (err != nil) != (wantErr != nil) || got != want {
					t.Errorf("%s: read %+v, %v; encoding/json %+v, %v", raw, got, err, want, wantErr)
				}
				if e := ResponseExit(raw); e != -1 && e != want.Exit {
					t.Errorf("%s: exit %d", raw, e)
				}
			}
		}
	}
	for _, raw := range []string{
		``, `{}`, `{"exit":0}`, `{"exit":01,"stdout":"","stderr":""}`, `{"exit":0,"stdout":"","stderr":""} `,
		`{"exit":0,"stdout":"\ud83c\udf89","stderr":""}`, `{"exit":0,"stdout":"\u12","stderr":""}`,
		`{"exit":0,"stdout":"a","stderr":"b","x":1}`, `{"exit":-1,"stdout":"","stderr":""}`,
		`{"exit":0,"stdout":"\x","stderr":""}`, "{\"exit\":0,\"stdout\":\"\xff\",\"stderr\":\"\"}",
		`{ "exit": 1, "stdout": "", "stderr": "" }`,
	} {
		var want Response
		wantErr := json.Unmarshal([]byte(raw), &want)
		got, err := DecodeResponse([]byte(raw))
		if (err != nil) != (wantErr != nil) || got != want {
			t.Errorf("%s: read %+v, %v; encoding/json %+v, %v", raw, got, err, want, wantErr)
		}
	}
}

// FuzzResponseHold holds a response with a hold to json.Marshal, and the
// host's reading of the hold to what was written, whatever the strings
// around it hold (a hold's text inside stdout must not be taken for one).
func FuzzResponseHold(f *testing.F) {
	for _, s := range tricky {
		f.Add(s, `,"hold":{"gen":"x","from":1,"until":2}}`, "0123456789abcdef0123456789abcdef", int64(1), int64(2))
	}
	f.Fuzz(func(t *testing.T, stdout, stderr, gen string, from, until int64) {
		r := Response{Exit: 0, Stdout: stdout, Stderr: stderr, Hold: &Hold{Gen: gen, From: from, Until: until}}
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		got := AppendResponse(nil, r)
		if !bytes.Equal(got, want) {
			t.Fatalf("%+v:\n got %s\nwant %s", r, got, want)
		}
		var plain Response
		if err := json.Unmarshal(got, &plain); err != nil || plain.Hold == nil {
			t.Fatalf("%s: %v", got, err)
		}
		h, ok := ResponseHold(got)
		if !ok || h != *plain.Hold {
			t.Fatalf("%s: hold read as %+v, %v", got, h, ok)
		}
		back, err := DecodeResponse(got)
		if err != nil || back.Hold == nil || *back.Hold != *plain.Hold || back.Stdout != plain.Stdout || back.Stderr != plain.Stderr {
			t.Fatalf("%s: decoded %+v, %v", got, back, err)
		}
		if _, ok := ResponseHold(AppendResponse(nil, Response{Stdout: string(got), Stderr: stderr})); ok {
			t.Fatal("a response without a hold read as one")
		}
	})
}
