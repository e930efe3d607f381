package bolt

import (
	"context"
	"encoding/json"
	"errors"

	bbolt "go.etcd.io/bbolt"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

func (s *Store) NoteAnomaly(ctx context.Context, a *store.Anomaly) error {
	a.SetID()
	return s.batch(func(tx *bbolt.Tx) (error, error) {
		b := tx.Bucket(bAnomalies)
		old, err := get[store.Anomaly](b, []byte(a.ID))
		switch {
		case errors.Is(err, store.ErrNotFound):
			rec := *a
			rec.Count = 1
			return nil, errors.Join(put(b, []byte(a.ID), rec),
				tx.Bucket(bContractAnoms).Put(key(a.Contract, a.ID), []byte(a.ID)))
		case err != nil:
			return nil, err
		}
		old.Count++
		return nil, put(b, []byte(a.ID), old)
	})
}

func (s *Store) Anomalies(ctx context.Context, contract, cursor string, limit int) (out []store.Anomaly, next string, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		all := tx.Bucket(bAnomalies)
		decode := func(v []byte) error {
			var a store.Anomaly
			if err := json.Unmarshal(v, &a); err != nil {
				return err
			}
			out = append(out, a)
			return nil
		}
		if contract == "" {
			return pageUnder(all, nil, cursor, limit, &next, decode)
		}
		return page(tx.Bucket(bContractAnoms), contract, cursor, limit, &next, func(id []byte) error {
			v := all.Get(id)
			if v == nil {
				return errors.New("corrupt database: anomaly " + string(id) + " is listed but missing")
			}
			return decode(v)
		})
	})
	return out, next, err
}
