package wasm

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenurehq/tenure/shared/engine/vectors"
	"github.com/tenurehq/tenure/wasm/internal/guest"
)

// TestVectors runs every engine test vector natively and through the reactor
// built with -tags vectors, and requires the same answer, byte for byte: the
// wasm build must not disagree with the engine it is compiled from.
func TestVectors(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "shared", "engine", "testdata", "vectors", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no vectors under shared/engine/testdata/vectors; the differential test needs them")
	}
	v, err := Open(context.Background(), Options{State: t.TempDir(), Platform: plat(t, platformA), Module: module(t, guest.VectorsReactor)})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			want, werr := vectors.Run(b)
			r, err := v.Call(context.Background(), []string{"vector"}, string(b))
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case werr != nil:
				if r.Exit != 2 || r.Stderr != "tenure: vector: "+werr.Error()+"\n" {
					t.Fatalf("native: error %q\nwasm: exit %d\nstdout:\n%s\nstderr:\n%s", werr, r.Exit, r.Stdout, r.Stderr)
				}
			case r.Exit != 0 || r.Stdout != string(want):
				t.Fatalf("native:\n%s\nwasm: exit %d\nstdout:\n%s\nstderr:\n%s", want, r.Exit, r.Stdout, r.Stderr)
			}
		})
	}
}
