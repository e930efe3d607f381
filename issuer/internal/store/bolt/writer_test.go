package bolt

import (
	"testing"
	"time"
)

// TestGather: a group takes the writes waiting now; when the last group had
// company it also waits, up to linger, until it is as large as the last
// one, and a close ends the wait. The store here has no writer running, so
// gather alone reads its queue.
func TestGather(t *testing.T) {
	// A minute of linger: a test that waited it out would time out rather
	// than pass.
	newStore := func() *Store {
		return &Store{writes: make(chan *write), closing: make(chan struct{}), stopped: make(chan struct{}), linger: time.Minute}
	}
	first := func() []*write { return []*write{{}} }
	send := func(s *Store, n int) {
		for range n {
			select {
			case s.writes <- &write{}:
			case <-s.closing:
				return
			}
		}
	}

	t.Run("idle", func(t *testing.T) {
		// Nothing waits and the last group was alone: no waiting at all.
		for _, last := range []int{0, 1} {
			if g := newStore().gather(first(), last); len(g) != 1 {
				t.Fatalf("a lone write after a group of %d: a group of %d, want 1", last, len(g))
			}
		}
	})
	t.Run("busy", func(t *testing.T) {
		// The last group had four writers; three more come: the group
		// commits with them, without waiting out the linger.
		s := newStore()
		go send(s, 3)
		if g := s.gather(first(), 4); len(g) != 4 {
			t.Fatalf("after a group of 4, with three writes on their way: a group of %d, want 4", len(g))
		}
	})
	t.Run("busy, nothing comes", func(t *testing.T) {
		s := newStore()
		s.linger = 20 * time.Millisecond
		start := time.Now()
		if g := s.gather(first(), 4); len(g) != 1 {
			t.Fatalf("a group of %d, want 1", len(g))
		}
		if waited := time.Since(start); waited < s.linger {
			t.Fatalf("a busy store committed after %v; it waits %v for company", waited, s.linger)
		}
	})
	t.Run("full", func(t *testing.T) {
		s := newStore()
		go send(s, maxGroup+5)
		g := s.gather(first(), maxGroup+10)
		close(s.closing)
		if len(g) != maxGroup {
			t.Fatalf("a group of %d, want %d, the most one commit takes", len(g), maxGroup)
		}
	})
	t.Run("closing", func(t *testing.T) {
		s := newStore()
		close(s.closing)
		done := make(chan int)
		go func() { done <- len(s.gather(first(), 4)) }()
		select {
		case n := <-done:
			if n != 1 {
				t.Fatalf("a group of %d, want 1", n)
			}
		case <-time.After(time.Minute):
			t.Fatal("gather kept waiting after the store began to close")
		}
	})
}
