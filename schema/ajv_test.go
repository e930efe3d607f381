package schema

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestAjvStrict compiles every schema with a second, independent validator
// in its strictest mode, Ajv (npm, pinned by testdata/ajv/package-lock.json),
// and validates the example products, the valid sample of every type and an
// LRF carrying usage with it, so the schemas mean the same to tools outside
// Go. It installs the package on first run.
func TestAjvStrict(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		need(t, "node is not installed (Node.js 20 or later)")
	}
	dir := filepath.Join("testdata", "ajv")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "ajv")); err != nil {
		npm, err := exec.LookPath("npm")
		if err != nil {
			need(t, "npm is not installed")
		}
		cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			need(t, "npm ci in "+dir+" failed: "+err.Error()+"\n"+string(out))
		}
	}
	args := []string{filepath.Join(dir, "check.mjs"), "."}
	for _, p := range []string{"edge.product", filepath.Join("..", "examples", "products", "plantlink.product")} {
		text, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		// A product file is its type line, then the JSON the schema is of.
		_, j, ok := strings.Cut(string(text), "\n")
		if !ok {
			t.Fatalf("%s has no type line", p)
		}
		f := filepath.Join(t.TempDir(), filepath.Base(p)+".json")
		if err := os.WriteFile(f, []byte(j), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, baseURL+"product.schema.json="+f)
	}
	samples := [][2]string{{"tenure.lrf/v1", string(edit(t, validLRF, "usage", usageSummary(t)))}}
	for _, typ := range Types() {
		samples = append(samples, [2]string{typ, valid[typ]})
	}
	for _, s := range samples {
		f := filepath.Join(t.TempDir(), strings.NewReplacer("/", "-", ".", "-").Replace(s[0])+".json")
		if err := os.WriteFile(f, []byte(s[1]), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, baseURL+byType[s[0]]+"="+f)
	}
	var out bytes.Buffer
	cmd := exec.Command(node, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	t.Logf("ajv:\n%s", out.String())
	if err != nil {
		t.Fatalf("Ajv in strict mode refuses the schemas: %v\n%s", err, out.String())
	}
	if n, want := strings.Count(out.String(), "\nvalid "), 2+len(samples); n != want {
		t.Errorf("Ajv validated %d documents, want %d (2 products, a sample of each type, an LRF with usage)", n, want)
	}
	names, _ := filepath.Glob("*.schema.json")
	for _, n := range names {
		if !strings.Contains(out.String(), "ok "+n) {
			t.Errorf("Ajv did not compile %s", n)
		}
	}
}

// need fails the test when CI is set, and skips it otherwise: a machine
// without Node.js can still run the rest of the suite.
func need(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(why)
	}
	t.Skip(why)
}
