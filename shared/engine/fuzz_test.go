package engine_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"golang.org/x/mod/sumdb/note"

	"github.com/tenurehq/tenure/shared/engine"
	"github.com/tenurehq/tenure/shared/engine/vectors"
)

// The fuzz targets below share one property: a parser never panics, and what
// it accepts re-encodes to the very bytes it read (the one exact encoding).
// Their seeds are the inputs of the test vectors; a target with no seed fails,
// so a lost testdata directory cannot pass unnoticed.

type seedSet struct {
	armored  [][]byte    // every armored input, any label
	requests [][]byte    // armored LRFs
	receipts [][2][]byte // armored receipts with the pinned key
	usages   [][2][]byte // armored usage reports with the pinned key
	licenses [][2][]byte // signed license notes with a trust file
	clocks   [][2][]byte // armored clock resets with a trust file
	notes    [][2][]byte // signed notes with a verifier key
	bodies   map[string][][]byte
	products [][]byte
	trusts   []string
	instants []string
}

var loadSeeds = sync.OnceValues(func() (*seedSet, error) {
	s := &seedSet{bodies: map[string][][]byte{}}
	names, err := filepath.Glob(filepath.Join("testdata", "vectors", "*.txt"))
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		file, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Split(string(file), "\n") {
			if strings.HasPrefix(line, "-- ") {
				break
			}
			if _, v, ok := strings.Cut(line, ": "); ok {
				for _, item := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
					s.instants = append(s.instants, strings.Split(item, "..")...)
				}
			}
		}
		secs, err := vectors.Sections(file)
		if err != nil {
			return nil, err
		}
		get := func(n string) []byte {
			for _, sec := range secs {
				if sec.Name == n {
					return sec.Data
				}
			}
			return nil
		}
		for _, sec := range secs {
			switch sec.Name {
			case "armor":
				s.armored = append(s.armored, sec.Data)
			case "request":
				s.armored = append(s.armored, sec.Data)
				s.requests = append(s.requests, sec.Data)
				if msg, err := engine.Dearmor(engine.LabelRequest, sec.Data); err == nil {
					s.addNote(msg, "")
				}
			case "receipt":
				s.armored = append(s.armored, sec.Data)
				key := get("device-key")
				s.receipts = append(s.receipts, [2][]byte{sec.Data, bytes.TrimSpace(key)})
				if msg, err := engine.Dearmor(engine.LabelRelease, sec.Data); err == nil {
					s.addNote(msg, string(bytes.TrimSpace(key)))
				}
			case "usage":
				key := get("device-key")
				s.armored = append(s.armored, sec.Data)
				s.usages = append(s.usages, [2][]byte{sec.Data, bytes.TrimSpace(key)})
				if msg, err := engine.Dearmor(engine.LabelUsage, sec.Data); err == nil {
					s.addNote(msg, string(bytes.TrimSpace(key)))
				}
			case "clock":
				trust := get("trust")
				s.armored = append(s.armored, sec.Data)
				s.clocks = append(s.clocks, [2][]byte{sec.Data, trust})
				if msg, err := engine.Dearmor(engine.LabelClock, sec.Data); err == nil {
					first, _, _ := strings.Cut(string(trust), "\n")
					s.addNote(msg, strings.Fields(first + " x")[0])
				}
			case "license":
				trust := get("trust")
				s.licenses = append(s.licenses, [2][]byte{sec.Data, trust})
				first, _, _ := strings.Cut(string(trust), "\n")
				s.addNote(sec.Data, strings.Fields(first + " x")[0])
			case "trust":
				s.trusts = append(s.trusts, string(sec.Data))
			case "product":
				s.products = append(s.products, sec.Data)
			case "backup":
				s.bodies[engine.TypeBackup] = append(s.bodies[engine.TypeBackup], sec.Data)
			}
		}
	}
	return s, nil
})

// addNote records a signed note, and its body by type. An LRF names its own
// verifier key.
func (s *seedSet) addNote(msg []byte, vkey string) {
	i := bytes.Index(msg, []byte("\n\n"))
	if i < 0 {
		return
	}
	body := msg[:i+1]
	typ, j, _ := bytes.Cut(body, []byte("\n"))
	s.bodies[string(typ)] = append(s.bodies[string(typ)], body)
	if vkey == "" {
		var r struct {
			DeviceKey string `json:"device_key"`
		}
		json.Unmarshal(j, &r)
		vkey = r.DeviceKey
	}
	s.notes = append(s.notes, [2][]byte{msg, []byte(vkey)})
}

