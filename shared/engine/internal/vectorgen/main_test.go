package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenurehq/tenure/shared/engine/vectors"
)

// TestGenerate writes the vectors twice: every one passes, the two runs give
// the same bytes (the throwaway keys come from a fixed stream, so `make
// vectors` changes nothing it did not change in the generator), and no
// private key is written.
func TestGenerate(t *testing.T) {
	dirs := [2]string{t.TempDir(), t.TempDir()}
	for _, d := range dirs {
		var stderr bytes.Buffer
		if code := run([]string{"-out", d}, io.Discard, &stderr); code != 0 {
			t.Fatalf("vectorgen exited %d: %s", code, stderr.String())
		}
	}
	names, _ := filepath.Glob(filepath.Join(dirs[0], "*.txt"))
	if len(names) < 100 {
		t.Fatalf("%d vectors written", len(names))
	}
	for _, n := range names {
		a, _ := os.ReadFile(n)
		b, err := os.ReadFile(filepath.Join(dirs[1], filepath.Base(n)))
		if err != nil {
			t.Fatalf("second run lacks %s", filepath.Base(n))
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two runs wrote different files", filepath.Base(n))
		}
		if _, err := vectors.Expected(a); err != nil {
			t.Errorf("%s: %v", filepath.Base(n), err)
		}
		// The one private-looking key written is a placeholder in a trust
		// file, there to be refused.
		if i := bytes.Index(a, []byte("PRIVATE+KEY")); i >= 0 && !strings.HasPrefix(string(a[i:]), "PRIVATE+KEY+tenure-issuer-2026+00000000+AAAA\n") {
			t.Errorf("%s holds a private key", filepath.Base(n))
		}
	}
	// A stale vector is removed on the next run.
	stale := filepath.Join(dirs[0], "scenario-gone.txt")
	os.WriteFile(stale, []byte("x"), 0o644)
	run([]string{"-out", dirs[0]}, io.Discard, io.Discard)
	if _, err := os.Stat(stale); err == nil {
		t.Error("a vector no longer generated was left behind")
	}
}
