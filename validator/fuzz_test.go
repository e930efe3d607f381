package validator

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tenurehq/tenure/shared/engine"
)

// FuzzParsePlatform feeds the host's platform object (TENURE_PLATFORM, the
// ABI's env) to the parser: it never panics, and what it accepts hashes to
// between 1 and 32 components.
func FuzzParsePlatform(f *testing.F) {
	for _, s := range []string{
		`{"machine_id":"4c4c4544-0035","dmi_uuid":"44454c4c-4a00","mac:eth0":"00:1b:21:3a:4f:10"}`,
		`{"machine_id":""}`,
		`{"Machine":"x"}`,
		`{}`, `null`, `[]`, `"x"`, `{"a":1}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := parsePlatform("edge", raw)
		if err != nil {
			if !strings.Contains(err.Error(), EnvPlatform) {
				t.Fatalf("error does not name %s: %v", EnvPlatform, err)
			}
			return
		}
		if len(c) == 0 || len(c) > 32 {
			t.Fatalf("accepted %d components from %q", len(c), raw)
		}
	})
}

// FuzzDecodeRecord feeds damaged state records to the decoder: it never
// panics, refuses with errTampered, and what it accepts is exactly what
// encodeRecord writes for the decoded value.
func FuzzDecodeRecord(f *testing.F) {
	key := macKeyFor("PRIVATE-test-device-key")
	for _, v := range []any{
		clockRecord{HighWater: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)},
		sequenceRecord{Sequence: 7},
		trialRecord{Platform: engine.Components{"machine_id": "4f2a"}, Started: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)},
	} {
		b, err := encodeRecord(key, "record", v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("{}\nmac \n"))
	f.Add([]byte("not a record"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r trialRecord
		err := decodeRecord(key, "record", data, &r, nil)
		if err != nil {
			if !errors.Is(err, errTampered) {
				t.Fatalf("refusal does not wrap errTampered: %v", err)
			}
			return
		}
		again, err := encodeRecord(key, "record", r)
		if err != nil {
			t.Fatal(err)
		}
		// JSON decoding tolerates spacing and key order the encoder never
		// writes; the MAC still covers the bytes as they were, so only the
		// value must survive.
		var back trialRecord
		if err := decodeRecord(key, "record", again, &back, nil); err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if !back.Started.Equal(r.Started) || len(back.Platform) != len(r.Platform) {
			t.Fatalf("record changed on re-encoding: %+v → %+v", r, back)
		}
	})
}

// FuzzParseHistory feeds damaged history files to the parser: it never
// panics, refuses with errHistory, and what it accepts is a chain whose
// re-encoding is the very bytes it read.
func FuzzParseHistory(f *testing.F) {
	key := macKeyFor("PRIVATE-test-device-key")
	plat := engine.Components{"machine_id": "4f2a"}
	at := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	lic := &engine.License{ID: "L-000001", Contract: "IC-1", Kind: engine.KindCommercial, Features: []string{"vpn"},
		Limits: map[string]int64{"vpn_users": 10}, From: at, Until: at.AddDate(1, 0, 0), Issued: at, Head: &engine.Head{N: 1, Hash: strings.Repeat("a", 64)}}
	data, h, err := appendEvents(&history{}, key,
		&event{At: at, Kind: eventInit, Platform: plat},
		&event{At: at.Add(time.Hour), Kind: eventFirstUse},
		&event{At: at.Add(2 * time.Hour), Kind: eventInstall, License: lic, SHA256: strings.Repeat("b", 64)},
		&event{At: at.Add(3 * time.Hour), Kind: eventRelease, Release: &releaseEvent{Contract: "IC-1", Licenses: []string{"L-000001"}, Sequence: 2, Nonce: "0123456789abcdef"}},
		&event{At: at.Add(4 * time.Hour), Kind: eventRestore, Restore: &restoreEvent{Appliance: "A-previous01", Licenses: []string{"L-000009"}}},
	)
	if err != nil {
		f.Fatal(err)
	}
	first := h.hashes[0]
	f.Add(data)
	f.Add(data[:len(data)/2])
	f.Add([]byte(historyType + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := parseHistory(data, key, first)
		if err != nil {
			if !errors.Is(err, errHistory) {
				t.Fatalf("refused without errHistory: %v", err)
			}
			return
		}
		again, err := h.encode(key)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("accepted a history that re-encodes differently (%v):\n%q\n%q", err, data, again)
		}
		for i, e := range h.events {
			if e.N != uint64(i+1) || i > 0 && e.Prev != h.hashes[i-1] {
				t.Fatalf("accepted a broken chain at event %d", i+1)
			}
		}
	})
}
