package dynamo

import (
	"context"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

func (s *Store) History(ctx context.Context, appliance string) (*store.History, error) {
	it, err := s.get(ctx, appliancePK(appliance), skHistory)
	if err != nil {
		return nil, err
	}
	return historyOf(it)
}

func (s *Store) PutHistory(ctx context.Context, h *store.History, e *store.Entry) error {
	h.Bound()
	hi, err := historyItem(h)
	if err != nil {
		return err
	}
	steps := []step{s.historyStep(h, hi, 0)}
	var seq uint64
	if e != nil {
		if seq, err = s.sequence(ctx, e.Contract, 1); err != nil {
			return err
		}
		ei, err := entryItem(e, seq)
		if err != nil {
			return err
		}
		steps = append(steps, s.put(ei, "", nil, nil, never))
	}
	if err := s.transact(ctx, steps); err != nil {
		return err
	}
	if e != nil {
		e.ID = num(seq)
	}
	h.Version++
	return nil
}

// historyStep puts an appliance's history (hi, made of h) if the stored one
// is still at h.Version, absent for version 0; rank is the condition's rank
// in its transaction.
func (s *Store) historyStep(h *store.History, hi item, rank int) step {
	return s.versioned(hi, h.Version, conflict(rank, "the history of appliance %s changed meanwhile (it is no longer at version %d)", h.Appliance, h.Version))
}

// historyItem makes the item of h at its next version.
func historyItem(h *store.History) (item, error) {
	it, err := record(appliancePK(h.Appliance), skHistory, "history", h)
	if err != nil {
		return nil, err
	}
	it[aVersion] = u64(h.Version + 1)
	return it, nil
}

func historyOf(it item) (*store.History, error) {
	h, err := decode[store.History](it)
	if err != nil {
		return nil, err
	}
	h.Version, err = versionOf(it)
	return h, err
}
