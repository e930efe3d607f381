package validator

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
)

// Names of the files in the state directory. Records are JSON with a MAC;
// licenses and receipts are kept as the documents they are, because their
// signatures already protect them.
const (
	fileAppliance  = "appliance"  // id, keys, product, version, home platform, first history event
	fileHistory    = "history"    // the hash-chained history of events (history.go)
	fileFacts      = "facts"      // the frequent facts, bound to the history head
	fileGeneration = "generation" // bumped by every change; tells a warm instance to re-read
	dirLicenses    = "licenses"   // licenses as received, sealed, one file per license id
	dirPrevious    = "previous"   // identities of the appliance this state was restored from
	tempPrefix     = ".tmp-"

	// Files of a state written before the history: read by the migration,
	// removed after it, ignored once the appliance record names its first
	// history event.
	fileClock    = "clock"     // the high-water mark
	fileSequence = "sequence"  // the LRF and receipt counter
	fileFirstUse = "first-use" // when the licensed function was first used
	dirTrials    = "trials"    // one record per platform: when its trial started
	dirReceipts  = "receipts"  // release receipts as printed, one per contract
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

func (s *store) read(name string) ([]byte, error) {
	if name == fileFacts {
		return s.readBounded(name, maxFacts)
	}
	return s.readBounded(name, maxRecord)
}

// maxRecord bounds what a record file may hold; maxFacts the facts record,
// which holds the usage counters too.
const (
	maxRecord = 4 << 10
	maxFacts  = 32 << 10
)

// errTooLarge marks a state file over the bound of what it should hold.
var errTooLarge = errors.New("is larger than such a file can be")

// readBounded reads a state file of at most limit bytes.
func (s *store) readBounded(name string, limit int) ([]byte, error) {
	if err := s.contained(name); err != nil {
		return nil, err
	}
	f, err := os.Open(s.path(name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > limit {
		return nil, fmt.Errorf("%s %w (%d bytes)", name, errTooLarge, limit)
	}
	return b, nil
}

func (s *store) write(name string, data []byte) error {
	if err := cut(name, "begin"); err != nil {
		return err
	}
	if err := s.contained(name); err != nil {
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

// An irregularError is a symlink, socket, device or other entry that is not
// a regular file or directory inside the state. The module must never read
// or write outside the state, and WASI's no-follow flag covers only a
// path's last component, so every component is checked, and such an entry
// anywhere is refused by every command.
type irregularError struct {
	name string
	kind string
}

func (e *irregularError) Error() string {
	return fmt.Sprintf("the state directory holds %s, which is %s; the state may hold only regular files and directories: remove it (and restore the file from a backup, or install the license again, if it was one)", e.name, e.kind)
}

func kindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a directory"
	}
	return "not a regular file"
}

// contained checks every component of name (a path inside the state): each
// directory on the way a real directory, the last a regular file, or absent.
func (s *store) contained(name string) error { return s.containedAs(name, false) }

// containedAs is contained, with the last component a directory when dir is
// set.
func (s *store) containedAs(name string, dir bool) error {
	p := s.dir
	parts := strings.Split(name, "/")
	if slices.ContainsFunc(parts, func(part string) bool { return part == "" || part == "." || part == ".." }) {
		return fmt.Errorf("the state path %q leaves the state directory", name)
	}
	for i, part := range parts {
		p = path.Join(p, part)
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("cannot read %s: %w", strings.Join(parts[:i+1], "/"), err)
		}
		last := i == len(parts)-1 && !dir
		if m := fi.Mode(); last && !m.IsRegular() || !last && !m.IsDir() {
			return &irregularError{name: strings.Join(parts[:i+1], "/"), kind: kindOf(m)}
		}
		if last && hardLinked(fi) {
			return &irregularError{name: name, kind: "a file with other hard links"}
		}
	}
	return nil
}

// maxEntries bounds how many entries a state directory may hold.
const maxEntries = 4096

// scan refuses a state holding anything but regular files and directories,
// at any depth. The state directory itself may be reached through a
// symlink: the host resolves it before mounting.
func (s *store) scan() error {
	n := 0
	var walk func(dir string) error
	walk = func(dir string) error {
		entries, err := os.ReadDir(s.path(dir))
		if errors.Is(err, fs.ErrNotExist) && dir != "" {
			return nil
		}
		if err != nil {
			return fmt.Errorf("cannot read the state directory %s: %w; the host must mount it", s.dir, err)
		}
		for _, e := range entries {
			if n++; n > maxEntries {
				return fmt.Errorf("the state directory holds more than %d entries; it is not a Tenure state", maxEntries)
			}
			name := path.Join(dir, e.Name())
			switch t := e.Type(); {
			case t.IsDir():
				if err := walk(name); err != nil {
					return err
				}
			case !t.IsRegular():
				return &irregularError{name: name, kind: kindOf(t)}
			default:
				if fi, err := e.Info(); err == nil && hardLinked(fi) {
					return &irregularError{name: name, kind: "a file with other hard links"}
				}
			}
		}
		return nil
	}
	return walk("")
}

// list returns the names of the files in a subdirectory, temp files left by
// an interrupted write aside.
func (s *store) list(dir string) ([]string, error) {
	if err := s.containedAs(dir, true); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(s.path(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read %s: %w", dir, err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			continue
		}
		if !e.Type().IsRegular() {
			return nil, &irregularError{name: dir + "/" + e.Name(), kind: kindOf(e.Type())}
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
