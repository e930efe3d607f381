//go:build !linux

package wasm

import (
	"errors"
	"net"
)

var errResidentLinux = errors.New("the resident host runs on Linux only")

func dirKey(string) (dev, ino uint64, err error) { return 0, 0, errResidentLinux }

func samePeer(*net.UnixConn) error { return errResidentLinux }

func privateDir(string) error { return errResidentLinux }

func namespace() string { return "" }

// ListenResident is available on Linux only.
func ListenResident(string, func() error) (*net.UnixListener, func(), error) {
	return nil, nil, errResidentLinux
}

// StartResident is available on Linux only.
func StartResident(string) error { return errResidentLinux }
