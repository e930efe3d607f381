// Command vectorgen writes the engine's test vectors (see package
// shared/engine/vectors for the format):
//
//	go run ./shared/engine/internal/vectorgen -out shared/engine/testdata/vectors
//
// Keys are made on the spot and their private halves are never written, so
// each run signs the documents anew; the expected outcomes, written here by
// hand from the design's rules, do not change. After writing, it runs every
// vector and exits 1 if the engine disagrees with one.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tenurehq/tenure/shared/engine/vectors"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vectorgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "shared/engine/testdata/vectors", "directory to write the vector files to")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	random = newStream() // every run the same keys
	g, err := newGen()
	if err != nil {
		fmt.Fprintf(stderr, "vectorgen: %v\n", err)
		return 1
	}
	if err := g.all(); err != nil {
		fmt.Fprintf(stderr, "vectorgen: %v\n", err)
		return 1
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintf(stderr, "vectorgen: %v\n", err)
		return 1
	}
	// Vectors no longer generated must not linger.
	old, _ := filepath.Glob(filepath.Join(*out, "*.txt"))
	for _, f := range old {
		if _, keep := g.files[filepath.Base(f)]; !keep {
			os.Remove(f)
		}
	}
	names := make([]string, 0, len(g.files))
	for n := range g.files {
		names = append(names, n)
	}
	sort.Strings(names)
	failed := 0
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(*out, n), g.files[n], 0o644); err != nil {
			fmt.Fprintf(stderr, "vectorgen: %v\n", err)
			return 1
		}
		if err := vectors.Check(g.files[n]); err != nil {
			fmt.Fprintf(stderr, "vectorgen: %s: %v\n", n, err)
			failed++
		}
	}
	fmt.Fprintf(stdout, "wrote %d vectors to %s\n", len(names), *out)
	if failed > 0 {
		fmt.Fprintf(stderr, "vectorgen: the engine disagrees with %d vectors\n", failed)
		return 1
	}
	return 0
}

// A sec is one section of a vector file.
type sec struct {
	name string
	data string
}

// kv is one header line.
type kv struct{ key, value string }

// write adds a vector file: a comment, header lines, the expectation (either
// "error: TEXT" or a JSON object, printed indented), then the sections.
func (g *gen) write(name, comment string, header []kv, expect string, sections ...sec) {
	if _, dup := g.files[name]; dup {
		g.err = fmt.Errorf("vector %s written twice", name)
	}
	var b bytes.Buffer
	for _, line := range strings.Split(strings.TrimSpace(comment), "\n") {
		b.WriteString("# " + strings.TrimSpace(line) + "\n")
	}
	for _, h := range header {
		fmt.Fprintf(&b, "%s: %s\n", h.key, h.value)
	}
	if strings.HasPrefix(expect, "error:") {
		b.WriteString("expect: " + expect + "\n")
	} else {
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, []byte(expect), "", "  "); err != nil {
			g.err = fmt.Errorf("vector %s: expectation is not JSON: %w", name, err)
		}
		b.WriteString("expect:\n" + pretty.String() + "\n")
	}
	for _, s := range sections {
		b.WriteString("-- " + s.name + " --\n" + s.data)
		if !strings.HasSuffix(s.data, "\n") && s.data != "" {
			b.WriteString("\n")
		}
	}
	g.files[name+".txt"] = b.Bytes()
}

// random is where the throwaway keys come from: a fixed stream, so that
// `make vectors` writes the same files every run. The keys sign test
// vectors only; nothing trusts them.
var random io.Reader

func newStream() io.Reader {
	return &stream{seed: sha256.Sum256([]byte("tenure vectorgen: throwaway test keys"))}
}

// stream is SHA-256 in counter mode over a seed.
type stream struct {
	seed  [32]byte
	n     uint64
	block []byte
}

func (s *stream) Read(p []byte) (int, error) {
	for i := range p {
		if len(s.block) == 0 {
			var ctr [8]byte
			binary.BigEndian.PutUint64(ctr[:], s.n)
			s.n++
			sum := sha256.Sum256(append(s.seed[:], ctr[:]...))
			s.block = sum[:]
		}
		p[i], s.block = s.block[0], s.block[1:]
	}
	return len(p), nil
}