func seeds(f *testing.F) *seedSet {
	f.Helper()
	s, err := loadSeeds()
	if err != nil {
		f.Fatal(err)
	}
	return s
}

func need(f *testing.F, n int, what string) {
	f.Helper()
	if n == 0 {
		f.Fatalf("no %s seed loaded from testdata/vectors; run `make vectors`", what)
	}
}

func crlfToLF(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")) }

var labels = []string{engine.LabelLicense, engine.LabelRequest, engine.LabelRelease, engine.LabelClock, engine.LabelUsage}

func FuzzDearmor(f *testing.F) {
	s := seeds(f)
	need(f, len(s.armored), "armored")
	for _, a := range s.armored {
		f.Add(a)
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		for _, label := range labels {
			data, err := engine.Dearmor(label, text)
			if err != nil {
				continue
			}
			lf := crlfToLF(text)
			if again := engine.Armor(label, data); !bytes.HasPrefix(lf, again) || len(bytes.TrimRight(lf[len(again):], " \t\n")) != 0 {
				t.Fatalf("%s: accepted %q, which armors back to %q", label, text, again)
			}
		}
	})
}

func FuzzOpenNote(f *testing.F) {
	s := seeds(f)
	need(f, len(s.notes), "signed note")
	for _, n := range s.notes {
		f.Add(n[0], string(n[1]))
	}
	f.Fuzz(func(t *testing.T, msg []byte, vkey string) {
		v, err := note.NewVerifier(vkey)
		if err != nil {
			return
		}
		body, sigs, err := engine.OpenNote(msg, note.VerifierList(v))
		if err != nil {
			return
		}
		if !bytes.HasPrefix(msg, append(body, '\n')) || len(sigs) == 0 {
			t.Fatalf("opened body %q is not the start of %q", body, msg)
		}
		for _, sig := range sigs {
			if sig.Name != v.Name() || sig.Hash != v.KeyHash() {
				t.Fatalf("signature by %s, not by the one known key %s", sig.Name, v.Name())
			}
		}
	})
}

// fuzzDecode checks that whatever Decode accepts encodes back to itself.
func fuzzDecode[T any](f *testing.F, typ string) {
	s := seeds(f)
	need(f, len(s.bodies[typ]), typ)
	for _, b := range s.bodies[typ] {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v T
		if err := engine.Decode(typ, body, &v); err != nil {
			return
		}
		again, err := engine.Encode(typ, &v)
		if err != nil {
			t.Fatalf("decoded %q, which does not encode: %v", body, err)
		}
		if !bytes.Equal(again, body) {
			t.Fatalf("decoded %q, which encodes to %q", body, again)
		}
	})
}

func FuzzDecodeRequest(f *testing.F) { fuzzDecode[engine.Request](f, engine.TypeRequest) }
func FuzzDecodeLicense(f *testing.F) { fuzzDecode[engine.License](f, engine.TypeLicense) }
func FuzzDecodeRelease(f *testing.F) { fuzzDecode[engine.Release](f, engine.TypeRelease) }
func FuzzDecodeBackup(f *testing.F)  { fuzzDecode[engine.Backup](f, engine.TypeBackup) }
func FuzzDecodeClock(f *testing.F)   { fuzzDecode[engine.ClockReset](f, engine.TypeClock) }
func FuzzDecodeUsage(f *testing.F)   { fuzzDecode[engine.Usage](f, engine.TypeUsage) }

// FuzzOpenClockReset: a clock reset that opens is signed by a trusted key
// and its body is the one exact encoding of what it says.
func FuzzOpenClockReset(f *testing.F) {
	s := seeds(f)
	need(f, len(s.clocks), "clock reset")
	for _, c := range s.clocks {
		f.Add(c[0], string(c[1]))
	}
	f.Fuzz(func(t *testing.T, text []byte, trustText string) {
		trust, err := engine.ParseTrust(trustText)
		if err != nil {
			return
		}
		c, err := engine.OpenClockReset(text, trust)
		if err != nil {
			return
		}
		msg, err := engine.Dearmor(engine.LabelClock, text)
		if err != nil {
			t.Fatalf("opened a reset whose armor does not open: %v", err)
		}
		body, err := engine.Encode(engine.TypeClock, c)
		if err != nil || !bytes.HasPrefix(msg, append(body, '\n')) {
			t.Fatalf("opened reset %+v is not the body signed: %v", c, err)
		}
	})
}

