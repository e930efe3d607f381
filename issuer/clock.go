package issuer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tenurehq/tenure/issuer/internal/store"
	"github.com/tenurehq/tenure/shared/engine"
)

// BehindSlack is how far the issuer's clock may be behind the largest issued
// time among the documents it has signed before it stops signing: a clock
// that drifted is fine; one put back more than a day would sign licenses
// dated before ones it already issued, and clock resets that pull
// appliances back in time.
const BehindSlack = 24 * time.Hour

// clockStep is how much the largest issued time grows before the issuer
// writes it down again: at most one store write an hour, never one per
// activation. A restart forgets at most that hour of it.
const clockStep = time.Hour

// An issuerClock guards the signing routes against the issuer's own clock
// put back (DESIGN.md, "Clock recovery"). It keeps the largest issued time
// in memory and checks each signing against it at the cost of two atomic
// loads; it reads the store only on the first signing and whenever the
// check says behind, so that an acceptance made by another process
// (`tenure-issuer clock-ack`, another Lambda instance) is seen.
type issuerClock struct {
	store store.Store
	log   *slog.Logger

	loaded atomic.Bool
	// newest is the largest issued time this process knows, written the
	// one in the store as it last read or wrote it; both Unix seconds.
	newest, written atomic.Int64

	mu  sync.Mutex  // held to read or write the record
	rec store.Clock // the record as last read or written
}

func newIssuerClock(st store.Store, log *slog.Logger) *issuerClock {
	return &issuerClock{store: st, log: log}
}

// behind reports whether now is more than BehindSlack before newest.
func behind(now time.Time, newest int64) bool {
	return now.Unix() < newest-int64(BehindSlack/time.Second)
}

// check is the 503 of a signing route while the issuer's clock, now, is
// more than a day behind the newest document it has signed.
func (c *issuerClock) check(ctx context.Context, now time.Time) error {
	if c.loaded.Load() && !behind(now, c.newest.Load()) {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	loaded, acked := c.loaded.Load(), c.rec.Acked
	if loaded && !behind(now, c.newest.Load()) {
		return nil // loaded meanwhile, by the request this one waited for
	}
	if err := c.read(ctx); err != nil {
		return err
	}
	if loaded && c.rec.Acked != nil && (acked == nil || !acked.Equal(*c.rec.Acked)) {
		c.log.Info("issuer clock accepted", "acked", c.rec.Acked.Format(engine.TimeFormat), "reason", c.rec.Reason,
			"was", formatOptional(c.rec.Was), "issued", c.rec.Issued.Format(engine.TimeFormat))
	}
	// The stored record is the one that counts: an acceptance lowers it
	// below what this process signed. What this process signed and did not
	// write down yet is less than clockStep.
	c.newest.Store(c.rec.Issued.Unix())
	c.loaded.Store(true)
	if behind(now, c.rec.Issued.Unix()) {
		return problem(http.StatusServiceUnavailable, "clock-behind",
			"the issuer's clock (%s) is more than a day behind the newest document it has signed (issued %s), so it signs nothing until that is resolved: "+
				"if the clock is wrong, set it right; if it is right, accept it with `tenure-issuer clock-ack --reason TEXT`",
			now.Format(engine.TimeFormat), c.rec.Issued.Format(engine.TimeFormat))
	}
	return nil
}

// read reads the record into c.rec; the caller holds c.mu.
func (c *issuerClock) read(ctx context.Context) error {
	rec, err := c.store.Clock(ctx)
	if errors.Is(err, store.ErrNotFound) {
		rec, err = &store.Clock{}, nil
	}
	if err != nil {
		return fmt.Errorf("failed to read the issuer's clock: %w", err)
	}
	c.rec = *rec
	c.written.Store(rec.Issued.Unix())
	return nil
}

// signed notes a document signed with issued time t, once it is stored. It
// writes t down when it is more than clockStep after the time on record; a
// failure is logged, not returned: the document is issued, and the next
// signing writes it down.
func (c *issuerClock) signed(ctx context.Context, t time.Time) {
	s := t.Unix()
	raise(&c.newest, s)
	step := int64(clockStep / time.Second)
	if s <= c.written.Load()+step {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for attempt := 0; attempt < conflictRetries && s > c.written.Load()+step; attempt++ {
		next := c.rec
		next.Issued = t
		err := c.store.PutClock(ctx, &next)
		if err == nil {
			c.rec = next
			c.written.Store(s)
			return
		}
		if !errors.Is(err, store.ErrConflict) {
			c.log.Error("failed to write the issuer's clock", "issued", t.Format(engine.TimeFormat), "error", err.Error())
			return
		}
		// Another process wrote it meanwhile: go on from its record.
		if err := c.read(ctx); err != nil {
			c.log.Error("failed to write the issuer's clock", "issued", t.Format(engine.TimeFormat), "error", err.Error())
			return
		}
	}
}

// AckClock accepts now as the issuer's clock (`tenure-issuer clock-ack`): the
// largest issued time on record becomes now, so that an issuer whose clock
// is more than a day behind the documents it signed, and was found right,
// signs again. It records when, why and the time it replaced, and returns
// the record it wrote. A running issuer sees it at its next signing, on
// either store.
func AckClock(ctx context.Context, st store.Store, now time.Time, reason string) (*store.Clock, error) {
	if !validReason(reason) {
		return nil, errors.New("the reason must say why the clock is right, in one line of at most 200 characters, for the record")
	}
	now = engine.Normalize(now)
	for range conflictRetries {
		old, err := st.Clock(ctx)
		if errors.Is(err, store.ErrNotFound) {
			old, err = &store.Clock{}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("failed to read the issuer's clock: %w", err)
		}
		c := &store.Clock{Issued: now, Acked: &now, Reason: reason, Version: old.Version}
		if !old.Issued.IsZero() {
			was := old.Issued
			c.Was = &was
		}
		err = st.PutClock(ctx, c)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return nil, fmt.Errorf("failed to write the issuer's clock: %w", err)
		}
	}
	return nil, errors.New("the issuer's clock record kept changing; run clock-ack again")
}

// raise sets v to s if s is larger.
func raise(v *atomic.Int64, s int64) {
	for n := v.Load(); s > n; n = v.Load() {
		if v.CompareAndSwap(n, s) {
			return
		}
	}
}

func formatOptional(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.Format(engine.TimeFormat)
}
