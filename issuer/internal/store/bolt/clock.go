package bolt

import (
	"context"
	"errors"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

// kClock is the key of the issuer's clock in the issuer bucket.
var kClock = []byte("clock")

// clockRecord is a Clock as the issuer bucket keeps it, with its version.
type clockRecord struct {
	store.Clock
	Version uint64 `json:"version"`
}

func (s *Store) Clock(ctx context.Context) (c *store.Clock, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		c, err = getClock(tx)
		return err
	})
	return c, err
}

func getClock(tx *bbolt.Tx) (*store.Clock, error) {
	r, err := get[clockRecord](tx.Bucket(bIssuer), kClock)
	if err != nil {
		return nil, err
	}
	c := r.Clock
	c.Version = r.Version
	return &c, nil
}

func (s *Store) PutClock(ctx context.Context, c *store.Clock) error {
	err := s.batch(func(tx *bbolt.Tx) (error, error) {
		var at uint64
		old, err := getClock(tx)
		switch {
		case err == nil:
			at = old.Version
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
		if at != c.Version {
			return fmt.Errorf("%w: the issuer's clock record changed meanwhile (version %d, not %d)", store.ErrConflict, at, c.Version), nil
		}
		return nil, put(tx.Bucket(bIssuer), kClock, clockRecord{*c, c.Version + 1})
	})
	if err == nil {
		c.Version++
	}
	return err
}
