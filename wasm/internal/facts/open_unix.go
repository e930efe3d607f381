//go:build unix

package facts

import "syscall"

// openFlags open a file without waiting for a writer: a FIFO opens at once
// (and is then refused as not a regular file).
const openFlags = syscall.O_NONBLOCK
