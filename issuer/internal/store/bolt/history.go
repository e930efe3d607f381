package bolt

import (
	"context"
	"errors"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

// historyRecord is a History as the histories bucket keeps it, with its
// version.
type historyRecord struct {
	store.History
	Version uint64 `json:"version"`
}

func (s *Store) History(ctx context.Context, appliance string) (h *store.History, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		h, err = getHistory(tx, appliance)
		return err
	})
	return h, err
}

func getHistory(tx *bbolt.Tx, appliance string) (*store.History, error) {
	r, err := get[historyRecord](tx.Bucket(bHistories), []byte(appliance))
	if err != nil {
		return nil, err
	}
	h := r.History
	h.Version = r.Version
	return &h, nil
}

func (s *Store) PutHistory(ctx context.Context, h *store.History, e *store.Entry) error {
	h.Bound()
	err := s.batch(func(tx *bbolt.Tx) (error, error) {
		if refused, err := checkHistory(tx, h); refused != nil || err != nil {
			return refused, err
		}
		err := putHistory(tx, h)
		if e != nil {
			err = errors.Join(err, appendEntry(tx, e))
		}
		return nil, err
	})
	if err == nil {
		h.Version++
	}
	return err
}

// checkHistory is the condition of every history write: the stored record
// is still at the version the issuer read (0: none is stored).
func checkHistory(tx *bbolt.Tx, h *store.History) (refused, err error) {
	var at uint64
	old, err := getHistory(tx, h.Appliance)
	switch {
	case err == nil:
		at = old.Version
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	if at != h.Version {
		return fmt.Errorf("%w: the history of appliance %s changed meanwhile (version %d, not %d)", store.ErrConflict, h.Appliance, at, h.Version), nil
	}
	return nil, nil
}

// putHistory writes h, when a write carries one, at its next version; the
// caller has checked it and bounded it.
func putHistory(tx *bbolt.Tx, h *store.History) error {
	if h == nil {
		return nil
	}
	return put(tx.Bucket(bHistories), []byte(h.Appliance), historyRecord{*h, h.Version + 1})
}

// wroteHistory moves h to the version putHistory wrote once the
// transaction err ended has committed.
func wroteHistory(h *store.History, err error) error {
	if err == nil && h != nil {
		h.Version++
	}
	return err
}