func FuzzParseProduct(f *testing.F) {
	s := seeds(f)
	need(f, len(s.products), "product")
	for _, p := range s.products {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		p, err := engine.ParseProduct(text)
		if err != nil {
			return
		}
		// A product file may be laid out freely, so the property is on the
		// value: its one encoding parses back to the same product.
		enc, err := engine.Encode(engine.TypeProduct, p)
		if err != nil {
			t.Fatalf("parsed %q, which does not encode: %v", text, err)
		}
		again, err := engine.ParseProduct(enc)
		if err == nil && (again.SHA256 != engine.ProductHash(enc) || p.SHA256 != engine.ProductHash(text)) {
			t.Fatalf("product hashes %s, %s are not of the files' bytes", p.SHA256, again.SHA256)
		}
		// The same policy in other bytes is another version of the file.
		if err == nil {
			again.SHA256 = p.SHA256
		}
		if err != nil || !reflect.DeepEqual(again, p) {
			t.Fatalf("parsed %q as %+v; its encoding %q parses as %+v, %v", text, p, enc, again, err)
		}
	})
}

func FuzzOpenRequest(f *testing.F) {
	s := seeds(f)
	need(f, len(s.requests), "request")
	for _, r := range s.requests {
		f.Add(r)
	}
	f.Fuzz(func(t *testing.T, armored []byte) {
		r, msg, err := engine.OpenRequest(armored)
		if err != nil {
			return
		}
		if again := engine.Armor(engine.LabelRequest, msg); !bytes.Equal(again, crlfToLF(armored)) {
			t.Fatalf("accepted %q, which armors back to %q", armored, again)
		}
		body, err := engine.Encode(engine.TypeRequest, r)
		if err != nil || !bytes.HasPrefix(msg, append(body, '\n')) {
			t.Fatalf("accepted an LRF whose body does not re-encode: %v", err)
		}
	})
}

func FuzzOpenRelease(f *testing.F) {
	s := seeds(f)
	need(f, len(s.receipts), "receipt")
	for _, r := range s.receipts {
		f.Add(r[0], string(r[1]))
	}
	f.Fuzz(func(t *testing.T, armored []byte, pinned string) {
		r, msg, err := engine.OpenRelease(armored, func(string) (string, error) { return pinned, nil })
		if err != nil {
			return
		}
		if again := engine.Armor(engine.LabelRelease, msg); !bytes.Equal(again, crlfToLF(armored)) {
			t.Fatalf("accepted %q, which armors back to %q", armored, again)
		}
		body, err := engine.Encode(engine.TypeRelease, r)
		if err != nil || !bytes.HasPrefix(msg, append(body, '\n')) {
			t.Fatalf("accepted a receipt whose body does not re-encode: %v", err)
		}
	})
}

// FuzzOpenUsage: a usage report that opens is signed by the pinned key in
// the name of its appliance, and its body is the one exact encoding of what
// it says; PeekUsage reads the same report.
func FuzzOpenUsage(f *testing.F) {
	s := seeds(f)
	need(f, len(s.usages), "usage report")
	for _, u := range s.usages {
		f.Add(u[0], string(u[1]))
	}
	f.Fuzz(func(t *testing.T, armored []byte, pinned string) {
		u, msg, err := engine.OpenUsage(armored, func(string) (string, error) { return pinned, nil })
		if err != nil {
			return
		}
		if again := engine.Armor(engine.LabelUsage, msg); !bytes.Equal(again, crlfToLF(armored)) {
			t.Fatalf("accepted %q, which armors back to %q", armored, again)
		}
		body, err := engine.Encode(engine.TypeUsage, u)
		if err != nil || !bytes.HasPrefix(msg, append(body, '\n')) {
			t.Fatalf("accepted a usage report whose body does not re-encode: %v", err)
		}
		v, err := note.NewVerifier(pinned)
		if err != nil || v.Name() != u.Appliance {
			t.Fatalf("accepted a report of %s with the key %q: %v", u.Appliance, pinned, err)
		}
		if peeked, err := engine.PeekUsage(armored); err != nil || !reflect.DeepEqual(peeked, u) {
			t.Fatalf("opened %+v, which peeks as %+v, %v", u, peeked, err)
		}
	})
}

func FuzzVerifyLicense(f *testing.F) {
	s := seeds(f)
	need(f, len(s.licenses), "license")
	for _, l := range s.licenses {
		f.Add(l[0], string(l[1]))
	}
	f.Fuzz(func(t *testing.T, signed []byte, trustText string) {
		trust, err := engine.ParseTrust(trustText)
		if err != nil {
			return
		}
		l, err := engine.VerifyLicense(signed, trust)
		if err != nil {
			return
		}
		body, err := engine.Encode(engine.TypeLicense, l)
		if err != nil || !bytes.HasPrefix(signed, append(body, '\n')) {
			t.Fatalf("verified a license whose body does not re-encode: %v", err)
		}
	})
}

