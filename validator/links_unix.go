//go:build unix || wasip1

package validator

import (
	"io/fs"
	"syscall"
)

// hardLinked reports whether a regular file has other names: a hard link
// from inside the state to a file outside it would let an in-place write
// reach that file.
func hardLinked(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Nlink > 1
}
