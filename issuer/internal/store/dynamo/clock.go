package dynamo

import (
	"context"
	"fmt"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

func (s *Store) Clock(ctx context.Context) (*store.Clock, error) {
	it, err := s.get(ctx, issuerPK, skClock)
	if err != nil {
		return nil, err
	}
	c, err := decode[store.Clock](it)
	if err != nil {
		return nil, err
	}
	v, err := getN(it, aVersion)
	if err != nil {
		return nil, err
	}
	if v < 1 {
		return nil, fmt.Errorf("corrupt item %s/%s: version %d", issuerPK, skClock, v)
	}
	c.Version = uint64(v)
	return c, nil
}

// PutClock puts the clock at its next version if the stored one is at
// c.Version (absent for 0), as historyStep puts a history.
func (s *Store) PutClock(ctx context.Context, c *store.Clock) error {
	it, err := record(issuerPK, skClock, "clock", c)
	if err != nil {
		return err
	}
	it[aVersion] = u64(c.Version + 1)
	refuse := conflict(0, "the issuer's clock record changed meanwhile (it is no longer at version %d)", c.Version)
	st := s.put(it, absent, pkName, nil, refuse)
	if c.Version > 0 {
		st = s.put(it, "#version = :version", map[string]string{"#version": aVersion}, item{":version": u64(c.Version)}, refuse)
	}
	if err := s.transact(ctx, []step{st}); err != nil {
		return err
	}
	c.Version++
	return nil
}
