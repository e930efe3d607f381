package facts

import (
	"bytes"
	"strconv"
	"strings"
)

// A mount is one line of /proc/self/mountinfo, as far as the collector
// needs it.
type mount struct {
	major, minor uint64
	point        string // where it is mounted
	source       string // the mount source, such as /dev/sda2
}

// parseMountinfo reads /proc/self/mountinfo (proc(5)):
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// the mount id, the parent's, major:minor, the root of the mount, the mount
// point, its options, optional fields up to "-", the file system type, the
// source and the super block's options. Paths are escaped as octal (\040 a
// space). Lines that do not parse are skipped.
func parseMountinfo(b []byte) []mount {
	var out []mount
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		f := strings.Fields(string(line))
		if len(f) < 10 {
			continue
		}
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+2 >= len(f) {
			continue
		}
		maj, min, ok := strings.Cut(f[2], ":")
		if !ok {
			continue
		}
		ma, err1 := strconv.ParseUint(maj, 10, 32)
		mi, err2 := strconv.ParseUint(min, 10, 32)
		point := unescape(f[4])
		if err1 != nil || err2 != nil || !strings.HasPrefix(point, "/") {
			continue
		}
		out = append(out, mount{major: ma, minor: mi, point: point, source: unescape(f[sep+2])})
	}
	return out
}

// unescape undoes the kernel's octal escapes of space, tab, newline and
// backslash.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) && isOctal(s[i+1:i+4]) {
			n, _ := strconv.ParseUint(s[i+1:i+4], 8, 8)
			b.WriteByte(byte(n))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(s string) bool {
	if len(s) != 3 || s[0] > '3' {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < '0' || s[i] > '7' {
			return false
		}
	}
	return true
}

// mountOf returns the mount that holds path (absolute and clean): the one
// whose mount point is the longest prefix of it; of several at one point,
// the last, which is mounted over the others.
func mountOf(mounts []mount, path string) (mount, bool) {
	best, found := mount{}, false
	for _, m := range mounts {
		if !within(path, m.point) {
			continue
		}
		if !found || len(m.point) >= len(best.point) {
			best, found = m, true
		}
	}
	return best, found
}

// within reports whether path is dir or below it.
func within(path, dir string) bool {
	if dir == "/" {
		return strings.HasPrefix(path, "/")
	}
	return path == dir || strings.HasPrefix(path, dir+"/")
}
