// Package signer gives the issuer its signing keys as note signers.
//
// # Key files
//
// A key file holds a signed-note private key ("PRIVATE+KEY" then "+name+hash+data",
// as golang.org/x/mod/sumdb/note makes them), encrypted with age to a
// passphrase (scrypt) and armored. [Generate] writes one with its passphrase
// file and public key:
//
//	DIR/issuer.key   the private key, age-encrypted (0600)
//	DIR/issuer.pass  a random passphrase (0600), unless one is supplied
//	DIR/issuer.pub   the verifier key, as GET /v1/keys lists it
//
// # Key specs
//
// TENURE_KEY_FILE names the keys to sign with, separated by commas, each a
// key file path or a "kms:" spec (see kms.go). During a key rotation it names
// the old and the new key: every license carries both signatures, and GET
// /v1/keys lists both verifiers. The passphrase comes from
// TENURE_KEY_PASSPHRASE_FILE, or else from the .pass file beside each key.
//
// The private key never leaves this package: nothing here logs it, and
// errors name files, never their contents.
package signer

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"
	"golang.org/x/mod/sumdb/note"

	"github.com/tenurehq/tenure/shared/engine"
)

// File names [Generate] writes in its directory.
const (
	KeyFile        = "issuer.key"
	PassphraseFile = "issuer.pass"
	PublicFile     = "issuer.pub"
)

// A Signer is a note signer that can name its verifier key, so the issuer
// can publish it.
type Signer interface {
	note.Signer
	VerifierKey() string
}

type fileSigner struct {
	note.Signer
	vkey string
}

func (s *fileSigner) VerifierKey() string { return s.vkey }

// Parse makes a signer from a signed-note private key string.
func Parse(skey string) (Signer, error) {
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("not a signed-note private key: %w", err)
	}
	vkey, err := engine.VerifierKey(skey)
	if err != nil {
		return nil, err
	}
	return &fileSigner{Signer: s, vkey: vkey}, nil
}

// Generate makes a new key named name in dir: the age-encrypted key file, the
// passphrase file (unless passphraseFile names an existing one to use) and
// the public key file. It refuses to overwrite any of them, and returns the
// verifier key.
func Generate(dir, name, passphraseFile string) (string, error) {
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return "", fmt.Errorf("failed to make a key named %q (a name has no spaces or '+'): %w", name, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("failed to make key directory: %w", err)
	}
	keyPath := filepath.Join(dir, KeyFile)
	for _, p := range []string{keyPath, filepath.Join(dir, PublicFile)} {
		if _, err := os.Lstat(p); err == nil {
			return "", fmt.Errorf("%s exists; keygen never overwrites a key: move it away or choose another --dir", p)
		}
	}
	var pass string
	if passphraseFile != "" {
		if pass, err = readPassphrase(passphraseFile); err != nil {
			return "", err
		}
	} else {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		pass = base64.RawURLEncoding.EncodeToString(b)
		if err := writeNew(filepath.Join(dir, PassphraseFile), []byte(pass+"\n"), 0o600); err != nil {
			return "", err
		}
	}
	r, err := age.NewScryptRecipient(pass)
	if err != nil {
		return "", err
	}
	var sealed bytes.Buffer
	aw := armor.NewWriter(&sealed)
	w, err := age.Encrypt(aw, r)
	if err != nil {
		return "", fmt.Errorf("failed to encrypt the key: %w", err)
	}
	io.WriteString(w, skey+"\n")
	if err := errors.Join(w.Close(), aw.Close()); err != nil {
		return "", fmt.Errorf("failed to encrypt the key: %w", err)
	}
	if err := writeNew(keyPath, sealed.Bytes(), 0o600); err != nil {
		return "", err
	}
	if err := writeNew(filepath.Join(dir, PublicFile), []byte(vkey+"\n"), 0o644); err != nil {
		return "", err
	}
	return vkey, nil
}

// writeNew writes a file that must not exist yet.
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s exists; keygen never overwrites a key: move it away or choose another --dir", path)
		}
		return fmt.Errorf("failed to write %s: %w", path, err)
	}
	_, err = f.Write(data)
	if err = errors.Join(err, f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("failed to write %s: %w", path, err)
	}
	return nil
}

func readPassphrase(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("failed to read the key passphrase (TENURE_KEY_PASSPHRASE_FILE): %w", err)
	}
	pass := strings.TrimRight(string(b), "\r\n")
	if pass == "" {
		return "", fmt.Errorf("passphrase file %s is empty; write the key's passphrase into it", path)
	}
	return pass, nil
}

// Load opens an age-encrypted key file with the passphrase in
// passphraseFile; an empty passphraseFile means the .pass file beside the
// key (issuer.key → issuer.pass).
func Load(keyFile, passphraseFile string) (Signer, error) {
	if passphraseFile == "" {
		passphraseFile = strings.TrimSuffix(keyFile, filepath.Ext(keyFile)) + ".pass"
	}
	pass, err := readPassphrase(passphraseFile)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(keyFile)
	if err != nil {
		return nil, fmt.Errorf("failed to open the signing key (TENURE_KEY_FILE): %w", err)
	}
	defer f.Close()
	id, err := age.NewScryptIdentity(pass)
	if err != nil {
		return nil, err
	}
	r, err := age.Decrypt(armor.NewReader(io.LimitReader(f, 64<<10)), id)
	if err != nil {
		return nil, fmt.Errorf("failed to decrypt signing key %s (is %s its passphrase?): %w", keyFile, passphraseFile, err)
	}
	skey, err := io.ReadAll(io.LimitReader(r, 4<<10))
	if err != nil {
		return nil, fmt.Errorf("failed to decrypt signing key %s: %w", keyFile, err)
	}
	s, err := Parse(strings.TrimSpace(string(skey)))
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", keyFile, err)
	}
	return s, nil
}

// Open opens every key of a key spec (TENURE_KEY_FILE): key files and "kms:"
// keys, separated by commas. A key name may appear only once.
func Open(ctx context.Context, spec, passphraseFile string) ([]note.Signer, error) {
	var out []note.Signer
	seen := map[string]bool{}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		var s note.Signer
		var err error
		if strings.HasPrefix(item, "kms:") {
			s, err = openKMS(ctx, item)
		} else {
			s, err = Load(item, passphraseFile)
		}
		if err != nil {
			return nil, err
		}
		id := fmt.Sprintf("%s+%08x", s.Name(), s.KeyHash())
		if seen[id] {
			return nil, fmt.Errorf("key %s is listed twice in TENURE_KEY_FILE", id)
		}
		seen[id] = true
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, errors.New("no signing key: set TENURE_KEY_FILE to a key file (make one with `tenure-issuer keygen --name NAME`) or a kms: key")
	}
	return out, nil
}
