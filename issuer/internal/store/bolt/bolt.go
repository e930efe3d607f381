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
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

// Buckets. Composite keys join their parts with a zero byte, which no id
// contains.
var (
	bContracts      = []byte("contracts")      // id → Contract
	bTokens         = []byte("tokens")         // token hash → contract id
	bRevisions      = []byte("revisions")      // contract, number → Revision
	bBindings       = []byte("bindings")       // contract, appliance → Binding
	bFreed          = []byte("freed")          // contract, seq → FreedSeat
	bLicenses       = []byte("licenses")       // id → License
	bContractLics   = []byte("contract_lics")  // contract, seq → license id
	bApplianceLics  = []byte("appliance_lics") // contract, appliance, seq → license id
	bIdempotency    = []byte("idempotency")    // contract, key → Idempotency
	bLedger         = []byte("ledger")         // contract, seq → Entry
	allBuckets      = [][]byte{bContracts, bTokens, bRevisions, bBindings, bFreed, bLicenses, bContractLics, bApplianceLics, bIdempotency, bLedger}
	errOpenDatabase = errors.New("failed to open the issuer database")
)

// Store is a [store.Store] in one bbolt file.
type Store struct {
	db        *bbolt.DB
	writes    chan *write
	closing   chan struct{}
	stopped   chan struct{}
	closeOnce sync.Once
}

// maxGroup bounds the writes committed together, so one transaction stays
// small enough to hold in memory however many clients wait.
const maxGroup = 256

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database at path. Another process
// holding the file makes Open fail after a few seconds rather than wait for
// ever.
func Open(path string) (*Store, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("%w %s (is another tenure-issuer using it?): %w", errOpenDatabase, path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%w %s: %w", errOpenDatabase, path, err)
	}
	s := &Store{db: db, writes: make(chan *write), closing: make(chan struct{}), stopped: make(chan struct{})}
	go s.writer()
	return s, nil
}

// Close waits for the writes in flight, then closes the database file.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.closing) })
	<-s.stopped
	return s.db.Close()
}

func key(parts ...string) []byte {
	var b []byte
	for i, p := range parts {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, p...)
	}
	return b
}

// seqKey appends a big-endian sequence so keys sort in insertion order.
func seqKey(prefix []byte, seq uint64) []byte {
	k := append(append(slices.Clone(prefix), 0), make([]byte, 8)...)
	binary.BigEndian.PutUint64(k[len(k)-8:], seq)
	return k
}

func get[T any](b *bbolt.Bucket, k []byte) (*T, error) {
	v := b.Get(k)
	if v == nil {
		return nil, store.ErrNotFound
	}
	var out T
	if err := json.Unmarshal(v, &out); err != nil {
		return nil, fmt.Errorf("corrupt record %q: %w", k, err)
	}
	return &out, nil
}

func put(b *bbolt.Bucket, k []byte, v any) error {
	j, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(k, j)
}

// each calls fn for every value under prefix (a composite key's leading
// parts) in key order.
func each(b *bbolt.Bucket, prefix []byte, fn func(k, v []byte) error) error {
	prefix = append(slices.Clone(prefix), 0)
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) view(fn func(tx *bbolt.Tx) error) error { return s.db.View(fn) }

// A write is one write function waiting for the commit of its group.
type write struct {
	fn     func(tx *bbolt.Tx) (result error, err error)
	result error
	done   chan error // the write's failure, or nil once its group is durable
}

// batch runs fn in a write transaction shared with the writes that arrive
// meanwhile, and returns once it is committed. fn returns its refusal through
// result, and an error only for a failure of the database itself.
func (s *Store) batch(fn func(tx *bbolt.Tx) (result error, err error)) error {
	w := &write{fn: fn, done: make(chan error, 1)}
	select {
	case s.writes <- w:
	case <-s.closing:
		return errors.New("failed to write to the issuer database: it is closed")
	}
	if err := <-w.done; err != nil {
		return fmt.Errorf("failed to write to the issuer database: %w", err)
	}
	return w.result
}

// writer commits the writes in groups until the store closes: it takes
// every write waiting when the previous commit ends.
func (s *Store) writer() {
	defer close(s.stopped)
	group := make([]*write, 0, maxGroup)
	for {
		select {
		case w := <-s.writes:
			group = append(group[:0], w)
		case <-s.closing:
			return
		}
	more:
		for len(group) < maxGroup {
			select {
			case w := <-s.writes:
				group = append(group, w)
			default:
				break more
			}
		}
		s.commit(group)
		clear(group)
	}
}

