package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

// testClock: the issuer's clock round-trips and is written only at the
// version it was read at.
func testClock(t *testing.T, s store.Store) {
	_, err := s.Clock(ctx)
	wantErr(t, "Clock before any write", err, store.ErrNotFound)

	c := &store.Clock{Issued: t0}
	must(t, "PutClock", s.PutClock(ctx, c))
	if c.Version != 1 {
		t.Fatalf("PutClock set version %d, want 1", c.Version)
	}
	got, err := s.Clock(ctx)
	must(t, "Clock", err)
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("Clock = %+v, want %+v", got, c)
	}

	// A writer that read no record, or an older version, loses.
	lost := &store.Clock{Issued: t0.Add(48 * time.Hour)}
	wantErr(t, "PutClock of a record read before any was stored", s.PutClock(ctx, lost), store.ErrConflict)
	lost.Version = 2
	wantErr(t, "PutClock at a version not yet stored", s.PutClock(ctx, lost), store.ErrConflict)
	if got, _ := s.Clock(ctx); !got.Issued.Equal(t0) || got.Version != 1 {
		t.Fatalf("Clock after refused writes = %+v", got)
	}

	// An acceptance lowers Issued and records why.
	acked, was := t0.Add(-72*time.Hour), t0
	ack := &store.Clock{Issued: acked, Acked: &acked, Reason: "the issuer's clock ran a week ahead", Was: &was, Version: 1}
	must(t, "PutClock at the version read", s.PutClock(ctx, ack))
	if ack.Version != 2 {
		t.Fatalf("PutClock set version %d, want 2", ack.Version)
	}
	got, err = s.Clock(ctx)
	must(t, "Clock", err)
	if !reflect.DeepEqual(got, ack) {
		t.Fatalf("Clock after an acceptance = %+v, want %+v", got, ack)
	}
	c.Issued = t0.Add(time.Hour)
	wantErr(t, "PutClock at a version overwritten meanwhile", s.PutClock(ctx, c), store.ErrConflict)
}
