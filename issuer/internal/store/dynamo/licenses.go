package dynamo

import (
	"context"
	"fmt"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

// licenses fetches licenses by id, in the order of ids.
func (s *Store) licenses(ctx context.Context, ids []string) ([]store.License, error) {
	seen := make(map[string]bool, len(ids))
	var keys []item
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			keys = append(keys, key(licensePK(id), skLicense))
		}
	}
	items, err := s.batchGet(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make([]store.License, 0, len(ids))
	for _, id := range ids {
		it, ok := items[licensePK(id)]
		if !ok {
			return nil, fmt.Errorf("corrupt table %s: license %s is listed but missing", s.table, id)
		}
		l, err := licenseOf(it)
		if err != nil {
			return nil, err
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
