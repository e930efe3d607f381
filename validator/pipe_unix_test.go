//go:build unix

package validator

import (
	"path/filepath"
	"syscall"
	"testing"
)

// installPipe: a file to install is never a pipe, which would block the
// instance for every later call.
func installPipe(t *testing.T, cfg *Config, e env) {
	fifo := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	r := cli(t, cfg, e, "", 1, "install", fifo)
	mustContain(t, "installing a pipe", r.Stderr, "not a file")
}
