package dynamo

import (
	"context"
	"fmt"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

func (s *Store) Contract(ctx context.Context, id string) (*store.Contract, error) {
	it, err := s.get(ctx, contractPK(id), skContract)
	if err != nil {
		return nil, err
	}
	return contractOf(it)
}

func (s *Store) Revisions(ctx context.Context, id string) ([]store.Revision, error) {
	return queryAll(ctx, s, contractPK(id), pRevision, decode[store.Revision])
}

func (s *Store) TokenContract(ctx context.Context, tokenHash string) (string, error) {
	it, err := s.get(ctx, tokenPK(tokenHash), skToken)
	if err != nil {
		return "", err
	}
	return getS(it, aContract), nil
}

// contractItems makes the items every contract write puts: the contract,
// its revision and the ledger row, numbered by the contract's sequence.
func (s *Store) contractItems(ctx context.Context, c *store.Contract, rev *store.Revision, e *store.Entry) (ci, ri, ei item, seq uint64, err error) {
	if seq, err = s.sequence(ctx, e.Contract, 1); err != nil {
		return nil, nil, nil, 0, err
	}
	if ci, err = contractItem(c); err != nil {
		return nil, nil, nil, 0, err
	}
	if ri, err = record(contractPK(rev.Contract), pRevision+num(uint64(rev.Number)), "revision", rev); err != nil {
		return nil, nil, nil, 0, err
	}
	if ei, err = entryItem(e, seq); err != nil {
		return nil, nil, nil, 0, err
	}
	return ci, ri, ei, seq, nil
}

func (s *Store) CreateContract(ctx context.Context, c *store.Contract, tokenHash string, rev *store.Revision, e *store.Entry) error {
	ci, ri, ei, seq, err := s.contractItems(ctx, c, rev, e)
	if err != nil {
		return err
	}
	ti := key(tokenPK(tokenHash), skToken)
	ti[aKind], ti[aContract] = str("token"), str(c.ID)
	err = s.transact(ctx, []step{
		s.put(ci, absent, pkName, nil, conflict(0, "contract %s exists", c.ID)),
		s.put(ti, absent, pkName, nil, conflict(1, "token in use")),
		s.put(ri, "", nil, nil, never),
		s.put(ei, "", nil, nil, never),
		s.put(tokenOfItem(c.ID, tokenHash), "", nil, nil, never),
		s.put(listedItem(c.ID), "", nil, nil, never),
	})
	if err == nil {
		e.ID = num(seq)
	}
	return err
}

func (s *Store) UpdateContract(ctx context.Context, c *store.Contract, rev *store.Revision, e *store.Entry) error {
	ci, ri, ei, seq, err := s.contractItems(ctx, c, rev, e)
	if err != nil {
		return err
	}
	err = s.transact(ctx, []step{
		// used stays as it is: the store keeps its own count.
		s.update(key(contractPK(c.ID), skContract), "SET #doc = :doc, #seats = :seats, #rev = :rev",
			"attribute_exists(#pk) AND #rev = :prev",
			map[string]string{"#pk": aPK, "#doc": aDoc, "#seats": aSeats, "#rev": aRevision},
			item{":doc": ci[aDoc], ":seats": ci[aSeats], ":rev": ci[aRevision], ":prev": n64(int64(c.Revision - 1))},
			func(old item) (int, error) {
				if old == nil {
					return 0, store.ErrNotFound
				}
				at, _ := getN(old, aRevision)
				return 1, fmt.Errorf("%w: contract %s is at revision %d, not %d", store.ErrConflict, c.ID, at, c.Revision-1)
			}),
		s.put(ri, "", nil, nil, never),
		s.put(ei, "", nil, nil, never),
	})
	if err == nil {
		e.ID = num(seq)
	}
	return err
}
