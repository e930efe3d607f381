package bolt

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"

	bbolt "go.etcd.io/bbolt"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

// Records are JSON values in buckets, under keys of their parts.

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

// all decodes every record under prefix, in key order.
func all[T any](b *bbolt.Bucket, prefix []byte) (out []T, err error) {
	err = each(b, prefix, func(k, v []byte) error {
		var r T
		if err := json.Unmarshal(v, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// page walks up to limit values of a contract after the cursor (the last key
// of the previous page, base64url) and sets next.
func page(b *bbolt.Bucket, contract, cursor string, limit int, next *string, fn func(v []byte) error) error {
	return pageUnder(b, append([]byte(contract), 0), cursor, limit, next, fn)
}

// pageUnder walks up to limit values whose keys start with prefix (every
// key for none) after the cursor, and sets next.
func pageUnder(b *bbolt.Bucket, prefix []byte, cursor string, limit int, next *string, fn func(v []byte) error) error {
	return pageFit(b, prefix, cursor, limit, next, func(v []byte) (bool, error) { return true, fn(v) })
}

// pageFit is pageUnder for records too large for a page of limit: fn
// returns false, having taken nothing, for a value that does not fit, and
// the page ends before it. fn must take the first value of a page.
func pageFit(b *bbolt.Bucket, prefix []byte, cursor string, limit int, next *string, fn func(v []byte) (bool, error)) error {
	if limit <= 0 {
		limit = 100
	}
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
		switch fits, err := fn(v); {
		case err != nil:
			return err
		case !fits && n == 0:
			return fmt.Errorf("a record of %q does not fit an empty page", k)
		case !fits:
			*next = base64.RawURLEncoding.EncodeToString(last)
			return nil
		}
		last = slices.Clone(k)
		n++
	}
	return nil
}
