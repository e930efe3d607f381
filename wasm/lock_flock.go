//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package wasm

import (
	"fmt"
	"os"
	"syscall"
)

// A dirLock is an flock on the state directory itself. WASI has no file
// locks, so the host serialises the processes that share a state: two tenure
// commands at once must not both write the sequence or the high-water mark.
type dirLock struct{ f *os.File }

func openLock(dir string) (*dirLock, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("failed to open the state directory: %w", err)
	}
	return &dirLock{f}, nil
}

func (l *dirLock) lock() error {
	for {
		err := syscall.Flock(int(l.f.Fd()), syscall.LOCK_EX)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("failed to lock the state directory %s: %w", l.f.Name(), err)
		}
		return nil
	}
}

func (l *dirLock) unlock() { syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN) }

func (l *dirLock) close() error { return l.f.Close() }
