package bolt

import (
	"errors"
	"fmt"
	"slices"
	"time"

	bbolt "go.etcd.io/bbolt"
)

func (s *Store) view(fn func(tx *bbolt.Tx) error) error { return s.db.View(fn) }

// A write is one write function waiting for the commit of its group.
type write struct {
	fn     func(tx *bbolt.Tx) (result error, err error)
	result error
	done   chan error // the write's failure, or nil once its group is durable
}

// batch runs fn in a write transaction shared with the writes that arrive
// meanwhile, and returns once it is committed. fn returns its refusal through
// result, and an error only for a failure of the database itself.
func (s *Store) batch(fn func(tx *bbolt.Tx) (result error, err error)) error {
	w := &write{fn: fn, done: make(chan error, 1)}
	select {
	case s.writes <- w:
	case <-s.closing:
		return errors.New("failed to write to the issuer database: it is closed")
	}
	if err := <-w.done; err != nil {
		return fmt.Errorf("failed to write to the issuer database: %w", err)
	}
	return w.result
}

// writer commits the writes in groups until the store closes: it takes
// every write waiting when the previous commit ends and, while the store is
// busy, waits a little for the ones on their way (see gather).
func (s *Store) writer() {
	defer close(s.stopped)
	group := make([]*write, 0, maxGroup)
	var last int // the size of the last group
	for {
		select {
		case w := <-s.writes:
			group = append(group[:0], w)
		case <-s.closing:
			return
		}
		group = s.gather(group, last)
		last = len(group)
		s.commit(group)
		clear(group)
	}
}

// linger bounds how long a group waits for company while the store is busy
// (Store.linger, which the tests change). A commit writes its pages and
// calls fdatasync twice, which costs about the same for one write as for
// many. Committing the moment one write was in split the callers of one
// commit across the next two: with 2, 4 and 16 callers appending to the
// ledger in a loop, waiting for as many writes as the last group held took
// the store from about 1,500, 2,600 and 8,000 writes/s to about 2,400,
// 3,800 and 9,400. Activations, whose callers spend most of their time
// signing and sealing, gain a few percent.
const linger = time.Millisecond

// gather adds to group the writes waiting now. If the last group had
// company, it also waits, up to s.linger, until it holds as many writes as
// the last one did: the callers that wrote then are likely to write again
// (the activations in flight), and a group that has them all commits
// without waiting out the linger. A lone write on an idle store does not
// wait.
func (s *Store) gather(group []*write, last int) []*write {
drain:
	for len(group) < maxGroup {
		select {
		case w := <-s.writes:
			group = append(group, w)
		default:
			break drain
		}
	}
	if last < 2 || len(group) >= min(last, maxGroup) {
		return group
	}
	t := time.NewTimer(s.linger)
	defer t.Stop()
	for len(group) < min(last, maxGroup) {
		select {
		case w := <-s.writes:
			group = append(group, w)
		case <-t.C:
			return group
		case <-s.closing:
			return group
		}
	}
	return group
}

// commit runs a group in one transaction. A write that fails gets its
// error, and the others run again without it in a new transaction, as
// bbolt's own Batch does.
func (s *Store) commit(group []*write) {
	for len(group) > 0 {
		failed := -1
		err := s.db.Update(func(tx *bbolt.Tx) error {
			for i, w := range group {
				var err error
				if w.result, err = call(w.fn, tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			for _, w := range group {
				w.done <- err
			}
			return
		}
		group[failed].done <- err
		group = slices.Delete(group, failed, failed+1)
	}
}

// call runs a write function, turning a panic into its error so that it
// fails alone and the writer goes on.
func call(fn func(tx *bbolt.Tx) (error, error), tx *bbolt.Tx) (result, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in a write: %v", p)
		}
	}()
	return fn(tx)
}
