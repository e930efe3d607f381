package dynamo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

// sequence takes n sequence numbers of a contract and returns the first.
func (s *Store) sequence(ctx context.Context, contract string, n int) (uint64, error) {
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(contractPK(contract), skCounter),
		UpdateExpression:          aws.String("SET #kind = :kind ADD #next :n"),
		ExpressionAttributeNames:  map[string]string{"#kind": aKind, "#next": aNext},
		ExpressionAttributeValues: item{":kind": str("counter"), ":n": n64(int64(n))},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return 0, s.fail("number records", err)
	}
	last, err := getN(out.Attributes, aNext)
	if err != nil {
		return 0, err
	}
	return uint64(last) - uint64(n) + 1, nil
}

// A step is one item of a transaction and what its failed condition means.
type step struct {
	item types.TransactWriteItem
	// refuse returns the error for a failed condition, given the item as it
	// was (nil if absent), and its rank: of several failed conditions, the
	// one of lowest rank is reported, as the bbolt store checks them in that
	// order.
	refuse func(old item) (rank int, err error)
}

func (s *Store) put(it item, cond string, names map[string]string, values item, refuse func(item) (int, error)) step {
	p := &types.Put{TableName: aws.String(s.table), Item: it}
	if cond != "" {
		p.ConditionExpression, p.ExpressionAttributeNames, p.ExpressionAttributeValues = aws.String(cond), names, values
		p.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
	}
	return step{item: types.TransactWriteItem{Put: p}, refuse: refuse}
}

func (s *Store) update(k item, update, cond string, names map[string]string, values item, refuse func(item) (int, error)) step {
	if len(values) == 0 {
		values = nil
	}
	return step{item: types.TransactWriteItem{Update: &types.Update{TableName: aws.String(s.table), Key: k,
		UpdateExpression: aws.String(update), ConditionExpression: aws.String(cond),
		ExpressionAttributeNames: names, ExpressionAttributeValues: values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}}, refuse: refuse}
}

func (s *Store) check(k item, cond string, names map[string]string, refuse func(item) (int, error)) step {
	return step{item: types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: aws.String(s.table), Key: k,
		ConditionExpression: aws.String(cond), ExpressionAttributeNames: names,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}}, refuse: refuse}
}

// versioned puts a record's item (at version+1) if the stored one is still
// at version, absent for version 0.
func (s *Store) versioned(it item, version uint64, refuse func(item) (int, error)) step {
	if version == 0 {
		return s.put(it, absent, pkName, nil, refuse)
	}
	return s.put(it, "#version = :version", map[string]string{"#version": aVersion}, item{":version": u64(version)}, refuse)
}

// versionOf reads the version of a versioned record's item.
func versionOf(it item) (uint64, error) {
	v, err := getN(it, aVersion)
	if err != nil {
		return 0, err
	}
	if v < 1 {
		return 0, fmt.Errorf("corrupt item %s/%s: version %d", getS(it, aPK), getS(it, aSK), v)
	}
	return uint64(v), nil
}

// absent is the condition of a new item.
const absent = "attribute_not_exists(#pk)"

var pkName = map[string]string{"#pk": aPK}

func conflict(rank int, format string, args ...any) func(item) (int, error) {
	err := fmt.Errorf("%w: "+format, append([]any{store.ErrConflict}, args...)...)
	return func(item) (int, error) { return rank, err }
}

// never fails: it has no item and no condition of its own.
func never(item) (int, error) { return 0, errors.New("unexpected condition failure") }

// attempts bounds how often a transaction cancelled by a concurrent one is
// sent again. Activations on one contract all write its item, so a burst of
// them runs one at a time; each cancelled one waits a random time up to a
// short cap (full jitter) so the table is kept busy, not idle, while they
// drain. 64 at once on a loaded 2-core machine take a few seconds.
const attempts = 60

func backoff(ctx context.Context, attempt int) error {
	d := min(4*time.Millisecond<<min(attempt, 6), 150*time.Millisecond)
	t := time.NewTimer(rand.N(d) + time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// transact writes the steps in one transaction. A failed condition returns
// the error of the lowest rank; a cancellation by a concurrent transaction
// or by throttling sends it again.
func (s *Store) transact(ctx context.Context, steps []step) error {
	if len(steps) > 100 {
		return fmt.Errorf("one write of %d records is over DynamoDB's 100 per transaction", len(steps))
	}
	items := make([]types.TransactWriteItem, len(steps))
	for i, st := range steps {
		items[i] = st.item
	}
	for attempt := 0; ; attempt++ {
		_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return nil
		}
		var tc *types.TransactionCanceledException
		if !errors.As(err, &tc) {
			return s.fail("write", err)
		}
		again, refused, ok := cancelled(tc, steps)
		if !ok {
			return s.fail("write", err)
		}
		switch {
		case again && attempt+1 < attempts:
			if err := backoff(ctx, attempt); err != nil {
				return err
			}
		case refused != nil:
			return refused
		case again:
			return fmt.Errorf("%w: the records kept changing during %d attempts: %w", store.ErrConflict, attempts, err)
		default:
			return s.fail("write", err)
		}
	}
}
