package dynamo

import (
	"context"
	"errors"
	"fmt"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

// Ranks of PutReport's conditions, in the order the bbolt store checks
// them. The latest report's comes last: it is the store's own, never a
// refusal.
const (
	rankReport = iota
	rankPeaks
	rankReportHistory
	rankLatest
)

// errLatestAhead: the appliance's latest report on the contract has a later
// until than the report written.
var errLatestAhead = errors.New("the appliance has a report with a later until")

// reportSK is the sort key of a report, which sorts a contract's reports by
// until, appliance and id.
func reportSK(r *store.Report) string {
	return pReport + store.UntilKey(r.Until) + "#" + r.Appliance + "#" + r.ID
}

func (s *Store) PutReport(ctx context.Context, op *store.PutReport) error {
	r := &op.Report
	if err := op.Check(); err != nil {
		return err
	}
	pk, sk := contractPK(r.Contract), reportSK(r)
	ri, err := record(pk, sk, "report", r)
	if err != nil {
		return err
	}
	byID := key(pk, pReportID+r.ID)
	byID[aKind], byID[aReport] = str("report-id"), str(sk)
	replay := conflict(rankReport, "report %s is stored for contract %s", r.ID, r.Contract)
	steps := []step{s.put(byID, absent, pkName, nil, replay), s.put(ri, absent, pkName, nil, replay)}
	if op.Peaks != nil {
		pi, err := record(pk, skPeaks, "peaks", op.Peaks)
		if err != nil {
			return err
		}
		pi[aVersion] = u64(op.Peaks.Version + 1)
		steps = append(steps, s.versioned(pi, op.Peaks.Version,
			conflict(rankPeaks, "the peaks of contract %s changed meanwhile (they are no longer at version %d)", r.Contract, op.Peaks.Version)))
	}
	if op.History != nil {
		op.History.Bound()
		hi, err := historyItem(op.History)
		if err != nil {
			return err
		}
		steps = append(steps, s.historyStep(op.History, hi, rankReportHistory))
	}
	seq, err := s.sequence(ctx, op.Entry.Contract, 1)
	if err != nil {
		return err
	}
	ei, err := entryItem(&op.Entry, seq)
	if err != nil {
		return err
	}
	steps = append(steps, s.put(ei, "", nil, nil, never))

	// The appliance's latest report moves to this one unless it has a later
	// until; of two with one until, the one received last is the latest.
	until := store.UntilKey(r.Until)
	li := key(pk, pLatest+r.Appliance)
	li[aKind], li[aReport], li[aUntil] = str("latest"), str(sk), str(until)
	latest := s.put(li, "attribute_not_exists(#pk) OR #until <= :until", map[string]string{"#pk": aPK, "#until": aUntil},
		item{":until": str(until)}, func(item) (int, error) { return rankLatest, errLatestAhead })
	err = s.transact(ctx, append(steps[:len(steps):len(steps)], latest))
	if errors.Is(err, errLatestAhead) {
		// It only ever moves to a later until, so it stays ahead of this
		// report: write the rest without it.
		err = s.transact(ctx, steps)
	}
	if err != nil {
		return err
	}
	op.Entry.ID = num(seq)
	if op.Peaks != nil {
		op.Peaks.Version++
	}
	if op.History != nil {
		op.History.Version++
	}
	return nil
}

func (s *Store) Report(ctx context.Context, contract, id string) (*store.Report, error) {
	return s.reportAt(ctx, contract, pReportID+id)
}

func (s *Store) LatestReport(ctx context.Context, contract, appliance string) (*store.Report, error) {
	return s.reportAt(ctx, contract, pLatest+appliance)
}

// reportAt reads the report the item at sk of a contract's partition
// points to.
func (s *Store) reportAt(ctx context.Context, contract, sk string) (*store.Report, error) {
	pk := contractPK(contract)
	at, err := s.get(ctx, pk, sk)
	if err != nil {
		return nil, err
	}
	it, err := s.get(ctx, pk, getS(at, aReport))
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("corrupt table %s: %s/%s names a report that is missing", s.table, pk, sk)
	}
	if err != nil {
		return nil, err
	}
	return decode[store.Report](it)
}

func (s *Store) Reports(ctx context.Context, contract, cursor string, limit int) ([]store.Report, string, error) {
	var next string
	items, err := s.pageWithin(ctx, contractPK(contract), contract, pReport, cursor, limit, store.ReportPageBytes, &next)
	if err != nil {
		return nil, "", err
	}
	out := make([]store.Report, 0, len(items))
	for _, it := range items {
		r, err := decode[store.Report](it)
		if err != nil {
			return nil, "", err
		}
		out = append(out, *r)
	}
	return out, next, nil
}

func (s *Store) Peaks(ctx context.Context, contract string) (*store.Peaks, error) {
	it, err := s.get(ctx, contractPK(contract), skPeaks)
	if errors.Is(err, store.ErrNotFound) {
		return &store.Peaks{Contract: contract, Limits: map[string]store.Peak{}}, nil
	}
	if err != nil {
		return nil, err
	}
	p, err := decode[store.Peaks](it)
	if err != nil {
		return nil, err
	}
	if p.Limits == nil {
		p.Limits = map[string]store.Peak{}
	}
	p.Version, err = versionOf(it)
	return p, err
}