// commit runs a group in one transaction. A write that fails gets its
// error, and the others run again without it in a new transaction, as
// bbolt's own Batch does.
func (s *Store) commit(group []*write) {
	for len(group) > 0 {
		failed := -1
		err := s.db.Update(func(tx *bbolt.Tx) error {
			for i, w := range group {
				var err error
				if w.result, err = call(w.fn, tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			for _, w := range group {
				w.done <- err
			}
			return
		}
		group[failed].done <- err
		group = slices.Delete(group, failed, failed+1)
	}
}

// call runs a write function, turning a panic into its error so that it
// fails alone and the writer goes on.
func call(fn func(tx *bbolt.Tx) (error, error), tx *bbolt.Tx) (result, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in a write: %v", p)
		}
	}()
	return fn(tx)
}

func (s *Store) CreateContract(ctx context.Context, c *store.Contract, tokenHash string, rev *store.Revision, e *store.Entry) error {
	return s.batch(func(tx *bbolt.Tx) (error, error) {
		b := tx.Bucket(bContracts)
		if b.Get([]byte(c.ID)) != nil {
			return fmt.Errorf("%w: contract %s exists", store.ErrConflict, c.ID), nil
		}
		if tx.Bucket(bTokens).Get([]byte(tokenHash)) != nil {
			return fmt.Errorf("%w: token in use", store.ErrConflict), nil
		}
		rec := *c
		rec.Used = 0
		return nil, errors.Join(
			put(b, []byte(c.ID), rec),
			tx.Bucket(bTokens).Put([]byte(tokenHash), []byte(c.ID)),
			putRevision(tx, rev),
			appendEntry(tx, e),
		)
	})
}

func (s *Store) UpdateContract(ctx context.Context, c *store.Contract, rev *store.Revision, e *store.Entry) error {
	return s.batch(func(tx *bbolt.Tx) (error, error) {
		b := tx.Bucket(bContracts)
		old, err := get[store.Contract](b, []byte(c.ID))
		if err != nil {
			return err, nil
		}
		if old.Revision != c.Revision-1 {
			return fmt.Errorf("%w: contract %s is at revision %d, not %d", store.ErrConflict, c.ID, old.Revision, c.Revision-1), nil
		}
		rec := *c
		rec.Used = old.Used
		return nil, errors.Join(put(b, []byte(c.ID), rec), putRevision(tx, rev), appendEntry(tx, e))
	})
}

func putRevision(tx *bbolt.Tx, rev *store.Revision) error {
	return put(tx.Bucket(bRevisions), seqKey([]byte(rev.Contract), uint64(rev.Number)), rev)
}

func (s *Store) Contract(ctx context.Context, id string) (c *store.Contract, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		c, err = get[store.Contract](tx.Bucket(bContracts), []byte(id))
		return err
	})
	return c, err
}

func (s *Store) Revisions(ctx context.Context, id string) (out []store.Revision, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		return each(tx.Bucket(bRevisions), []byte(id), func(k, v []byte) error {
			var r store.Revision
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			out = append(out, r)
			return nil
		})
	})
	return out, err
}

func (s *Store) TokenContract(ctx context.Context, tokenHash string) (id string, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bTokens).Get([]byte(tokenHash))
		if v == nil {
			return store.ErrNotFound
		}
		id = string(v)
		return nil
	})
	return id, err
}

func (s *Store) Binding(ctx context.Context, contract, appliance string) (b *store.Binding, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		b, err = get[store.Binding](tx.Bucket(bBindings), key(contract, appliance))
		return err
	})
	return b, err
}

func (s *Store) Bindings(ctx context.Context, contract string) (out []store.Binding, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		return each(tx.Bucket(bBindings), []byte(contract), func(k, v []byte) error {
			var b store.Binding
			if err := json.Unmarshal(v, &b); err != nil {
				return err
			}
			out = append(out, b)
			return nil
		})
	})
	return out, err
}

func (s *Store) FreedSeats(ctx context.Context, contract string) (out []store.FreedSeat, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		return each(tx.Bucket(bFreed), []byte(contract), func(k, v []byte) error {
			var f store.FreedSeat
			if err := json.Unmarshal(v, &f); err != nil {
				return err
			}
			if f.Retaken == "" {
				out = append(out, f)
			}
			return nil
		})
	})
	return out, err
}

func (s *Store) License(ctx context.Context, id string) (l *store.License, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		l, err = get[store.License](tx.Bucket(bLicenses), []byte(id))
		return err
	})
	return l, err
}

func (s *Store) ApplianceLicenses(ctx context.Context, contract, appliance string) (out []store.License, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		lics := tx.Bucket(bLicenses)
		return each(tx.Bucket(bApplianceLics), key(contract, appliance), func(k, v []byte) error {
			l, err := get[store.License](lics, v)
			if err != nil {
				return err
			}
			out = append(out, *l)
			return nil
		})
	})
	return out, err
}

