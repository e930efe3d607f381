package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

func (s *Store) RotateToken(ctx context.Context, contract, tokenHash string, e *store.Entry) error {
	return s.batch(func(tx *bbolt.Tx) (error, error) {
		if tx.Bucket(bContracts).Get([]byte(contract)) == nil {
			return fmt.Errorf("contract %s: %w", contract, store.ErrNotFound), nil
		}
		tokens := tx.Bucket(bTokens)
		if tokens.Get([]byte(tokenHash)) != nil {
			return fmt.Errorf("%w: token in use", store.ErrConflict), nil
		}
		old, err := tokenHashes(tx, contract)
		if err != nil {
			return nil, err
		}
		var errs []error
		for _, h := range old {
			errs = append(errs, tokens.Delete(h))
		}
		errs = append(errs,
			tokens.Put([]byte(tokenHash), []byte(contract)),
			tx.Bucket(bContractTokens).Put([]byte(contract), []byte(tokenHash)),
			appendEntry(tx, e))
		return nil, errors.Join(errs...)
	})
}

// tokenHashes returns the hashes of a contract's tokens: the one its record
// names, or, for a contract written before contracts named their token
// (which never had its token rotated), every token of the contract.
func tokenHashes(tx *bbolt.Tx, contract string) ([][]byte, error) {
	if h := tx.Bucket(bContractTokens).Get([]byte(contract)); h != nil {
		return [][]byte{bytes.Clone(h)}, nil
	}
	var out [][]byte
	err := tx.Bucket(bTokens).ForEach(func(k, v []byte) error {
		if string(v) == contract {
			out = append(out, bytes.Clone(k))
		}
		return nil
	})
	return out, err
}
