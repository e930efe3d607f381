package validator

import (
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// refresh makes a.snap current: it compares the generation file with the one
// last read and re-reads the state only when it changed; now is the time
// on the system clock.
func (a *Appliance) refresh(now time.Time) error {
	var buf [genSize]byte
	n, err := a.generation(&buf, now)
	if err != nil {
		return err
	}
	if a.snap != nil && a.snap.gen == string(buf[:n]) {
		if now.Sub(a.checked) <= time.Second {
			return nil
		}
		// The generation is a hint anyone can put back: once a second the
		// state is also held to what was read (no symlink has appeared,
		// the history and facts are the files read), so a warm instance
		// cannot be frozen on a state that has moved on.
		a.checked = now
		if err := a.st.scan(); err != nil {
			return err
		}
		if a.snap.stamps.same(&a.st) {
			return nil
		}
	}
	snap, err := a.load(string(buf[:n]))
	if err != nil {
		return err
	}
	a.snap, a.checked = snap, now
	a.follow(snap)
	return nil
}

// follow moves the mark in memory to what s proves: up to its high-water
// mark, or, when s holds a clock reset this instance has not seen, to where
// the reset put it, backwards too.
func (a *Appliance) follow(s *snapshot) {
	switch n := s.resetN(); {
	case n > a.hwReset:
		a.hw, a.hwReset = s.highWater, n
	case s.highWater.After(a.hw):
		a.hw = s.highWater
	}
}

// genSize is the length of a generation value: 16 random bytes in hex.
const genSize = 32

// generation reads the generation file into buf and returns its length (0
// when there is none). It is rewritten in place (see bumpGeneration), so the
// open file shows every change; it is re-opened at least once a second in
// case the file itself was replaced.
func (a *Appliance) generation(buf *[genSize]byte, now time.Time) (int, error) {
	if a.gen != nil && now.Sub(a.genOpened) > time.Second {
		a.gen.Close()
		a.gen = nil
	}
	if a.gen == nil {
		if err := a.st.contained(fileGeneration); err != nil {
			return 0, err
		}
		f, err := os.Open(a.st.path(fileGeneration))
		if isNotExist(err) {
			if _, err := os.Stat(a.cfg.Dir); err != nil {
				return 0, fmt.Errorf("cannot read the state directory %s: %w; the host must mount it", a.cfg.Dir, err)
			}
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("cannot read the state directory %s: %w; the host must mount it", a.cfg.Dir, err)
		}
		a.gen, a.genOpened = f, now
	}
	n, err := a.gen.ReadAt(buf[:], 0)
	if err != nil && n == 0 {
		a.gen.Close()
		a.gen = nil
		return 0, nil
	}
	return n, nil
}

// bumpGeneration tells every instance over this directory to re-read it.
// The value is a hint, not state: it is written in place, without a rename,
// so instances holding the file open see it, and a torn write only causes
// one more re-read.
func (a *Appliance) bumpGeneration() (string, error) {
	b := make([]byte, genSize/2)
	if _, err := io.ReadFull(a.cfg.rand(), b); err != nil {
		return "", fmt.Errorf("failed to read randomness: %w", err)
	}
	g := hex.EncodeToString(b)
	if err := cut(fileGeneration, "begin"); err != nil {
		return "", err
	}
	if err := a.st.contained(fileGeneration); err != nil {
		return "", err
	}
	f, err := os.OpenFile(a.st.path(fileGeneration), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return "", fmt.Errorf("failed to write %s: %w; check the state directory is writable", fileGeneration, err)
	}
	_, err = f.WriteAt([]byte(g), 0)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("failed to write %s: %w", fileGeneration, err)
	}
	return g, nil
}

// stamps are what the history and facts files were when a snapshot read
// them: a write replaces a file (rename), so another file, size or time
// means the state changed.
type stamps [2]fs.FileInfo

func (st *store) stamps() stamps {
	var s stamps
	for i, name := range []string{fileHistory, fileFacts} {
		s[i], _ = os.Lstat(st.path(name))
	}
	return s
}

func (s stamps) same(st *store) bool {
	now := st.stamps()
	for i := range s {
		a, b := s[i], now[i]
		if (a == nil) != (b == nil) || a != nil && (!os.SameFile(a, b) || a.Size() != b.Size() || !a.ModTime().Equal(b.ModTime())) {
			return false
		}
	}
	return true
}
