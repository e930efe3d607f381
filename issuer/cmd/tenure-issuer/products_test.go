package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenurehq/tenure/schema"
	"github.com/tenurehq/tenure/shared/engine"
)

// TestProductsLoaded: TENURE_PRODUCTS names files and directories of
// *.product; GET /v1/products lists each version with its file's hash.
func TestProductsLoaded(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	acme := strings.Replace(string(schema.EdgeProduct), `"id": "edge"`, `"id": "acme"`, 1)
	acme2 := strings.Replace(acme, `"grace_days": 90`, `"grace_days": 60`, 1)
	versions := filepath.Join(dir, "acme")
	must(t, os.MkdirAll(versions, 0o700))
	must(t, os.WriteFile(filepath.Join(versions, "acme-1.product"), []byte(acme), 0o600))
	must(t, os.WriteFile(filepath.Join(versions, "acme-2.product"), []byte(acme2), 0o600))
	must(t, os.WriteFile(filepath.Join(versions, "README"), []byte("not a product"), 0o600))
	edge := filepath.Join(dir, "edge.product")
	must(t, os.WriteFile(edge, schema.EdgeProduct, 0o600))
	t.Setenv("TENURE_PRODUCTS", versions+", "+edge)
	t.Setenv("TENURE_NOW", "2026-01-05T10:00:00Z")
	srv := startServe(t, filepath.Join(dir, "issuer"))
	defer srv.stop()
	resp, err := http.Get(srv.addr + "/v1/products")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var got struct{ Products []struct{ ID, SHA256 string } }
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := []struct{ id, text string }{{"acme", acme}, {"acme", acme2}, {"edge", string(schema.EdgeProduct)}}
	if len(got.Products) != len(want) {
		t.Fatalf("GET /v1/products = %s, want %d versions", body, len(want))
	}
	for i, w := range want {
		if p := got.Products[i]; p.ID != w.id || p.SHA256 != engine.ProductHash([]byte(w.text)) {
			t.Errorf("product %d = %+v, want %s %s", i, p, w.id, engine.ProductHash([]byte(w.text)))
		}
	}
	if !strings.Contains(srv.logs.String(), `"msg":"product"`) {
		t.Errorf("the loaded products are not logged: %s", srv.logs.String())
	}
}

// TestProductsRefused: a bad product file stops serve before it listens,
// naming the file and what is wrong.
func TestProductsRefused(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "acme.product")
	must(t, os.WriteFile(bad, []byte(strings.Replace(string(schema.EdgeProduct), `"grace_days": 90`, `"grace_days": "ninety"`, 1)), 0o600))
	empty := filepath.Join(dir, "empty")
	must(t, os.MkdirAll(empty, 0o700))
	for _, c := range []struct{ spec, says string }{
		{bad, bad + ": "},
		{bad, "/grace_days"},
		{filepath.Join(dir, "missing.product"), "missing.product"},
		{empty, "holds no *.product file"},
		{" , ", "names no product file"},
	} {
		t.Setenv("TENURE_PRODUCTS", c.spec)
		var errb bytes.Buffer
		code := runContext(t.Context(), []string{"serve", "--addr", "127.0.0.1:0", "--data", filepath.Join(dir, "issuer")}, io.Discard, &errb)
		if code == 0 || !strings.Contains(errb.String(), c.says) || strings.Contains(errb.String(), `"listening"`) {
			t.Errorf("TENURE_PRODUCTS=%q: exit %d, want a refusal saying %q: %s", c.spec, code, c.says, errb.String())
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
