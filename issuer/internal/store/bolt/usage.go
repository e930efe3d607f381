package bolt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

// latestReport is what the latest_reports bucket keeps of an appliance's
// report with the latest until on a contract.
type latestReport struct {
	Report string    `json:"report"`
	Until  time.Time `json:"until"`
}

// peaksRecord is a Peaks as the peaks bucket keeps it, with its version.
type peaksRecord struct {
	store.Peaks
	Version uint64 `json:"version"`
}

// reportKey is the key of a report in the report_order bucket, which sorts
// a contract's reports by until, appliance and id.
func reportKey(r *store.Report) []byte {
	return key(r.Contract, store.UntilKey(r.Until), r.Appliance, r.ID)
}

func (s *Store) PutReport(ctx context.Context, op *store.PutReport) error {
	r := &op.Report
	if err := op.Check(); err != nil {
		return err
	}
	rj, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if op.History != nil {
		op.History.Bound()
	}
	err = s.batch(func(tx *bbolt.Tx) (error, error) {
		// Every condition first, in the order the DynamoDB store ranks
		// them: the report, the peaks, the history.
		reports := tx.Bucket(bReports)
		rk := key(r.Contract, r.ID)
		if reports.Get(rk) != nil {
			return fmt.Errorf("%w: report %s is stored for contract %s", store.ErrConflict, r.ID, r.Contract), nil
		}
		if op.Peaks != nil {
			if refused, err := checkPeaks(tx, op.Peaks); refused != nil || err != nil {
				return refused, err
			}
		}
		if op.History != nil {
			if refused, err := checkHistory(tx, op.History); refused != nil || err != nil {
				return refused, err
			}
		}
		latest := tx.Bucket(bLatestReports)
		lk := key(r.Contract, r.Appliance)
		old, err := get[latestReport](latest, lk)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}

		errs := []error{reports.Put(rk, rj), tx.Bucket(bReportOrder).Put(reportKey(r), []byte(r.ID))}
		// Of two reports with one until, the one received last is the
		// latest.
		if old == nil || !r.Until.Before(old.Until) {
			errs = append(errs, put(latest, lk, latestReport{r.ID, r.Until}))
		}
		if op.Peaks != nil {
			errs = append(errs, put(tx.Bucket(bPeaks), []byte(r.Contract), peaksRecord{*op.Peaks, op.Peaks.Version + 1}))
		}
		errs = append(errs, putHistory(tx, op.History), appendEntry(tx, &op.Entry))
		return nil, errors.Join(errs...)
	})
	if err == nil && op.Peaks != nil {
		op.Peaks.Version++
	}
	return wroteHistory(op.History, err)
}

// checkPeaks is the condition of a peaks write: the stored record is still
// at the version the issuer read (0: none is stored).
func checkPeaks(tx *bbolt.Tx, p *store.Peaks) (refused, err error) {
	old, err := getPeaks(tx, p.Contract)
	if err != nil {
		return nil, err
	}
	if old.Version != p.Version {
		return fmt.Errorf("%w: the peaks of contract %s changed meanwhile (version %d, not %d)", store.ErrConflict, p.Contract, old.Version, p.Version), nil
	}
	return nil, nil
}

func (s *Store) Report(ctx context.Context, contract, id string) (r *store.Report, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		r, err = get[store.Report](tx.Bucket(bReports), key(contract, id))
		return err
	})
	return r, err
}

func (s *Store) LatestReport(ctx context.Context, contract, appliance string) (r *store.Report, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		l, err := get[latestReport](tx.Bucket(bLatestReports), key(contract, appliance))
		if err != nil {
			return err
		}
		if r, err = get[store.Report](tx.Bucket(bReports), key(contract, l.Report)); err != nil {
			return fmt.Errorf("the latest report of appliance %s on %s: %w", appliance, contract, err)
		}
		return nil
	})
	return r, err
}

func (s *Store) Reports(ctx context.Context, contract, cursor string, limit int) (out []store.Report, next string, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		reports := tx.Bucket(bReports)
		size := 0
		return pageFit(tx.Bucket(bReportOrder), append([]byte(contract), 0), cursor, limit, &next, func(id []byte) (bool, error) {
			v := reports.Get(key(contract, string(id)))
			if v == nil {
				return false, fmt.Errorf("corrupt database: report %s of %s is listed but missing", id, contract)
			}
			if len(out) > 0 && size+len(v) > store.ReportPageBytes {
				return false, nil
			}
			var r store.Report
			if err := json.Unmarshal(v, &r); err != nil {
				return false, fmt.Errorf("corrupt report %s of %s: %w", id, contract, err)
			}
			out, size = append(out, r), size+len(v)
			return true, nil
		})
	})
	return out, next, err
}

func (s *Store) Peaks(ctx context.Context, contract string) (p *store.Peaks, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		p, err = getPeaks(tx, contract)
		return err
	})
	return p, err
}

// getPeaks reads a contract's peaks, empty ones at version 0 when none are
// stored.
func getPeaks(tx *bbolt.Tx, contract string) (*store.Peaks, error) {
	r, err := get[peaksRecord](tx.Bucket(bPeaks), []byte(contract))
	if errors.Is(err, store.ErrNotFound) {
		return &store.Peaks{Contract: contract, Limits: map[string]store.Peak{}}, nil
	}
	if err != nil {
		return nil, err
	}
	p := r.Peaks
	p.Version = r.Version
	if p.Limits == nil {
		p.Limits = map[string]store.Peak{}
	}
	return &p, nil
}
