package signer_test

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/tenurehq/tenure/issuer/internal/signer"
	"github.com/tenurehq/tenure/shared/engine"
)

func TestGenerateAndLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	vkey, err := signer.Generate(dir, "tenure-issuer-2026", "")
	if err != nil {
		t.Fatal(err)
	}
	for name, mode := range map[string]os.FileMode{signer.KeyFile: 0o600, signer.PassphraseFile: 0o600, signer.PublicFile: 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s mode %v, want %v", name, fi.Mode().Perm(), mode)
		}
	}
	pub, _ := os.ReadFile(filepath.Join(dir, signer.PublicFile))
	if string(pub) != vkey+"\n" || !strings.HasPrefix(vkey, "tenure-issuer-2026+") {
		t.Fatalf("issuer.pub = %q, vkey %q", pub, vkey)
	}
	key, _ := os.ReadFile(filepath.Join(dir, signer.KeyFile))
	if !strings.HasPrefix(string(key), "-----BEGIN AGE ENCRYPTED FILE-----") || strings.Contains(string(key), "PRIVATE+KEY") {
		t.Fatalf("issuer.key is not age-armored:\n%s", key)
	}

	// Refuses to overwrite.
	if _, err := signer.Generate(dir, "tenure-issuer-2026", ""); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("second Generate: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, signer.KeyFile)); string(after) != string(key) {
		t.Fatal("the key file changed")
	}

	s, err := signer.Load(filepath.Join(dir, signer.KeyFile), "")
	if err != nil {
		t.Fatal(err)
	}
	if s.VerifierKey() != vkey || s.Name() != "tenure-issuer-2026" {
		t.Fatalf("loaded %s / %s", s.Name(), s.VerifierKey())
	}
	// The key signs documents its published verifier key accepts.
	msg, err := engine.Sign([]byte("tenure.test/v1\nhello\n"), s)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := note.NewVerifier(vkey)
	if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
		t.Fatalf("signature does not verify: %v", err)
	}

	// A wrong passphrase fails with a message naming the files, never the key.
	bad := filepath.Join(t.TempDir(), "wrong.pass")
	os.WriteFile(bad, []byte("not it\n"), 0o600)
	_, err = signer.Load(filepath.Join(dir, signer.KeyFile), bad)
	if err == nil || !strings.Contains(err.Error(), "passphrase") {
		t.Fatalf("wrong passphrase: %v", err)
	}
}

func TestGenerateWithPassphraseFileAndRotation(t *testing.T) {
	pass := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(pass, []byte("correct horse battery staple\n"), 0o600)
	old, next := filepath.Join(t.TempDir(), "old"), filepath.Join(t.TempDir(), "new")
	v1, err := signer.Generate(old, "tenure-issuer-2026", pass)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(old, signer.PassphraseFile)); !os.IsNotExist(err) {
		t.Fatalf("Generate wrote a passphrase file although one was given: %v", err)
	}
	v2, err := signer.Generate(next, "tenure-issuer-2027", pass)
	if err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(old, signer.KeyFile) + "," + filepath.Join(next, signer.KeyFile)
	signers, err := signer.Open(t.Context(), spec, pass)
	if err != nil {
		t.Fatal(err)
	}
	if len(signers) != 2 {
		t.Fatalf("%d signers", len(signers))
	}
	msg, _ := engine.Sign([]byte("tenure.test/v1\nhello\n"), signers...)
	for _, vk := range []string{v1, v2} {
		trust, _ := engine.ParseTrust(vk)
		if _, _, err := engine.OpenNote(msg, trust.Verifiers()); err != nil {
			t.Errorf("not signed by %s: %v", vk, err)
		}
	}
	if _, err := signer.Open(t.Context(), spec+","+filepath.Join(old, signer.KeyFile), pass); err == nil {
		t.Error("a key listed twice was accepted")
	}
	if _, err := signer.Open(t.Context(), " ", pass); err == nil || !strings.Contains(err.Error(), "keygen") {
		t.Errorf("empty spec: %v", err)
	}
}

func TestParse(t *testing.T) {
	skey, vkey, _ := engine.GenerateKey(rand.Reader, "tenure-issuer-test")
	s, err := signer.Parse(skey)
	if err != nil || s.VerifierKey() != vkey {
		t.Fatalf("Parse: %v, %q want %q", err, s.VerifierKey(), vkey)
	}
	if _, err := signer.Parse(vkey); err == nil {
		t.Error("Parse accepted a public key")
	}
}