func (s *Store) Licenses(ctx context.Context, contract, cursor string, limit int) (out []store.License, next string, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		lics := tx.Bucket(bLicenses)
		return page(tx.Bucket(bContractLics), contract, cursor, limit, &next, func(v []byte) error {
			l, err := get[store.License](lics, v)
			if err != nil {
				return err
			}
			out = append(out, *l)
			return nil
		})
	})
	return out, next, err
}

// page walks up to limit values of a contract after the cursor (the last key
// of the previous page, base64url) and sets next.
func page(b *bbolt.Bucket, contract, cursor string, limit int, next *string, fn func(v []byte) error) error {
	if limit <= 0 {
		limit = 100
	}
	prefix := append([]byte(contract), 0)
	c := b.Cursor()
	k, v := c.Seek(prefix)
	if cursor != "" {
		after, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || !bytes.HasPrefix(after, prefix) {
			return fmt.Errorf("%w: bad cursor %q", store.ErrNotFound, cursor)
		}
		k, v = c.Seek(after)
		if bytes.Equal(k, after) {
			k, v = c.Next()
		}
	}
	n := 0
	var last []byte
	for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if n == limit {
			*next = base64.RawURLEncoding.EncodeToString(last)
			return nil
		}
		if err := fn(v); err != nil {
			return err
		}
		last = slices.Clone(k)
		n++
	}
	return nil
}

func (s *Store) Idempotent(ctx context.Context, contract, k string) (r *store.Idempotency, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		r, err = get[store.Idempotency](tx.Bucket(bIdempotency), key(contract, k))
		return err
	})
	return r, err
}

func (s *Store) Issue(ctx context.Context, op *store.Issue) error {
	l, bd := &op.License, &op.Binding
	// The records the transaction writes unchanged are encoded before it,
	// outside the writer every request waits for.
	lj, err := json.Marshal(l)
	if err != nil {
		return err
	}
	bj, err := json.Marshal(bd)
	if err != nil {
		return err
	}
	ij, err := json.Marshal(op.Idempotency)
	if err != nil {
		return err
	}
	return s.batch(func(tx *bbolt.Tx) (error, error) {
		// Every condition first: nothing is written unless all hold.
		idem := tx.Bucket(bIdempotency)
		ikey := key(op.Idempotency.Contract, op.Idempotency.Key)
		if idem.Get(ikey) != nil {
			return fmt.Errorf("%w: request already activated on contract %s", store.ErrConflict, op.Idempotency.Contract), nil
		}
		lics := tx.Bucket(bLicenses)
		if lics.Get([]byte(l.ID)) != nil {
			return fmt.Errorf("%w: license %s exists", store.ErrConflict, l.ID), nil
		}
		contracts := tx.Bucket(bContracts)
		c, err := get[store.Contract](contracts, []byte(l.Contract))
		if err != nil {
			return err, nil
		}
		bindings := tx.Bucket(bBindings)
		bkey := key(bd.Contract, bd.Appliance)
		old, err := get[store.Binding](bindings, bkey)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if !op.Seat {
				return fmt.Errorf("%w: appliance %s holds no seat on %s", store.ErrConflict, bd.Appliance, bd.Contract), nil
			}
			if op.Sequence != 0 {
				return fmt.Errorf("%w: binding of %s is gone", store.ErrConflict, bd.Appliance), nil
			}
		case err != nil:
			return nil, err
		default:
			if op.Seat != (old.Released != nil) {
				return fmt.Errorf("%w: the seat of appliance %s changed meanwhile", store.ErrConflict, bd.Appliance), nil
			}
			if old.Sequence != op.Sequence {
				return fmt.Errorf("%w: appliance %s sent sequence %d meanwhile", store.ErrConflict, bd.Appliance, old.Sequence), nil
			}
		}
		if op.Seat && c.Used >= c.Appliances {
			return fmt.Errorf("%w: contract %s has %d of %d seats taken", store.ErrNoSeat, c.ID, c.Used, c.Appliances), nil
		}
		var freed *store.FreedSeat
		var fkey []byte
		if op.Freed != "" {
			if fkey, freed = findFreed(tx, l.Contract, op.Freed); freed == nil || freed.Retaken != "" {
				return fmt.Errorf("%w: freed seat %s was retaken meanwhile", store.ErrConflict, op.Freed), nil
			}
		}
		var superseded []*store.License
		for _, id := range l.Supersedes {
			old, err := get[store.License](lics, []byte(id))
			if err != nil {
				return fmt.Errorf("%w: superseded license %s: %w", store.ErrConflict, id, err), nil
			}
			if old.SupersededBy != "" || old.Released != nil {
				return fmt.Errorf("%w: license %s is already superseded or released", store.ErrConflict, id), nil
			}
			superseded = append(superseded, old)
		}

		// Then the writes.
		var errs []error
		if op.Seat {
			c.Used++
			errs = append(errs, put(contracts, []byte(c.ID), c))
		}
		if freed != nil {
			freed.Retaken = bd.Appliance
			errs = append(errs, put(tx.Bucket(bFreed), fkey, freed))
		}
		for _, old := range superseded {
			old.SupersededBy = l.ID
			errs = append(errs, put(lics, []byte(old.ID), old))
		}
		seq, err := tx.Bucket(bContractLics).NextSequence()
		errs = append(errs, err,
			bindings.Put(bkey, bj),
			lics.Put([]byte(l.ID), lj),
			tx.Bucket(bContractLics).Put(seqKey([]byte(l.Contract), seq), []byte(l.ID)),
			tx.Bucket(bApplianceLics).Put(seqKey(key(l.Contract, l.Appliance), seq), []byte(l.ID)),
			idem.Put(ikey, ij),
			appendEntry(tx, &op.Entry),
		)
		return nil, errors.Join(errs...)
	})
}

