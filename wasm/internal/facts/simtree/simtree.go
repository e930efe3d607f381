// Package simtree writes simulated machines for tests: the parts of /etc,
// /proc and /sys that the platform collector (package facts) reads, kept as
// txtar archives under wasm/internal/facts/testdata/machines, one machine a
// file.
//
// An archive's comment says what machine it is. Each file is a path under
// the machine's root with its contents; two forms of name are special:
//
//	-- sys/class/net/eth0 -> ../../devices/virtual/net/eth0 --
//
// is a symlink (sysfs is made of them; targets are relative, so the tree
// stays inside itself), and
//
//	-- sys/block/sda/device/vpd_pg80 (hex) --
//	0080000c...
//
// is a file whose contents are written in hex (white space ignored), for
// the binary attributes.
package simtree

import (
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rogpeppe/go-internal/txtar"
)

// A Tree is a simulated machine: paths under its root, each a file or a
// symlink.
type Tree struct {
	About   string
	entries map[string]entry
}

type entry struct {
	data []byte
	link string // a symlink's target, when not ""
}

// Load reads a machine's archive.
func Load(file string) (*Tree, error) {
	a, err := txtar.ParseFile(file)
	if err != nil {
		return nil, err
	}
	t := &Tree{About: strings.TrimSpace(string(a.Comment)), entries: map[string]entry{}}
	for _, f := range a.Files {
		name := strings.TrimSpace(f.Name)
		switch {
		case strings.Contains(name, " -> "):
			path, target, _ := strings.Cut(name, " -> ")
			t.entries[clean(path)] = entry{link: strings.TrimSpace(target)}
		case strings.HasSuffix(name, " (hex)"):
			b, err := hex.DecodeString(strings.Join(strings.Fields(string(f.Data)), ""))
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", file, name, err)
			}
			t.entries[clean(strings.TrimSuffix(name, " (hex)"))] = entry{data: b}
		default:
			t.entries[clean(name)] = entry{data: f.Data}
		}
	}
	return t, nil
}

// MustLoad is Load for tests: it panics on an error.
func MustLoad(file string) *Tree {
	t, err := Load(file)
	if err != nil {
		panic(err)
	}
	return t
}

func clean(p string) string { return strings.TrimPrefix(filepath.ToSlash(filepath.Clean("/"+p)), "/") }

// Clone returns a copy of t to change.
func (t *Tree) Clone() *Tree {
	return &Tree{About: t.About, entries: maps.Clone(t.entries)}
}

// Set writes a file (and returns t, so changes chain).
func (t *Tree) Set(path, data string) *Tree {
	t.entries[clean(path)] = entry{data: []byte(data)}
	return t
}

// Link makes a symlink.
func (t *Tree) Link(path, target string) *Tree {
	t.entries[clean(path)] = entry{link: target}
	return t
}

// Get returns a file's contents.
func (t *Tree) Get(path string) string { return string(t.entries[clean(path)].data) }

// Target returns a symlink's target, or "".
func (t *Tree) Target(path string) string { return t.entries[clean(path)].link }

// Links returns the symlinks directly in dir, sorted.
func (t *Tree) Links(dir string) []string {
	var out []string
	for k, e := range t.entries {
		if e.link != "" && filepath.ToSlash(filepath.Dir(k)) == clean(dir) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// Dirs returns the directories directly below any directory named parent
// (such as every ".../net/IFNAME"), sorted.
func (t *Tree) Dirs(parent string) []string {
	var out []string
	for k := range t.entries {
		parts := strings.Split(k, "/")
		for i := 0; i+1 < len(parts)-1; i++ {
			if parts[i] == parent {
				d := strings.Join(parts[:i+2], "/")
				if !slices.Contains(out, d) {
					out = append(out, d)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// Remove takes away path and everything below it.
func (t *Tree) Remove(path string) *Tree {
	p := clean(path)
	for k := range t.entries {
		if k == p || strings.HasPrefix(k, p+"/") {
			delete(t.entries, k)
		}
	}
	return t
}

// Rename replaces the path segments old (such as "net/ens3") by new in
// every path and symlink target: renaming an interface or a disk.
func (t *Tree) Rename(old, new string) *Tree {
	re := func(s string) string {
		parts := "/" + s + "/"
		parts = strings.ReplaceAll(parts, "/"+old+"/", "/"+new+"/")
		return strings.TrimSuffix(strings.TrimPrefix(parts, "/"), "/")
	}
	out := map[string]entry{}
	for k, e := range t.entries {
		if e.link != "" {
			e.link = re(e.link)
		}
		out[re(k)] = e
	}
	t.entries = out
	return t
}

// Replace replaces old by new in every file's contents.
func (t *Tree) Replace(old, new string) *Tree {
	for k, e := range t.entries {
		if e.link == "" {
			e.data = []byte(strings.ReplaceAll(string(e.data), old, new))
			t.entries[k] = e
		}
	}
	return t
}

// Write makes the tree under dir, which becomes the machine's root.
func (t *Tree) Write(dir string) error {
	for _, k := range slices.Sorted(maps.Keys(t.entries)) {
		e := t.entries[k]
		p := filepath.Join(dir, filepath.FromSlash(k))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if e.link != "" {
			if err := os.Symlink(e.link, p); err != nil {
				return err
			}
			continue
		}
		if err := os.WriteFile(p, e.data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
