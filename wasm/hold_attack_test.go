//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package wasm

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Attacks on held answers (hold.go, validator/check.go hold()).

// sleepUntil sleeps until t (at once when t has passed).
func sleepUntil(t time.Time) { time.Sleep(time.Until(t)) }

// TestHoldAttackOutlivesStateCheck: the module holds the state to what it
// read once a second (validator/generation.go refresh: "the generation is a
// hint anyone can put back": no symlink has appeared, the history and facts
// are the files read), counted from its last check of the state, a.checked.
// A hold must end by a.checked+1s: an answer given 0.8 s after the last
// check of the state must not hold to the end of its second, after the
// module would have looked at the state again and refused it. Here a
// symlink appears in the state (DESIGN "State integrity" 5: refused by
// every command): the question asked more than a second after the module's
// check enters the module, which refuses it.
func TestHoldAttackOutlivesStateCheck(t *testing.T) {
	ctx := context.Background()
	state := t.TempDir()
	v, _ := installed(t, state, "", grant(0))
	evil := filepath.Join(state, "evil")
	for attempt := range 6 {
		os.Remove(evil)
		// Far enough from the last call that the next one checks the
		// state (a.checked = tA), at about x.45 s.
		time.Sleep(1100 * time.Millisecond)
		now := time.Now()
		next := now.Truncate(time.Second).Add(450 * time.Millisecond)
		if next.Before(now) {
			next = next.Add(time.Second)
		}
		sleepUntil(next)
		tA := time.Now()
		if r, err := v.Call(ctx, []string{"check", "vpn"}, ""); err != nil || r.Exit != 0 {
			t.Fatalf("check vpn: %+v %v", r, err)
		}
		// 0.8 s later (x+1.25 s): no check of the state yet; the answer
		// holds until x+2 s.
		sleepUntil(tA.Add(800 * time.Millisecond))
		if ok, err := v.CheckConfigChange(ctx); !ok || err != nil {
			t.Fatalf("check --config-change: %v %v", ok, err)
		}
		if err := os.Symlink("/etc/passwd", evil); err != nil {
			t.Fatal(err)
		}
		// x+1.65 s: more than a second after the module last checked the
		// state, in the second the hold is for.
		sleepUntil(tA.Add(1200 * time.Millisecond))
		hits := v.heldHits
		got, gotErr := v.CheckConfigChange(ctx)
		tQ := time.Now()
		if tQ.Sub(tA) < 1050*time.Millisecond {
			t.Logf("attempt %d: the question came %v after the check of the state; again", attempt, tQ.Sub(tA))
			continue
		}
		if v.heldHits != hits {
			t.Fatalf("with a symlink in the state %v after the module's last check of it, the host answered %v, %v from a hold",
				tQ.Sub(tA), got, gotErr)
		}
		if gotErr == nil {
			t.Fatalf("with a symlink in the state the module answered %v, no error", got)
		}
		return
	}
	t.Fatal("six attempts could not ask the question more than a second after the module's check of the state")
}

// TestHoldAttackTruncatedGeneration: the generation file cut short under
// the host's mapping faults on the read (SIGBUS); the host must recover
// and ask the module, never crash. (Held up when run: kept as evidence.)
func TestHoldAttackTruncatedGeneration(t *testing.T) {
	ctx := context.Background()
	state := t.TempDir()
	v, _ := installed(t, state, "", grant(0))
	for range 3 {
		if ok, err := v.Check(ctx, "vpn"); !ok || err != nil {
			t.Fatalf("check vpn: %v, %v", ok, err)
		}
	}
	if v.heldHits == 0 || v.gen == nil {
		t.Fatal("no hold to attack")
	}
	if err := os.Truncate(filepath.Join(state, "generation"), 0); err != nil {
		t.Fatal(err)
	}
	hits := v.heldHits
	if ok, err := v.Check(ctx, "vpn"); !ok || err != nil {
		t.Fatalf("check vpn after the generation was cut: %v, %v", ok, err)
	}
	if v.heldHits != hits {
		t.Fatal("answered from a hold over a generation file cut to nothing")
	}
	// Replaced by a symlink: never followed.
	os.Remove(filepath.Join(state, "generation"))
	if err := os.Symlink("/etc/hostname", filepath.Join(state, "generation")); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Check(ctx, "vpn"); err == nil {
		t.Fatal("a state whose generation is a symlink answered")
	}
}
