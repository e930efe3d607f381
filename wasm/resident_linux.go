//go:build linux

package wasm

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// dirKey returns the device and inode of the directory dir: what names a
// state directory however it is reached.
func dirKey(dir string) (dev, ino uint64, err error) {
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return 0, 0, err
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return 0, 0, fmt.Errorf("%s is not a directory", dir)
	}
	return uint64(st.Dev), st.Ino, nil
}

// samePeer refuses a connection from another user than the host's own.
func samePeer(conn *net.UnixConn) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if credErr != nil {
		return credErr
	}
	if int(cred.Uid) != os.Geteuid() {
		return fmt.Errorf("the other end of the resident host's socket is user %d, not %d", cred.Uid, os.Geteuid())
	}
	return nil
}

// privateDir refuses a folder for the socket that is not this user's own
// and closed to others (a symlink, another user's XDG_RUNTIME_DIR kept
// across su); /run is root's.
func privateDir(dir string) error {
	var st syscall.Stat_t
	if err := syscall.Lstat(dir, &st); err != nil {
		return err
	}
	switch {
	case st.Mode&syscall.S_IFMT != syscall.S_IFDIR:
		return fmt.Errorf("%s is not a directory", dir)
	case int(st.Uid) != os.Geteuid():
		return fmt.Errorf("%s belongs to user %d, not %d", dir, st.Uid, os.Geteuid())
	case st.Mode&0o022 != 0 || st.Mode&0o077 != 0 && dir != "/run":
		return fmt.Errorf("%s is open to other users (%#o)", dir, st.Mode&0o777)
	}
	return nil
}

// namespace names this process's mount namespace ("mnt:[4026531841]").
func namespace() string {
	ns, _ := os.Readlink("/proc/self/ns/mnt")
	return ns
}

// ListenResident takes the resident host's lock, runs prepare (compiling
// the module, so no client waits on a socket that cannot answer yet) and
// listens on its socket, mode 0600. It returns an error when another
// resident host holds the lock (it is already running), prepare fails, or
// the socket's folder cannot be written.
func ListenResident(socket string, prepare func() error) (*net.UnixListener, func(), error) {
	if err := privateDir(filepath.Dir(socket)); err != nil {
		return nil, nil, err
	}
	lock, err := os.OpenFile(socket+".lock", os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, nil, err
	}
	if fi, err := lock.Stat(); err != nil || !fi.Mode().IsRegular() {
		lock.Close()
		return nil, nil, fmt.Errorf("%s.lock is not a regular file", socket)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, nil, fmt.Errorf("another resident host holds %s.lock", socket)
	}
	if err := prepare(); err != nil {
		lock.Close()
		return nil, nil, err
	}
	os.Remove(socket) // left by a host that ended without cleaning up
	old := syscall.Umask(0o177)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: socket, Net: "unix"})
	syscall.Umask(old)
	if err != nil {
		lock.Close()
		return nil, nil, err
	}
	ln.SetUnlinkOnClose(true)
	lock.Truncate(0)
	fmt.Fprintf(lock, "%d\n", os.Getpid())
	return ln, func() {
		ln.Close()
		lock.Truncate(0) // no pid names a host that has gone
		lock.Close()
	}, nil
}

// StartResident starts the resident host in the background from this
// executable, detached from the caller's session and terminal, when the
// socket's folder can be written; the call that starts it runs its command
// in-process meanwhile.
func StartResident(socket string) error {
	if err := privateDir(filepath.Dir(socket)); err != nil {
		return err
	}
	if err := syscall.Access(filepath.Dir(socket), 2 /* W_OK */); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer null.Close()
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), EnvResident+"=serve")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	return cmd.Process.Release()
}
