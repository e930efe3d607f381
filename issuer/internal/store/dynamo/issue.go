package dynamo

import (
	"context"
	"fmt"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

// Ranks of Issue's conditions, in the order the bbolt store checks them.
const (
	rankIdempotency = iota
	rankLicense
	rankContract
	rankBinding
	rankSeat
	rankFreed
	rankSupersede
	rankHistory
)

func (s *Store) Issue(ctx context.Context, op *store.Issue) error {
	l, bd := &op.License, &op.Binding
	var licSeq, logSeq uint64
	var err error
	if l.Contract == op.Entry.Contract {
		licSeq, err = s.sequence(ctx, l.Contract, 2)
		logSeq = licSeq + 1
	} else if licSeq, err = s.sequence(ctx, l.Contract, 1); err == nil {
		logSeq, err = s.sequence(ctx, op.Entry.Contract, 1)
	}
	if err != nil {
		return err
	}

	idem, err := record(contractPK(op.Idempotency.Contract), pIdem+op.Idempotency.Key, "request", op.Idempotency)
	if err != nil {
		return err
	}
	li, err := licenseItem(l)
	if err != nil {
		return err
	}
	bi, err := bindingItem(bd)
	if err != nil {
		return err
	}
	ei, err := entryItem(&op.Entry, logSeq)
	if err != nil {
		return err
	}
	licenseStep := s.put(li, absent, pkName, nil, conflict(rankLicense, "license %s exists", l.ID))
	if op.Reissue {
		// The stored license is the answer: it must be there, and is not
		// written again.
		licenseStep = s.check(key(licensePK(l.ID), skLicense), "attribute_exists(#pk)", pkName,
			conflict(rankLicense, "reissued license %s is missing", l.ID))
	}
	steps := []step{
		s.put(idem, absent, pkName, nil, conflict(rankIdempotency, "request already activated on contract %s", op.Idempotency.Contract)),
		licenseStep,
		s.seatStep(op),
		s.bindingStep(op, bi),
	}
	if op.Freed != "" {
		steps = append(steps, s.retakeStep(op))
	}
	if !op.Reissue {
		steps = append(steps, s.supersedeSteps(l)...)
	}
	if op.History != nil {
		op.History.Bound()
		hi, err := historyItem(op.History)
		if err != nil {
			return err
		}
		steps = append(steps, s.historyStep(op.History, hi, rankHistory))
	}

	idx := key(contractPK(l.Contract), pIssued+num(licSeq))
	idx[aKind], idx[aLicense] = str("issued"), str(l.ID)
	aidx := key(contractPK(l.Contract), applIssuedPrefix(l.Appliance)+num(licSeq))
	aidx[aKind], aidx[aLicense], aidx[aAppliance] = str("issued"), str(l.ID), str(l.Appliance)
	if !op.Reissue {
		steps = append(steps, s.put(idx, "", nil, nil, never), s.put(aidx, "", nil, nil, never))
	}
	steps = append(steps,
		s.put(ei, "", nil, nil, never),
		s.put(applianceBindingItem(bd), "", nil, nil, never),
	)
	if err := s.transact(ctx, steps); err != nil {
		return err
	}
	op.Entry.ID = num(logSeq)
	if op.History != nil {
		op.History.Version++
	}
	return nil
}

// seatStep takes a seat on the contract when the activation needs one, if
// one is free; otherwise it checks the contract exists.
func (s *Store) seatStep(op *store.Issue) step {
	l := &op.License
	ck := key(contractPK(l.Contract), skContract)
	if op.Seat {
		return s.update(ck, "SET #used = #used + :one", "attribute_exists(#pk) AND #used < #seats",
			map[string]string{"#pk": aPK, "#used": aUsed, "#seats": aSeats}, item{":one": n64(1)},
			func(old item) (int, error) {
				if old == nil {
					return rankContract, store.ErrNotFound
				}
				used, _ := getN(old, aUsed)
				seats, _ := getN(old, aSeats)
				return rankSeat, &store.NoSeatError{Contract: l.Contract, Used: int(used), Appliances: int(seats)}
			})
	}
	return s.check(ck, "attribute_exists(#pk)", pkName,
		func(item) (int, error) { return rankContract, store.ErrNotFound })
}

// bindingStep puts the binding if it is as the issuer read it: absent or
// released when taking a seat, held otherwise, and at the sequence it read.
func (s *Store) bindingStep(op *store.Issue, bi item) step {
	bd := &op.Binding
	names := map[string]string{"#pk": aPK, "#seq": aSeq, "#release": aRelease}
	values := item{":prev": u64(op.Sequence)}
	var cond string
	switch {
	case op.Seat && op.Sequence == 0:
		cond = "attribute_not_exists(#pk) OR (attribute_exists(#release) AND #seq = :prev)"
	case op.Seat:
		// A missing item fails this condition too.
		cond = "attribute_exists(#release) AND #seq = :prev"
		delete(names, "#pk")
	default:
		cond = "attribute_exists(#pk) AND attribute_not_exists(#release) AND #seq = :prev"
	}
	return s.put(bi, cond, names, values, func(old item) (int, error) {
		if old == nil {
			if !op.Seat {
				return rankBinding, fmt.Errorf("%w: appliance %s holds no seat on %s", store.ErrConflict, bd.Appliance, bd.Contract)
			}
			return rankBinding, fmt.Errorf("%w: binding of %s is gone", store.ErrConflict, bd.Appliance)
		}
		if _, released := old[aRelease]; op.Seat != released {
			return rankBinding, fmt.Errorf("%w: the seat of appliance %s changed meanwhile", store.ErrConflict, bd.Appliance)
		}
		seq, _ := getN(old, aSeq)
		return rankBinding, fmt.Errorf("%w: appliance %s sent sequence %d meanwhile", store.ErrConflict, bd.Appliance, seq)
	})
}

// retakeStep marks the freed seat the activation retakes, if no other has.
func (s *Store) retakeStep(op *store.Issue) step {
	retaken := conflict(rankFreed, "freed seat %s was retaken meanwhile", op.Freed)
	sk, ok := freedSK(op.Freed)
	if !ok {
		// No freed seat has this id: a key no item has fails the check.
		sk = pFreed + "?" + op.Freed
	}
	return s.update(key(contractPK(op.License.Contract), sk), "SET #retaken = :by",
		"attribute_exists(#pk) AND #id = :id AND attribute_not_exists(#retaken)",
		map[string]string{"#pk": aPK, "#id": aID, "#retaken": aRetaken},
		item{":id": str(op.Freed), ":by": str(op.Binding.Appliance)}, retaken)
}

// supersedeSteps mark each license the new one supersedes, if it is
// neither superseded nor released.
func (s *Store) supersedeSteps(l *store.License) []step {
	var steps []step
	seen := map[string]bool{}
	for _, id := range l.Supersedes {
		if seen[id] {
			continue
		}
		seen[id] = true
		refuse := func(old item) (int, error) {
			if old == nil {
				return rankSupersede, fmt.Errorf("%w: superseded license %s: %w", store.ErrConflict, id, store.ErrNotFound)
			}
			return rankSupersede, fmt.Errorf("%w: license %s is already superseded or released", store.ErrConflict, id)
		}
		if id == l.ID {
			// The license cannot supersede itself: it does not exist yet.
			steps = append(steps, s.check(key(licensePK(id), "?"), "attribute_exists(#pk)", pkName, refuse))
			continue
		}
		steps = append(steps, s.update(key(licensePK(id), skLicense), "SET #by = :by",
			"attribute_exists(#pk) AND attribute_not_exists(#by) AND attribute_not_exists(#released)",
			map[string]string{"#pk": aPK, "#by": aSupersededBy, "#released": aReleased}, item{":by": str(l.ID)}, refuse))
	}
	return steps
}
