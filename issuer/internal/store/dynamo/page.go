package dynamo

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

// page reads up to limit items of a contract with the sort-key prefix, after
// the cursor, and sets next when more follow. The cursor encodes the
// contract and the last sort key read, as the bbolt store's encodes its key.
func (s *Store) page(ctx context.Context, contract, prefix, cursor string, limit int, next *string) ([]item, error) {
	return s.pageIn(ctx, contractPK(contract), contract, prefix, cursor, limit, next)
}

// pageIn reads up to limit items of partition pk with the sort-key prefix,
// after the cursor, which encodes scope (what the partition holds: a
// contract's id, or nothing) and the last sort key read.
func (s *Store) pageIn(ctx context.Context, pk, scope, prefix, cursor string, limit int, next *string) ([]item, error) {
	return s.pageWithin(ctx, pk, scope, prefix, cursor, limit, 0, next)
}

// pageWithin is pageIn for records that vary in size: when maxBytes is not
// 0, the page ends before the item whose doc would bring the page's docs
// over maxBytes (the first item always fits).
func (s *Store) pageWithin(ctx context.Context, pk, scope, prefix, cursor string, limit, maxBytes int, next *string) ([]item, error) {
	if limit <= 0 {
		limit = 100
	}
	in := s.queryInput(pk, prefix)
	if cursor != "" {
		after, err := base64.RawURLEncoding.DecodeString(cursor)
		sk, ok := strings.CutPrefix(string(after), scope+"\x00")
		if err != nil || !ok || !strings.HasPrefix(sk, prefix) {
			return nil, fmt.Errorf("%w: bad cursor %q", store.ErrNotFound, cursor)
		}
		in.ExclusiveStartKey = key(pk, sk)
	}
	var out []item
	size := 0
	for {
		// One more than asked tells whether a next page exists.
		in.Limit = aws.Int32(int32(min(limit+1-len(out), 1000)))
		res, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, s.fail("query", err)
		}
		for _, it := range res.Items {
			doc := len(getS(it, aDoc))
			if len(out) == limit || maxBytes > 0 && len(out) > 0 && size+doc > maxBytes {
				*next = base64.RawURLEncoding.EncodeToString([]byte(scope + "\x00" + getS(out[len(out)-1], aSK)))
				return out, nil
			}
			out, size = append(out, it), size+doc
		}
		if len(res.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
}
