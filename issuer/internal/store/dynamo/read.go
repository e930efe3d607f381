package dynamo

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

func (s *Store) get(ctx context.Context, pk, sk string) (item, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, s.fail("read", err)
	}
	if len(out.Item) == 0 {
		return nil, store.ErrNotFound
	}
	return out.Item, nil
}

// query calls fn for every item of partition pk whose sort key starts with
// prefix, in sort-key order, reading every page.
func (s *Store) query(ctx context.Context, pk, prefix string, fn func(item) error) error {
	in := s.queryInput(pk, prefix)
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return s.fail("query", err)
		}
		for _, it := range out.Items {
			if err := fn(it); err != nil {
				return err
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

func (s *Store) queryInput(pk, prefix string) *dynamodb.QueryInput {
	return &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk AND begins_with(#sk, :prefix)"),
		ExpressionAttributeNames:  map[string]string{"#pk": aPK, "#sk": aSK},
		ExpressionAttributeValues: item{":pk": str(pk), ":prefix": str(prefix)},
		ConsistentRead:            aws.Bool(true),
	}
}

// queryAll decodes, with of, every item of partition pk whose sort key
// starts with prefix, in sort-key order.
func queryAll[T any](ctx context.Context, s *Store, pk, prefix string, of func(item) (*T, error)) (out []T, err error) {
	err = s.query(ctx, pk, prefix, func(it item) error {
		r, err := of(it)
		if err == nil {
			out = append(out, *r)
		}
		return err
	})
	return out, err
}
