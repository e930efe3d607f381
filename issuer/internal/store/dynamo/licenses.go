package dynamo

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

// licenses fetches licenses by id, in the order of ids.
func (s *Store) licenses(ctx context.Context, ids []string) ([]store.License, error) {
	got := make(map[string]*store.License, len(ids))
	for chunk := range slices.Chunk(ids, 100) {
		var keys []item
		for _, id := range chunk {
			if _, dup := got[id]; !dup {
				got[id] = nil
				keys = append(keys, key(licensePK(id), skLicense))
			}
		}
		req := map[string]types.KeysAndAttributes{s.table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
		for attempt := 0; len(req) > 0 && len(req[s.table].Keys) > 0; attempt++ {
			if attempt > 0 {
				if err := backoff(ctx, attempt); err != nil {
					return nil, err
				}
			}
			out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, s.fail("read licenses", err)
			}
			for _, it := range out.Responses[s.table] {
				l, err := licenseOf(it)
				if err != nil {
					return nil, err
				}
				got[l.ID] = l
			}
			req = out.UnprocessedKeys
		}
	}
	out := make([]store.License, 0, len(ids))
	for _, id := range ids {
		l := got[id]
		if l == nil {
			return nil, fmt.Errorf("corrupt table %s: license %s is listed but missing", s.table, id)
		}
		out = append(out, *l)
	}
	return out, nil
}

func (s *Store) License(ctx context.Context, id string) (*store.License, error) {
	it, err := s.get(ctx, licensePK(id), skLicense)
	if err != nil {
		return nil, err
	}
	return licenseOf(it)
}

func (s *Store) ApplianceLicenses(ctx context.Context, contract, appliance string) ([]store.License, error) {
	var ids []string
	err := s.query(ctx, contractPK(contract), applIssuedPrefix(appliance), func(it item) error {
		// The prefix also matches appliances whose id continues with "#".
		if getS(it, aAppliance) == appliance {
			ids = append(ids, getS(it, aLicense))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.licenses(ctx, ids)
}

func (s *Store) Licenses(ctx context.Context, contract, cursor string, limit int) ([]store.License, string, error) {
	var next string
	items, err := s.page(ctx, contract, pIssued, cursor, limit, &next)
	if err != nil {
		return nil, "", err
	}
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = getS(it, aLicense)
	}
	out, err := s.licenses(ctx, ids)
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

func (s *Store) Idempotent(ctx context.Context, contract, k string) (*store.Idempotency, error) {
	it, err := s.get(ctx, contractPK(contract), pIdem+k)
	if err != nil {
		return nil, err
	}
	return decode[store.Idempotency](it)
}
