//go:build !unix

package facts

import "testing"

func mkfifo(t *testing.T, path string) { t.Skip("no FIFOs here") }
