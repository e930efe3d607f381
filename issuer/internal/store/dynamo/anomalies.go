package dynamo

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

// An anomaly is two items with the sort key ANOM#<id>, one in the ANOMALIES
// partition and one in its contract's, each counting its sightings in the
// attribute count: the first sighting sets doc, every one adds to count.

func (s *Store) NoteAnomaly(ctx context.Context, a *store.Anomaly) error {
	a.SetID()
	rec := *a
	rec.Count = 0
	j, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	upsert := func(k item) step {
		return step{item: types.TransactWriteItem{Update: &types.Update{TableName: aws.String(s.table), Key: k,
			UpdateExpression:          aws.String("SET #kind = :kind, #doc = if_not_exists(#doc, :doc) ADD #count :one"),
			ExpressionAttributeNames:  map[string]string{"#kind": aKind, "#doc": aDoc, "#count": aCount},
			ExpressionAttributeValues: item{":kind": str("anomaly"), ":doc": str(string(j)), ":one": n64(1)}}}, refuse: never}
	}
	return s.transact(ctx, []step{upsert(key(anomaliesPK, pAnomaly+a.ID)), upsert(key(contractPK(a.Contract), pAnomaly+a.ID))})
}

func (s *Store) Anomalies(ctx context.Context, contract, cursor string, limit int) ([]store.Anomaly, string, error) {
	var next string
	var items []item
	var err error
	if contract == "" {
		items, err = s.pageIn(ctx, anomaliesPK, "", pAnomaly, cursor, limit, &next)
	} else {
		items, err = s.page(ctx, contract, pAnomaly, cursor, limit, &next)
	}
	if err != nil {
		return nil, "", err
	}
	out := make([]store.Anomaly, 0, len(items))
	for _, it := range items {
		a, err := decode[store.Anomaly](it)
		if err != nil {
			return nil, "", err
		}
		if a.Count, err = getN(it, aCount); err != nil {
			return nil, "", err
		}
		out = append(out, *a)
	}
	return out, next, nil
}