func FuzzParseTrust(f *testing.F) {
	s := seeds(f)
	need(f, len(s.trusts), "trust")
	for _, tr := range s.trusts {
		f.Add(tr)
	}
	f.Fuzz(func(t *testing.T, text string) {
		trust, err := engine.ParseTrust(text)
		if err != nil {
			return
		}
		if len(trust.Keys) == 0 {
			t.Fatal("accepted a trust file with no key")
		}
		for _, k := range trust.Keys {
			line := k.Key
			if !k.NotAfter.IsZero() {
				line += " not-after=" + k.NotAfter.Format(engine.TimeFormat)
			}
			again, err := engine.ParseTrust(line)
			if err != nil || again.Keys[0].Name != k.Name || !again.Keys[0].NotAfter.Equal(k.NotAfter) {
				t.Fatalf("key %q does not read back: %v", line, err)
			}
		}
	})
}

func FuzzParseInstant(f *testing.F) {
	s := seeds(f)
	n := 0
	for _, in := range s.instants {
		if _, err := engine.ParseInstant(in); err == nil {
			f.Add(in)
			n++
		}
	}
	need(f, n, "instant")
	f.Fuzz(func(t *testing.T, s string) {
		at, err := engine.ParseInstant(s)
		if err != nil {
			return
		}
		if at.Location() != time.UTC || (at.Format(engine.TimeFormat) != s && at.Format(engine.DateFormat) != s) {
			t.Fatalf("accepted %q as %s", s, at)
		}
	})
}

// FuzzOpenLicense feeds damaged sealed files to the appliance's whole opening
// path (dearmor, age, verify, decode). The seeds are the vectors' licenses
// sealed at start to an identity made here, so no secret sits in testdata.
func FuzzOpenLicense(f *testing.F) {
	s := seeds(f)
	need(f, len(s.licenses), "license")
	id, err := age.GenerateX25519Identity()
	if err != nil {
		f.Fatal(err)
	}
	var trusts []*engine.Trust
	for _, l := range s.licenses {
		trust, err := engine.ParseTrust(string(l[1]))
		if err != nil {
			continue
		}
		sealed, err := engine.Seal(l[0], id.Recipient().String())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(sealed, uint8(len(trusts)))
		trusts = append(trusts, trust)
	}
	need(f, len(trusts), "license with a trust file")
	f.Fuzz(func(t *testing.T, sealed []byte, which uint8) {
		l, signed, err := engine.OpenLicense(sealed, id, trusts[int(which)%len(trusts)])
		if err != nil {
			return
		}
		body, err := engine.Encode(engine.TypeLicense, l)
		if err != nil || !bytes.HasPrefix(signed, append(body, '\n')) {
			t.Fatalf("opened a license whose body does not re-encode: %v", err)
		}
	})
}

// FuzzTrail decodes the history trail documents carry: what it accepts is
// consistent (every head it lists it holds, none past its ends), and
// re-encodes to the same bytes.
func FuzzTrail(f *testing.F) {
	seeds, err := loadSeeds()
	if err != nil {
		f.Fatal(err)
	}
	n := 0
	for _, msg := range seeds.bodies[engine.TypeRequest] {
		_, j, _ := bytes.Cut(msg, []byte("\n"))
		var r struct {
			History json.RawMessage `json:"history"`
		}
		if json.Unmarshal(j, &r) == nil && len(r.History) > 0 {
			f.Add([]byte(r.History))
			n++
		}
	}
	if n == 0 {
		f.Fatal("no seed: no vector LRF carries a history")
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		var tr engine.Trail
		if dec.Decode(&tr) != nil {
			return
		}
		if tr.Check() != nil {
			return
		}
		for _, h := range tr.Heads() {
			if !tr.Holds(h) {
				t.Fatalf("a consistent trail does not hold its own entry %+v", h)
			}
		}
		if tr.Holds(engine.Head{N: tr.Head.N + 1, Hash: tr.Head.Hash}) || tr.Holds(engine.Head{N: tr.From - 1, Hash: tr.Entries[0]}) {
			t.Fatal("a trail holds a head outside its entries")
		}
		if got := engine.NewTrail(tr.Entries, 0); got.Head.Hash != tr.Head.Hash {
			t.Fatalf("NewTrail over the entries ends at %+v, not %+v", got.Head, tr.Head)
		}
	})
}
