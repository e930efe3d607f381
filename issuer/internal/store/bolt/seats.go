package bolt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	bbolt "go.etcd.io/bbolt"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

func (s *Store) Binding(ctx context.Context, contract, appliance string) (b *store.Binding, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		b, err = get[store.Binding](tx.Bucket(bBindings), key(contract, appliance))
		return err
	})
	return b, err
}

func (s *Store) Bindings(ctx context.Context, contract string) (out []store.Binding, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		out, err = all[store.Binding](tx.Bucket(bBindings), []byte(contract))
		return err
	})
	return out, err
}

func (s *Store) ApplianceBindings(ctx context.Context, appliance string) (out []store.Binding, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		bindings := tx.Bucket(bBindings)
		return each(tx.Bucket(bApplianceBinds), []byte(appliance), func(_, contract []byte) error {
			b, err := get[store.Binding](bindings, key(string(contract), appliance))
			if err != nil {
				return fmt.Errorf("appliance %s's binding to %s: %w", appliance, contract, err)
			}
			out = append(out, *b)
			return nil
		})
	})
	return out, err
}

// indexBinding indexes a binding under its appliance.
func indexBinding(tx *bbolt.Tx, b *store.Binding) error {
	return tx.Bucket(bApplianceBinds).Put(key(b.Appliance, b.Contract), []byte(b.Contract))
}

// indexBindings indexes every binding under its appliance, once, in a file
// written before the index existed.
func indexBindings(tx *bbolt.Tx) error {
	return tx.Bucket(bBindings).ForEach(func(k, v []byte) error {
		var b store.Binding
		if err := json.Unmarshal(v, &b); err != nil {
			return fmt.Errorf("corrupt record %q: %w", k, err)
		}
		return indexBinding(tx, &b)
	})
}

func (s *Store) FreedSeats(ctx context.Context, contract string) (out []store.FreedSeat, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		out, err = all[store.FreedSeat](tx.Bucket(bFreed), []byte(contract))
		return err
	})
	// A retaken seat is kept as a record of the retake, and is no longer free.
	return slices.DeleteFunc(out, func(f store.FreedSeat) bool { return f.Retaken != "" }), err
}

func (s *Store) Free(ctx context.Context, op *store.Free) error {
	if op.History != nil {
		op.History.Bound()
	}
	err := s.batch(func(tx *bbolt.Tx) (error, error) {
		bindings := tx.Bucket(bBindings)
		bkey := key(op.Contract, op.Appliance)
		b, err := get[store.Binding](bindings, bkey)
		if err != nil {
			return fmt.Errorf("appliance %s on contract %s: %w", op.Appliance, op.Contract, err), nil
		}
		if b.Released != nil {
			return fmt.Errorf("%w: the seat of appliance %s is already free", store.ErrConflict, op.Appliance), nil
		}
		contracts := tx.Bucket(bContracts)
		c, err := get[store.Contract](contracts, []byte(op.Contract))
		if err != nil {
			return err, nil
		}
		lics := tx.Bucket(bLicenses)
		var released []*store.License
		for _, id := range op.Licenses {
			l, err := get[store.License](lics, []byte(id))
			if err != nil {
				return fmt.Errorf("%w: license %s: %w", store.ErrConflict, id, err), nil
			}
			if l.Contract != op.Contract || l.Appliance != op.Appliance {
				return fmt.Errorf("%w: license %s is not %s's on %s", store.ErrConflict, id, op.Appliance, op.Contract), nil
			}
			released = append(released, l)
		}
		if op.History != nil {
			if refused, err := checkHistory(tx, op.History); refused != nil || err != nil {
				return refused, err
			}
		}

		at := op.At
		b.Released = &at
		b.ReleasedSequence = op.Sequence
		b.Receipt = op.Receipt
		b.ReleasedLicenses = op.Licenses
		if c.Used > 0 {
			c.Used--
		}
		freed := tx.Bucket(bFreed)
		seq, err := freed.NextSequence()
		errs := []error{err, put(bindings, bkey, b), put(contracts, []byte(c.ID), c)}
		errs = append(errs, put(freed, seqKey([]byte(op.Contract), seq), op.Seat(seq)))
		for _, l := range released {
			if l.Released == nil {
				l.Released = &at
				errs = append(errs, put(lics, []byte(l.ID), l))
			}
		}
		errs = append(errs, appendEntry(tx, &op.Entry))
		errs = append(errs, putHistory(tx, op.History))
		return nil, errors.Join(errs...)
	})
	return wroteHistory(op.History, err)
}
