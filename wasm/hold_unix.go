//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package wasm

import (
	"path/filepath"
	"syscall"
)

// genSize is the length of a generation value: 16 random bytes in hex.
const genSize = 32

// A genMap is the state's generation file mapped read-only into memory.
type genMap struct{ b []byte }

// mapGeneration maps the generation file of the state directory, or returns
// nil when it is missing, not a regular file of a generation's size, or
// cannot be mapped: checks then always enter the module.
func mapGeneration(state string) *genMap {
	fd, err := syscall.Open(filepath.Join(state, "generation"), syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFREG || st.Size != genSize {
		return nil
	}
	b, err := syscall.Mmap(fd, 0, genSize, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil
	}
	return &genMap{b: b}
}

func (g *genMap) unmap() {
	if g != nil {
		syscall.Munmap(g.b)
		g.b = nil
	}
}
