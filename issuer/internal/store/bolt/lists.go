package bolt

import (
	"context"
	"encoding/json"

	bbolt "go.etcd.io/bbolt"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

func (s *Store) Contracts(ctx context.Context, cursor string, limit int) (out []store.Contract, next string, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		return pageUnder(tx.Bucket(bContracts), nil, cursor, limit, &next, func(v []byte) error {
			var c store.Contract
			if err := json.Unmarshal(v, &c); err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	})
	return out, next, err
}

func (s *Store) BindingPage(ctx context.Context, contract, cursor string, limit int) (out []store.Binding, next string, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		return page(tx.Bucket(bBindings), contract, cursor, limit, &next, func(v []byte) error {
			var b store.Binding
			if err := json.Unmarshal(v, &b); err != nil {
				return err
			}
			out = append(out, b)
			return nil
		})
	})
	return out, next, err
}
