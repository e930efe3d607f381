package validator

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
)

// Names of the files in the state directory. Records are JSON with a MAC;
// licenses and receipts are kept as the documents they are, because their
// signatures already protect them.
const (
	fileAppliance  = "appliance"  // id, keys, product, version, home platform
	fileClock      = "clock"      // the high-water mark
	fileSequence   = "sequence"   // the LRF and receipt counter
	fileFirstUse   = "first-use"  // when the licensed function was first used
	fileGeneration = "generation" // bumped by every change; tells a warm instance to re-read
	dirTrials      = "trials"     // one record per platform: when its trial started
	dirLicenses    = "licenses"   // licenses as received, sealed, one file per license id
	dirReceipts    = "receipts"   // release receipts as printed, one per contract
	dirPrevious    = "previous"   // identities of the appliance this state was restored from
	tempPrefix     = ".tmp-"
)

// macLabel separates the state MAC key from every other use of the device key.
const macLabel = "tenure.state/v1"

// errTampered marks a record whose MAC does not match: it was edited by hand
// or damaged, and is not trusted.
var errTampered = errors.New("failed its integrity check")

// cutPower, when set (by tests), is called at every step of every write;
// an error stops the write there, as a power cut would, leaving whatever the
// steps before left on disk. Steps: "begin", "written" (temp file written,
// not synced), "synced", "renamed", "remove".
var cutPower func(name, step string) error

func cut(name, step string) error {
	if cutPower == nil {
		return nil
	}
	if err := cutPower(name, step); err != nil {
		return fmt.Errorf("failed to write %s (%s): %w", name, step, err)
	}
	return nil
}

// store reads and writes the state directory. Every write is atomic: a temp
// file in the same directory, written, synced, renamed over the old file, and
// the directory synced where the platform allows, so a power cut leaves
// either the old file or the new one, never a mix.
type store struct {
	dir    string
	macKey []byte // nil until the appliance record is read
}

func (s *store) path(name string) string { return path.Join(s.dir, name) }

func (s *store) read(name string) ([]byte, error) { return os.ReadFile(s.path(name)) }

func (s *store) write(name string, data []byte) error {
	if err := cut(name, "begin"); err != nil {
		return err
	}
	full := s.path(name)
	dir := path.Dir(full)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("failed to write %s: %w; check the state directory is writable", name, err)
	}
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return fmt.Errorf("failed to write %s: %w; check the state directory is writable", name, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("failed to write %s: %w; check the state directory has space", name, err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := cut(name, "written"); err != nil {
		f.Close() // a power cut leaves the temp file behind; loading ignores it
		return err
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := cut(name, "synced"); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, full); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("failed to write %s: %w", name, err)
	}
	if err := cut(name, "renamed"); err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// syncDir makes a rename durable. Some platforms (WASI runtimes among them)
// cannot sync a directory; the rename is then as durable as they make it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

func (s *store) remove(name string) error {
	if err := cut(name, "remove"); err != nil {
		return err
	}
	if err := os.Remove(s.path(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("failed to remove %s: %w", name, err)
	}
	return nil
}

// list returns the names of the files in a subdirectory, temp files left by
// an interrupted write aside.
func (s *store) list(dir string) ([]string, error) {
	entries, err := os.ReadDir(s.path(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read %s: %w", dir, err)
	}
	var names []string
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), tempPrefix) {
			continue
		}
		names = append(names, e.Name())
	}
	return names, nil
}

// macKeyFor derives the state MAC key from the device's private key.
func macKeyFor(deviceKey string) []byte {
	m := hmac.New(sha256.New, []byte(deviceKey))
	m.Write([]byte(macLabel))
	return m.Sum(nil)
}

// mac binds a record's JSON to its file name, so a record cannot be moved to
// stand for another (one platform's trial for another's).
func mac(key []byte, name string, j []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(macLabel + "\n" + name + "\n"))
	m.Write(j)
	return m.Sum(nil)
}

// A record file is two lines: the JSON, then "mac " and the hex HMAC-SHA-256.
func encodeRecord(key []byte, name string, v any) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("failed to encode %s: %w", name, err)
	}
	var b bytes.Buffer
	b.Write(j)
	b.WriteString("\nmac ")
	b.WriteString(hex.EncodeToString(mac(key, name, j)))
	b.WriteString("\n")
	return b.Bytes(), nil
}

// decodeRecord splits a record file and decodes its JSON into v. The MAC is
// checked with key, or, when key is nil, with the key keyOf derives from the
// decoded v (the appliance record carries its own key).
func decodeRecord(key []byte, name string, data []byte, v any, keyOf func() []byte) error {
	j, rest, ok := bytes.Cut(data, []byte("\nmac "))
	if !ok {
		return fmt.Errorf("record %s %w: no mac line", name, errTampered)
	}
	sum, err := hex.DecodeString(strings.TrimSuffix(string(rest), "\n"))
	if err != nil {
		return fmt.Errorf("record %s %w: bad mac line", name, errTampered)
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("record %s %w: %v", name, errTampered, err)
	}
	if key == nil {
		key = keyOf()
	}
	if !hmac.Equal(sum, mac(key, name, j)) {
		return fmt.Errorf("record %s %w (edited by hand or damaged); it is ignored", name, errTampered)
	}
	return nil
}

func (s *store) putRecord(name string, v any) error {
	data, err := encodeRecord(s.macKey, name, v)
	if err != nil {
		return err
	}
	return s.write(name, data)
}

// getRecord reads a record. found is false when the file does not exist; an
// error wrapping errTampered means it exists but is not to be trusted.
func (s *store) getRecord(name string, v any) (found bool, err error) {
	data, err := s.read(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("failed to read %s: %w", name, err)
	}
	return true, decodeRecord(s.macKey, name, data, v, nil)
}
