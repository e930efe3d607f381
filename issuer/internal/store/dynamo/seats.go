package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

func (s *Store) Binding(ctx context.Context, contract, appliance string) (*store.Binding, error) {
	it, err := s.get(ctx, contractPK(contract), pBinding+appliance)
	if err != nil {
		return nil, err
	}
	return bindingOf(it)
}

func (s *Store) Bindings(ctx context.Context, contract string) ([]store.Binding, error) {
	return queryAll(ctx, s, contractPK(contract), pBinding, bindingOf)
}

func (s *Store) ApplianceBindings(ctx context.Context, appliance string) ([]store.Binding, error) {
	var contracts []string
	err := s.query(ctx, appliancePK(appliance), pBinding, func(it item) error {
		contracts = append(contracts, getS(it, aContract))
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]store.Binding, 0, len(contracts))
	for _, c := range contracts {
		b, err := s.Binding(ctx, c, appliance)
		if err != nil {
			return nil, fmt.Errorf("appliance %s's binding to %s: %w", appliance, c, err)
		}
		out = append(out, *b)
	}
	return out, nil
}

// applianceBindingItem indexes a binding under its appliance.
func applianceBindingItem(b *store.Binding) item {
	it := key(appliancePK(b.Appliance), pBinding+b.Contract)
	it[aKind], it[aContract] = str("bound"), str(b.Contract)
	return it
}

func (s *Store) FreedSeats(ctx context.Context, contract string) ([]store.FreedSeat, error) {
	out, err := queryAll(ctx, s, contractPK(contract), pFreed, freedOf)
	// A retaken seat is kept as a record of the retake, and is no longer free.
	return slices.DeleteFunc(out, func(f store.FreedSeat) bool { return f.Retaken != "" }), err
}

// Ranks of Free's conditions.
const (
	rankFreeBinding = iota
	rankFreeContract
	rankFreeLicense
	rankFreeHistory
)

func (s *Store) Free(ctx context.Context, op *store.Free) error {
	seq, err := s.sequence(ctx, op.Contract, 2)
	if err != nil {
		return err
	}
	freedSeq, logSeq := seq, seq+1
	at := op.At
	rel, err := json.Marshal(release{&at, op.Sequence, op.Receipt, op.Licenses})
	if err != nil {
		return err
	}
	seat := op.Seat(freedSeq)
	fi, err := freedItem(&seat, freedSeq)
	if err != nil {
		return err
	}
	ei, err := entryItem(&op.Entry, logSeq)
	if err != nil {
		return err
	}

	free := s.update(key(contractPK(op.Contract), pBinding+op.Appliance), "SET #release = :release",
		"attribute_exists(#pk) AND attribute_not_exists(#release)",
		map[string]string{"#pk": aPK, "#release": aRelease}, item{":release": str(string(rel))},
		func(old item) (int, error) {
			if old == nil {
				return rankFreeBinding, fmt.Errorf("appliance %s on contract %s: %w", op.Appliance, op.Contract, store.ErrNotFound)
			}
			return rankFreeBinding, fmt.Errorf("%w: the seat of appliance %s is already free", store.ErrConflict, op.Appliance)
		})
	rest := append([]step{s.put(fi, "", nil, nil, never)}, s.releaseSteps(op)...)
	rest = append(rest, s.put(ei, "", nil, nil, never))
	if op.History != nil {
		op.History.Bound()
		hi, err := historyItem(op.History)
		if err != nil {
			return err
		}
		rest = append(rest, s.historyStep(op.History, hi, rankFreeHistory))
	}

	// floor: the contract counts no seat taken, so the seat count stays at
	// zero rather than going below it.
	for floor := false; ; floor = true {
		err := s.transact(ctx, append([]step{free, s.unseatStep(op, floor)}, rest...))
		if errors.Is(err, errFloor) && !floor {
			continue
		}
		if err == nil {
			op.Entry.ID = num(logSeq)
			if op.History != nil {
				op.History.Version++
			}
		}
		return err
	}
}

// unseatStep gives the seat back to the contract; at the floor, when the
// contract counts none taken, it only checks the contract exists.
func (s *Store) unseatStep(op *store.Free, floor bool) step {
	ck := key(contractPK(op.Contract), skContract)
	noContract := func(old item) (int, error) {
		if old == nil {
			return rankFreeContract, store.ErrNotFound
		}
		return rankFreeContract, errFloor
	}
	if floor {
		return s.check(ck, "attribute_exists(#pk)", pkName, noContract)
	}
	return s.update(ck, "SET #used = #used - :one", "attribute_exists(#pk) AND #used > :zero",
		map[string]string{"#pk": aPK, "#used": aUsed}, item{":one": n64(1), ":zero": n64(0)}, noContract)
}

// releaseSteps mark each license of the appliance on the contract released,
// keeping the first release time of one released before.
func (s *Store) releaseSteps(op *store.Free) []step {
	var steps []step
	seen := map[string]bool{}
	for _, id := range op.Licenses {
		if seen[id] {
			continue
		}
		seen[id] = true
		steps = append(steps, s.update(key(licensePK(id), skLicense), "SET #released = if_not_exists(#released, :at)",
			"attribute_exists(#pk) AND #contract = :contract AND #appliance = :appliance",
			map[string]string{"#pk": aPK, "#released": aReleased, "#contract": aContract, "#appliance": aAppliance},
			item{":at": str(formatTime(op.At)), ":contract": str(op.Contract), ":appliance": str(op.Appliance)},
			func(old item) (int, error) {
				if old == nil {
					return rankFreeLicense, fmt.Errorf("%w: license %s: %w", store.ErrConflict, id, store.ErrNotFound)
				}
				return rankFreeLicense, fmt.Errorf("%w: license %s is not %s's on %s", store.ErrConflict, id, op.Appliance, op.Contract)
			}))
	}
	return steps
}

var errFloor = errors.New("no seat counted as taken")
