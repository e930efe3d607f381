//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package wasm

// Without flock the host serialises calls within one process only; run one
// tenure at a time on such systems.
type dirLock struct{}

func openLock(string) (*dirLock, error) { return &dirLock{}, nil }
func (*dirLock) lock() error            { return nil }
func (*dirLock) unlock()                {}
func (*dirLock) close() error           { return nil }
