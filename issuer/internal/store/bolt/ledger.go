package bolt

import (
	"context"
	"encoding/json"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

func appendEntry(tx *bbolt.Tx, e *store.Entry) error {
	b := tx.Bucket(bLedger)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	e.ID = fmt.Sprintf("%016x", seq)
	return put(b, seqKey([]byte(e.Contract), seq), e)
}

func (s *Store) Append(ctx context.Context, e *store.Entry) error {
	return s.batch(func(tx *bbolt.Tx) (error, error) { return nil, appendEntry(tx, e) })
}

func (s *Store) Ledger(ctx context.Context, contract, cursor string, limit int) (out []store.Entry, next string, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		return page(tx.Bucket(bLedger), contract, cursor, limit, &next, func(v []byte) error {
			var e store.Entry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			out = append(out, e)
			return nil
		})
	})
	return out, next, err
}
