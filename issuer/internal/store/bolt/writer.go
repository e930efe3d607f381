package bolt

import (
	"errors"
	"fmt"
	"slices"

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
// every write waiting when the previous commit ends.
func (s *Store) writer() {
	defer close(s.stopped)
	group := make([]*write, 0, maxGroup)
	for {
		select {
		case w := <-s.writes:
			group = append(group[:0], w)
		case <-s.closing:
			return
		}
	more:
		for len(group) < maxGroup {
			select {
			case w := <-s.writes:
				group = append(group, w)
			default:
				break more
			}
		}
		s.commit(group)
		clear(group)
	}
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
