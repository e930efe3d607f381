package dynamo

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

// listedItem lists a contract in the CONTRACTS partition.
func listedItem(id string) item {
	it := key(contractsPK, pListed+id)
	it[aKind], it[aContract] = str("listed"), str(id)
	return it
}

func (s *Store) Contracts(ctx context.Context, cursor string, limit int) ([]store.Contract, string, error) {
	if err := s.listContracts(ctx); err != nil {
		return nil, "", err
	}
	var next string
	items, err := s.pageIn(ctx, contractsPK, "", pListed, cursor, limit, &next)
	if err != nil {
		return nil, "", err
	}
	keys := make([]item, len(items))
	for i, it := range items {
		keys[i] = key(contractPK(getS(it, aContract)), skContract)
	}
	got, err := s.batchGet(ctx, keys)
	if err != nil {
		return nil, "", err
	}
	out := make([]store.Contract, 0, len(items))
	for _, k := range keys {
		it := got[getS(k, aPK)]
		if it == nil {
			return nil, "", fmt.Errorf("corrupt table %s: %s is listed but missing", s.table, getS(k, aPK))
		}
		c, err := contractOf(it)
		if err != nil {
			return nil, "", err
		}
		out = append(out, *c)
	}
	return out, next, nil
}

// listContracts lists, once, the contracts of a table written before
// contracts were listed in the CONTRACTS partition: a scan for their items,
// then the marker #INDEXED, so that later calls cost one read, and none
// once this process has seen the marker. A contract created meanwhile lists
// itself.
func (s *Store) listContracts(ctx context.Context) error {
	if s.listed.Load() {
		return nil
	}
	if _, err := s.get(ctx, contractsPK, skIndexed); err == nil {
		s.listed.Store(true)
		return nil
	} else if err != store.ErrNotFound {
		return err
	}
	in := &dynamodb.ScanInput{TableName: aws.String(s.table), ConsistentRead: aws.Bool(true),
		FilterExpression:          aws.String("#kind = :contract"),
		ProjectionExpression:      aws.String("#pk"),
		ExpressionAttributeNames:  map[string]string{"#kind": aKind, "#pk": aPK},
		ExpressionAttributeValues: item{":contract": str("contract")}}
	for {
		out, err := s.db.Scan(ctx, in)
		if err != nil {
			return s.fail("list the contracts", err)
		}
		for _, it := range out.Items {
			id, _ := strings.CutPrefix(getS(it, aPK), "CONTRACT#")
			if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: listedItem(id)}); err != nil {
				return s.fail("list the contracts", err)
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	marker := key(contractsPK, skIndexed)
	marker[aKind] = str("marker")
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: marker}); err != nil {
		return s.fail("list the contracts", err)
	}
	s.listed.Store(true)
	return nil
}

// batchGet reads items by key, strongly consistent, 100 at a time, keyed by
// their pk (each key's pk must be its own).
func (s *Store) batchGet(ctx context.Context, keys []item) (map[string]item, error) {
	got := make(map[string]item, len(keys))
	for start := 0; start < len(keys); start += 100 {
		chunk := keys[start:min(start+100, len(keys))]
		req := map[string]types.KeysAndAttributes{s.table: {Keys: chunk, ConsistentRead: aws.Bool(true)}}
		for attempt := 0; len(req) > 0 && len(req[s.table].Keys) > 0; attempt++ {
			if attempt > 0 {
				if err := backoff(ctx, attempt); err != nil {
					return nil, err
				}
			}
			out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, s.fail("read", err)
			}
			for _, it := range out.Responses[s.table] {
				got[getS(it, aPK)] = it
			}
			req = out.UnprocessedKeys
		}
	}
	return got, nil
}

func (s *Store) BindingPage(ctx context.Context, contract, cursor string, limit int) ([]store.Binding, string, error) {
	var next string
	items, err := s.page(ctx, contract, pBinding, cursor, limit, &next)
	if err != nil {
		return nil, "", err
	}
	out := make([]store.Binding, 0, len(items))
	for _, it := range items {
		b, err := bindingOf(it)
		if err != nil {
			return nil, "", err
		}
		out = append(out, *b)
	}
	return out, next, nil
}
