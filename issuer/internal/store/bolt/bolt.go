// Package bolt is the issuer's embedded store: every record in one bbolt
// file (TENURE_STORE=bolt:PATH), the local default.
//
// Each atomic operation of [store.Store] is one function run inside a bbolt
// write transaction. Writes are committed in groups: one writer goroutine
// runs every write that arrived while the previous commit was on disk in one
// transaction, so concurrent activations share its fsyncs, and a lone write
// commits at once, with no batching delay. Every write function checks all
// its conditions before it writes, and reports a failed condition through its
// own result rather than an error, so one refused activation never rolls back
// the others in its group. Each caller returns only after its group is
// durable.
package bolt

import (
	"errors"
	"fmt"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

// Buckets. Composite keys join their parts with a zero byte, which no id
// contains.
var (
	bContracts      = []byte("contracts")          // id → Contract
	bTokens         = []byte("tokens")             // token hash → contract id
	bRevisions      = []byte("revisions")          // contract, number → Revision
	bBindings       = []byte("bindings")           // contract, appliance → Binding
	bFreed          = []byte("freed")              // contract, seq → FreedSeat
	bLicenses       = []byte("licenses")           // id → License
	bContractLics   = []byte("contract_lics")      // contract, seq → license id
	bApplianceLics  = []byte("appliance_lics")     // contract, appliance, seq → license id
	bIdempotency    = []byte("idempotency")        // contract, key → Idempotency
	bLedger         = []byte("ledger")             // contract, seq → Entry
	bHistories      = []byte("histories")          // appliance → History, with its version
	bApplianceBinds = []byte("appliance_bindings") // appliance, contract → contract id
	bIssuer         = []byte("issuer")             // "clock" → Clock, with its version
	bContractTokens = []byte("contract_tokens")    // contract id → its token hash
	bAnomalies      = []byte("anomalies")          // anomaly id → Anomaly, with its count
	bContractAnoms  = []byte("contract_anomalies") // contract, anomaly id → anomaly id
	bReports        = []byte("reports")            // contract, report id → Report
	bReportOrder    = []byte("report_order")       // contract, until, appliance, report id → report id
	bLatestReports  = []byte("latest_reports")     // contract, appliance → latestReport
	bPeaks          = []byte("peaks")              // contract → Peaks, with its version
	allBuckets      = [][]byte{bContracts, bTokens, bRevisions, bBindings, bFreed, bLicenses, bContractLics, bApplianceLics, bIdempotency, bLedger, bHistories, bApplianceBinds, bIssuer, bContractTokens, bAnomalies, bContractAnoms,
		bReports, bReportOrder, bLatestReports, bPeaks}
	errOpenDatabase = errors.New("failed to open the issuer database")
)

// Store is a [store.Store] in one bbolt file.
type Store struct {
	db        *bbolt.DB
	writes    chan *write
	closing   chan struct{}
	stopped   chan struct{}
	linger    time.Duration // see [linger]
	closeOnce sync.Once
}

// maxGroup bounds the writes committed together, so one transaction stays
// small enough to hold in memory however many clients wait.
const maxGroup = 256

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database at path. Another process
// holding the file makes Open fail after a few seconds rather than wait for
// ever.
func Open(path string) (s *Store, err error) {
	if err := checkFile(path); err != nil {
		return nil, err
	}
	// bbolt panics on some damage it meets while reading pages.
	defer func() {
		if p := recover(); p != nil {
			s, err = nil, damaged(path, fmt.Sprint(p))
		}
	}()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("%w %s (is another tenure-issuer using it?): %w", errOpenDatabase, path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		// A file from before the appliance index gets it from its bindings.
		index := tx.Bucket(bBindings) != nil && tx.Bucket(bApplianceBinds) == nil
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if index {
			return indexBindings(tx)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%w %s: %w", errOpenDatabase, path, err)
	}
	s = &Store{db: db, writes: make(chan *write), closing: make(chan struct{}), stopped: make(chan struct{}), linger: linger}
	go s.writer()
	return s, nil
}

// Close waits for the writes in flight, then closes the database file.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.closing) })
	<-s.stopped
	return s.db.Close()
}
