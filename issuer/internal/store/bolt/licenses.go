package bolt

import (
	"context"

	bbolt "go.etcd.io/bbolt"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

func (s *Store) License(ctx context.Context, id string) (l *store.License, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		l, err = get[store.License](tx.Bucket(bLicenses), []byte(id))
		return err
	})
	return l, err
}

func (s *Store) ApplianceLicenses(ctx context.Context, contract, appliance string) (out []store.License, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		lics := tx.Bucket(bLicenses)
		return each(tx.Bucket(bApplianceLics), key(contract, appliance), func(k, v []byte) error {
			l, err := get[store.License](lics, v)
			if err != nil {
				return err
			}
			out = append(out, *l)
			return nil
		})
	})
	return out, err
}

func (s *Store) Licenses(ctx context.Context, contract, cursor string, limit int) (out []store.License, next string, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		lics := tx.Bucket(bLicenses)
		return page(tx.Bucket(bContractLics), contract, cursor, limit, &next, func(v []byte) error {
			l, err := get[store.License](lics, v)
			if err != nil {
				return err
			}
			out = append(out, *l)
			return nil
		})
	})
	return out, next, err
}

func (s *Store) Idempotent(ctx context.Context, contract, k string) (r *store.Idempotency, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		r, err = get[store.Idempotency](tx.Bucket(bIdempotency), key(contract, k))
		return err
	})
	return r, err
}
