package dynamo

import (
	"context"

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
	c.Version, err = versionOf(it)
	return c, err
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
	if err := s.transact(ctx, []step{s.versioned(it, c.Version, refuse)}); err != nil {
		return err
	}
	c.Version++
	return nil
}
