package dynamo

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

func (s *Store) Ledger(ctx context.Context, contract, cursor string, limit int) ([]store.Entry, string, error) {
	var next string
	items, err := s.page(ctx, contract, pLedger, cursor, limit, &next)
	if err != nil {
		return nil, "", err
	}
	out := make([]store.Entry, 0, len(items))
	for _, it := range items {
		e, err := decode[store.Entry](it)
		if err != nil {
			return nil, "", err
		}
		out = append(out, *e)
	}
	return out, next, nil
}

func (s *Store) Append(ctx context.Context, e *store.Entry) error {
	seq, err := s.sequence(ctx, e.Contract, 1)
	if err != nil {
		return err
	}
	it, err := entryItem(e, seq)
	if err != nil {
		return err
	}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: it}); err != nil {
		return s.fail("append to the ledger", err)
	}
	e.ID = num(seq)
	return nil
}
