package bolt

import (
	"context"
	"errors"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

func (s *Store) CreateContract(ctx context.Context, c *store.Contract, tokenHash string, rev *store.Revision, e *store.Entry) error {
	return s.batch(func(tx *bbolt.Tx) (error, error) {
		b := tx.Bucket(bContracts)
		if b.Get([]byte(c.ID)) != nil {
			return fmt.Errorf("%w: contract %s exists", store.ErrConflict, c.ID), nil
		}
		if tx.Bucket(bTokens).Get([]byte(tokenHash)) != nil {
			return fmt.Errorf("%w: token in use", store.ErrConflict), nil
		}
		rec := *c
		rec.Used = 0
		return nil, errors.Join(
			put(b, []byte(c.ID), rec),
			tx.Bucket(bTokens).Put([]byte(tokenHash), []byte(c.ID)),
			tx.Bucket(bContractTokens).Put([]byte(c.ID), []byte(tokenHash)),
			putRevision(tx, rev),
			appendEntry(tx, e),
		)
	})
}

func (s *Store) UpdateContract(ctx context.Context, c *store.Contract, rev *store.Revision, e *store.Entry) error {
	return s.batch(func(tx *bbolt.Tx) (error, error) {
		b := tx.Bucket(bContracts)
		old, err := get[store.Contract](b, []byte(c.ID))
		if err != nil {
			return err, nil
		}
		if old.Revision != c.Revision-1 {
			return fmt.Errorf("%w: contract %s is at revision %d, not %d", store.ErrConflict, c.ID, old.Revision, c.Revision-1), nil
		}
		rec := *c
		rec.Used = old.Used
		return nil, errors.Join(put(b, []byte(c.ID), rec), putRevision(tx, rev), appendEntry(tx, e))
	})
}

func putRevision(tx *bbolt.Tx, rev *store.Revision) error {
	return put(tx.Bucket(bRevisions), seqKey([]byte(rev.Contract), uint64(rev.Number)), rev)
}

func (s *Store) Contract(ctx context.Context, id string) (c *store.Contract, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		c, err = get[store.Contract](tx.Bucket(bContracts), []byte(id))
		return err
	})
	return c, err
}

func (s *Store) Revisions(ctx context.Context, id string) (out []store.Revision, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		out, err = all[store.Revision](tx.Bucket(bRevisions), []byte(id))
		return err
	})
	return out, err
}

func (s *Store) TokenContract(ctx context.Context, tokenHash string) (id string, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bTokens).Get([]byte(tokenHash))
		if v == nil {
			return store.ErrNotFound
		}
		id = string(v)
		return nil
	})
	return id, err
}
