package vectors_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenurehq/tenure/shared/engine/vectors"
)

// dir holds the vectors that vectorgen writes.
const dir = "../testdata/vectors"

func files(t *testing.T) map[string][]byte {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	// Far fewer would mean the vectors were lost, not that the engine passed.
	if len(names) < 100 {
		t.Fatalf("found %d vectors in %s, expected over 100; run `make vectors`", len(names), dir)
	}
	out := map[string][]byte{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(n)] = b
	}
	return out
}

func TestVectors(t *testing.T) {
	kinds := map[string]int{}
	for name, file := range files(t) {
		kinds[strings.SplitN(name, "-", 2)[0]]++
		t.Run(strings.TrimSuffix(name, ".txt"), func(t *testing.T) {
			if err := vectors.Check(file); err != nil {
				t.Fatal(err)
			}
		})
	}
	for _, k := range []string{"armor", "doc", "scenario", "issue"} {
		if kinds[k] == 0 {
			t.Errorf("no %s vectors", k)
		}
	}
}

// TestRunDeterministic holds Run to its promise: the same vector gives the
// same bytes, so another build of the engine can be compared byte for byte.
func TestRunDeterministic(t *testing.T) {
	for name, file := range files(t) {
		a, err := vectors.Run(file)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, _ := vectors.Run(file)
		if !bytes.Equal(a, b) {
			t.Fatalf("%s: two runs differ:\n%s\n%s", name, a, b)
		}
	}
}

// TestMismatchDetected proves the comparison can fail: a vector whose
// expectation was edited must be reported.
func TestMismatchDetected(t *testing.T) {
	all := files(t)
	for _, c := range []struct{ file, from, to string }{
		{"scenario-licensed.txt", `"state": "licensed"`, `"state": "grace"`},
		{"scenario-licensed.txt", `"vpn_users": 250`, `"vpn_users": 251`},
		{"scenario-expiry-warning.txt", `in 21 days`, `in 22 days`},
		{"scenario-licensed.txt", `"warnings": []`, `"warnings": ["~anything"]`},
		{"issue-renewal-late.txt", `"from": "2027-01-05T00:00:00Z"`, `"from": "2027-02-10T00:00:00Z"`},
		{"issue-upgrade-in-grace.txt", `error: renew first`, `error: no free seat`},
		{"doc-license-ok.txt", `"tenure-issuer-2026"`, `"tenure-issuer-2025"`},
		{"doc-usage-ok.txt", `"denied": 312`, `"denied": 311`},
		{"doc-request-usage.txt", `"peering": 3`, `"peering": 4`},
		{"doc-license-unknown-signer.txt", `expect: error: signed by an unknown key (tenure-issuer-rogue)`, "expect:\n{\"ok\": true}"},
	} {
		file := all[c.file]
		if !bytes.Contains(file, []byte(c.from)) {
			t.Fatalf("%s does not contain %q", c.file, c.from)
		}
		edited := bytes.Replace(file, []byte(c.from), []byte(c.to), 1)
		if err := vectors.Check(edited); !errors.Is(err, vectors.ErrMismatch) {
			t.Errorf("%s with %q → %q: got %v, want a mismatch", c.file, c.from, c.to, err)
		}
	}
}

func TestBadVectors(t *testing.T) {
	for _, c := range []struct{ name, file, want string }{
		{"no kind", "expect: error: x\n", "unknown kind"},
		{"no expect", "vector: issuing\nat: 2026-01-01\norder: 2026-01-01\nnew: order/12\n", "no expect line"},
		{"bad header", "vector issuing\n", "not `key: value`"},
		{"duplicate key", "vector: issuing\nvector: issuing\n", "appears twice"},
		{"missing section", "vector: document\ndocument: request\nexpect: error: x\n", "missing section -- request --"},
		{"bad revision", "vector: issuing\nat: 2026-01-01\norder: 2026-01-01\nnew: order\nexpect: error: x\n", "not change/term"},
		{"bad expectation", "vector: issuing\nat: 2026-01-01\norder: 2026-01-01\nnew: order/12\nexpect: maybe\n", "neither"},
	} {
		err := vectors.Check([]byte(c.file))
		if err == nil || !strings.Contains(err.Error(), c.want) || errors.Is(err, vectors.ErrMismatch) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

func TestSections(t *testing.T) {
	file := []byte("vector: document\n-- a crlf --\nx\ny\n-- b noeol --\nz\n")
	secs, err := vectors.Sections(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(secs) != 2 || string(secs[0].Data) != "x\r\ny\r\n" || string(secs[1].Data) != "z" || secs[1].Name != "b" {
		t.Fatalf("sections: %+v", secs)
	}
}
