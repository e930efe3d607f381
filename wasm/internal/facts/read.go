package facts

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Bounds of what the collector reads. A sysfs attribute is at most a page;
// anything larger is not the file the kernel writes, and is skipped rather
// than read to its end.
const (
	maxAttr      = 4096    // one file of sysfs or /etc
	maxMountinfo = 4 << 20 // /proc/self/mountinfo: some 25,000 mounts
	maxEntries   = 512     // entries of one directory (NICs, slaves)
	maxValue     = 256     // bytes of one component value
	maxDepth     = 8       // stacked block devices (dm on md on a partition, ...)
)

var (
	errNotRegular = errors.New("not a regular file")
	errTooLarge   = errors.New("too large")
)

// readFile reads a small regular file. It opens without blocking and refuses
// anything but a regular file (sysfs and procfs attributes are regular), so
// a FIFO or a device planted where an attribute should be can never hang the
// host; it reads at most limit bytes, so a huge file costs nothing; a
// symlink loop fails in open (ELOOP).
func readFile(path string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w", path, errNotRegular)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: %w", path, errTooLarge)
	}
	return b, nil
}

// readValue reads an attribute and cleans it ([clean]): "" when the file is
// missing, unreadable, too large or holds no value.
func readValue(path string) string {
	b, err := readFile(path, maxAttr)
	if err != nil {
		return ""
	}
	return clean(b)
}

// clean trims white space and NULs (sysfs pads serial numbers with both)
// and returns what is left, or "" when that is not a value a component can
// hold: empty, longer than maxValue, or with a byte outside printable ASCII.
// Identifiers (UUIDs, MACs, serial numbers, machine ids) are printable
// ASCII; anything else is junk, not evidence.
func clean(b []byte) string {
	s := strings.Trim(string(b), " \t\r\n\x00")
	if s == "" || len(s) > maxValue {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return ""
		}
	}
	return s
}

// listDir returns the sorted names in a directory, at most maxEntries of
// them (the first in the directory's order: a directory that large is not
// one the kernel made).
func listDir(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	names, _ := f.Readdirnames(maxEntries)
	slices.Sort(names)
	return names
}

// exists reports whether path names something, following symlinks.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// resolve follows the symlinks of path (sysfs is made of them) and returns
// the real path, which must stay inside root: a simulated tree never leads
// the collector out of itself.
func resolve(root, path string) (string, bool) {
	p, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", false
	}
	if root != "/" && p != root && !strings.HasPrefix(p, root+string(filepath.Separator)) {
		return "", false
	}
	return p, true
}