func findFreed(tx *bbolt.Tx, contract, id string) (k []byte, f *store.FreedSeat) {
	each(tx.Bucket(bFreed), []byte(contract), func(key, v []byte) error {
		var s store.FreedSeat
		if json.Unmarshal(v, &s) == nil && s.ID == id {
			k, f = slices.Clone(key), &s
		}
		return nil
	})
	return k, f
}

func (s *Store) Free(ctx context.Context, op *store.Free) error {
	return s.batch(func(tx *bbolt.Tx) (error, error) {
		bindings := tx.Bucket(bBindings)
		bkey := key(op.Contract, op.Appliance)
		b, err := get[store.Binding](bindings, bkey)
		if err != nil {
			return fmt.Errorf("appliance %s on contract %s: %w", op.Appliance, op.Contract, err), nil
		}
		if b.Released != nil {
			return fmt.Errorf("%w: the seat of appliance %s is already free", store.ErrConflict, op.Appliance), nil
		}
		contracts := tx.Bucket(bContracts)
		c, err := get[store.Contract](contracts, []byte(op.Contract))
		if err != nil {
			return err, nil
		}
		lics := tx.Bucket(bLicenses)
		var released []*store.License
		for _, id := range op.Licenses {
			l, err := get[store.License](lics, []byte(id))
			if err != nil {
				return fmt.Errorf("%w: license %s: %w", store.ErrConflict, id, err), nil
			}
			if l.Contract != op.Contract || l.Appliance != op.Appliance {
				return fmt.Errorf("%w: license %s is not %s's on %s", store.ErrConflict, id, op.Appliance, op.Contract), nil
			}
			released = append(released, l)
		}

		at := op.At
		b.Released = &at
		b.ReleasedSequence = op.Sequence
		b.Receipt = op.Receipt
		b.ReleasedLicenses = op.Licenses
		if c.Used > 0 {
			c.Used--
		}
		freed := tx.Bucket(bFreed)
		seq, err := freed.NextSequence()
		errs := []error{err, put(bindings, bkey, b), put(contracts, []byte(c.ID), c)}
		f := store.FreedSeat{ID: fmt.Sprintf("%s@%d", op.Appliance, seq), Contract: op.Contract, Appliance: op.Appliance,
			Freed: op.At, Until: op.Until, Revision: op.Revision}
		errs = append(errs, put(freed, seqKey([]byte(op.Contract), seq), f))
		for _, l := range released {
			if l.Released == nil {
				l.Released = &at
				errs = append(errs, put(lics, []byte(l.ID), l))
			}
		}
		errs = append(errs, appendEntry(tx, &op.Entry))
		return nil, errors.Join(errs...)
	})
}

func appendEntry(tx *bbolt.Tx, e *store.Entry) error {
	b := tx.Bucket(bLedger)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	e.ID = fmt.Sprintf("%016x", seq)
	return put(b, seqKey([]byte(e.Contract), seq), e)
}

func (s *Store) Append(ctx context.Context, e *store.Entry) error {
	return s.batch(func(tx *bbolt.Tx) (error, error) { return nil, appendEntry(tx, e) })
}

func (s *Store) Ledger(ctx context.Context, contract, cursor string, limit int) (out []store.Entry, next string, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		return page(tx.Bucket(bLedger), contract, cursor, limit, &next, func(v []byte) error {
			var e store.Entry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			out = append(out, e)
			return nil
		})
	})
	return out, next, err
}
