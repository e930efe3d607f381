package wasm

import (
	"runtime/debug"
	"time"

	"github.com/tenurehq/tenure/shared/abi"
)

// Held answers: a check the module said would change nothing while it holds
// (abi.Hold: the same generation of the state, a span of the clock within
// the mode, the UTC day and the hourly write of the high-water mark, at
// most a second) is answered again by the host without entering the
// module. The generation is read from the state's generation file mapped
// into memory, so a held answer costs no system call: the module rewrites
// that file in place at every change, and the mapping shows each rewrite
// the moment it is made.

// maxHeld bounds the answers kept: a host asks a handful of questions.
const maxHeld = 16

// A heldAnswer is one check's exit code, the words it was asked with and
// how long it holds.
type heldAnswer struct {
	words [4]string
	n     int
	exit  int
	hold  abi.Hold
}

// held looks up the answer to words the module gave while it still holds:
// the mapped generation reads as it did and the clock is in its span.
func (v *Validator) held(words []string) (exit int, ok bool) {
	if v.gen == nil || v.noHold || len(words) > len(heldAnswer{}.words) {
		return 0, false
	}
	for i := range v.answers[:v.nanswers] {
		a := &v.answers[i]
		if !sameWords(a, words) {
			continue
		}
		now := time.Now().UnixNano()
		if now < a.hold.From || now >= a.hold.Until || !v.gen.reads(a.hold.Gen) {
			return 0, false
		}
		v.heldHits++
		return a.exit, true
	}
	return 0, false
}

func sameWords(a *heldAnswer, words []string) bool {
	if a.n != len(words) {
		return false
	}
	for i, w := range words {
		if a.words[i] != w {
			return false
		}
	}
	return true
}

// keepHeld remembers the answer out gave to words, when it carries a hold.
func (v *Validator) keepHeld(words []string, exit int, out []byte) {
	if len(words) > len(heldAnswer{}.words) {
		return
	}
	h, ok := abi.ResponseHold(out)
	if !ok {
		return
	}
	if v.gen == nil || !v.gen.reads(h.Gen) {
		// The generation file was made or replaced since it was mapped
		// (or the mapping is not there yet): map it again.
		v.gen.unmap()
		v.gen = mapGeneration(v.state)
		if v.gen == nil || !v.gen.reads(h.Gen) {
			return
		}
	}
	i := 0
	for ; i < v.nanswers && !sameWords(&v.answers[i], words); i++ {
	}
	if i == v.nanswers {
		if v.nanswers == maxHeld {
			i = v.evict // each in turn gives way
			v.evict = (v.evict + 1) % maxHeld
		} else {
			v.nanswers++
		}
	}
	a := &v.answers[i]
	*a = heldAnswer{n: len(words), exit: exit, hold: h}
	copy(a.words[:], words)
}

// forgetHeld drops every held answer: the host itself changed the state, or
// the instance was started again.
func (v *Validator) forgetHeld() { v.nanswers = 0 }

// reads reports whether the mapped generation file holds gen. A file cut
// short under the mapping faults on the read; that is a mismatch, not a
// crash.
func (g *genMap) reads(gen string) (ok bool) {
	if g == nil || len(gen) != len(g.b) {
		return false
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return string(g.b) == gen
}
