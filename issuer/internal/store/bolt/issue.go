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

func (s *Store) Issue(ctx context.Context, op *store.Issue) error {
	l, bd := &op.License, &op.Binding
	// The records the transaction writes unchanged are encoded before it,
	// outside the writer every request waits for.
	lj, err := json.Marshal(l)
	if err != nil {
		return err
	}
	bj, err := json.Marshal(bd)
	if err != nil {
		return err
	}
	ij, err := json.Marshal(op.Idempotency)
	if err != nil {
		return err
	}
	if op.History != nil {
		op.History.Bound()
	}
	err = s.batch(func(tx *bbolt.Tx) (error, error) {
		// Every condition first: nothing is written unless all hold.
		r, refused, err := checkIssue(tx, op)
		if refused != nil || err != nil {
			return refused, err
		}

		// Then the writes.
		lics := tx.Bucket(bLicenses)
		var errs []error
		if op.Seat {
			r.contract.Used++
			errs = append(errs, put(tx.Bucket(bContracts), []byte(r.contract.ID), r.contract))
		}
		if r.freed != nil {
			r.freed.Retaken = bd.Appliance
			errs = append(errs, put(tx.Bucket(bFreed), r.freedKey, r.freed))
		}
		for _, old := range r.superseded {
			old.SupersededBy = l.ID
			errs = append(errs, put(lics, []byte(old.ID), old))
		}
		errs = append(errs,
			tx.Bucket(bBindings).Put(key(bd.Contract, bd.Appliance), bj),
			indexBinding(tx, bd),
			tx.Bucket(bIdempotency).Put(key(op.Idempotency.Contract, op.Idempotency.Key), ij),
			appendEntry(tx, &op.Entry),
		)
		if !op.Reissue {
			seq, err := tx.Bucket(bContractLics).NextSequence()
			errs = append(errs, err,
				lics.Put([]byte(l.ID), lj),
				tx.Bucket(bContractLics).Put(seqKey([]byte(l.Contract), seq), []byte(l.ID)),
				tx.Bucket(bApplianceLics).Put(seqKey(key(l.Contract, l.Appliance), seq), []byte(l.ID)),
			)
		}
		errs = append(errs, putHistory(tx, op.History))
		return nil, errors.Join(errs...)
	})
	return wroteHistory(op.History, err)
}

// issueReads are the records Issue's checks read and its writes change.
type issueReads struct {
	contract   *store.Contract
	freed      *store.FreedSeat // the freed seat retaken, if any
	freedKey   []byte
	superseded []*store.License
}

// checkIssue checks every condition of an activation, in the order the
// store reports them (the DynamoDB store ranks its conditions the same
// way): the request, the license id, the contract, the binding, the seats,
// the freed seat, the superseded licenses, the history. A failed one is the
// refusal.
func checkIssue(tx *bbolt.Tx, op *store.Issue) (r *issueReads, refused, err error) {
	l, bd := &op.License, &op.Binding
	if tx.Bucket(bIdempotency).Get(key(op.Idempotency.Contract, op.Idempotency.Key)) != nil {
		return nil, fmt.Errorf("%w: request already activated on contract %s", store.ErrConflict, op.Idempotency.Contract), nil
	}
	lics := tx.Bucket(bLicenses)
	switch exists := lics.Get([]byte(l.ID)) != nil; {
	case op.Reissue && !exists:
		return nil, fmt.Errorf("%w: reissued license %s is missing", store.ErrConflict, l.ID), nil
	case !op.Reissue && exists:
		return nil, fmt.Errorf("%w: license %s exists", store.ErrConflict, l.ID), nil
	}
	c, err := get[store.Contract](tx.Bucket(bContracts), []byte(l.Contract))
	if err != nil {
		return nil, err, nil
	}
	r = &issueReads{contract: c}
	old, err := get[store.Binding](tx.Bucket(bBindings), key(bd.Contract, bd.Appliance))
	switch {
	case errors.Is(err, store.ErrNotFound):
		if !op.Seat {
			return nil, fmt.Errorf("%w: appliance %s holds no seat on %s", store.ErrConflict, bd.Appliance, bd.Contract), nil
		}
		if op.Sequence != 0 {
			return nil, fmt.Errorf("%w: binding of %s is gone", store.ErrConflict, bd.Appliance), nil
		}
	case err != nil:
		return nil, nil, err
	default:
		if op.Seat != (old.Released != nil) {
			return nil, fmt.Errorf("%w: the seat of appliance %s changed meanwhile", store.ErrConflict, bd.Appliance), nil
		}
		if old.Sequence != op.Sequence {
			return nil, fmt.Errorf("%w: appliance %s sent sequence %d meanwhile", store.ErrConflict, bd.Appliance, old.Sequence), nil
		}
	}
	if op.Seat && c.Used >= c.Appliances {
		return nil, &store.NoSeatError{Contract: c.ID, Used: c.Used, Appliances: c.Appliances}, nil
	}
	if op.Freed != "" {
		if r.freedKey, r.freed = findFreed(tx, l.Contract, op.Freed); r.freed == nil || r.freed.Retaken != "" {
			return nil, fmt.Errorf("%w: freed seat %s was retaken meanwhile", store.ErrConflict, op.Freed), nil
		}
	}
	for _, id := range l.Supersedes {
		if op.Reissue {
			break // a stored license superseded its own, long ago
		}
		old, err := get[store.License](lics, []byte(id))
		if err != nil {
			return nil, fmt.Errorf("%w: superseded license %s: %w", store.ErrConflict, id, err), nil
		}
		if old.SupersededBy != "" || old.Released != nil {
			return nil, fmt.Errorf("%w: license %s is already superseded or released", store.ErrConflict, id), nil
		}
		r.superseded = append(r.superseded, old)
	}
	if op.History != nil {
		if refused, err := checkHistory(tx, op.History); refused != nil || err != nil {
			return nil, refused, err
		}
	}
	return r, nil, nil
}

func findFreed(tx *bbolt.Tx, contract, id string) (k []byte, f *store.FreedSeat) {
	each(tx.Bucket(bFreed), []byte(contract), func(key, v []byte) error {
		var s store.FreedSeat
		if json.Unmarshal(v, &s) == nil && s.ID == id {
			k, f = slices.Clone(key), &s
		}
		return nil
	})
	return k, f
}
