package dynamo

import (
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// fail wraps an error of the DynamoDB API with what the store was doing and,
// for a missing table, what to do about it.
func (s *Store) fail(what string, err error) error {
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return fmt.Errorf("failed to %s in DynamoDB table %s: the table does not exist; create it with `tenure-issuer create-table %s` (locally) or deploy issuer/deploy/template.yaml: %w", what, s.table, s.table, err)
	}
	return fmt.Errorf("failed to %s in DynamoDB table %s: %w", what, s.table, err)
}

// cancelled reads why a transaction of steps was cancelled: again when a
// concurrent transaction or throttling did it, so that it may be sent again;
// refused, the error of the failed condition of lowest rank, as the bbolt
// store reports the first condition it checks; ok false for any other
// reason, a failure of the store.
func cancelled(tc *types.TransactionCanceledException, steps []step) (again bool, refused error, ok bool) {
	rank := len(steps) + 1
	for i, r := range tc.CancellationReasons {
		switch code := aws.ToString(r.Code); code {
		case "ConditionalCheckFailed":
			if i >= len(steps) {
				return false, nil, false
			}
			old := r.Item
			if len(old) == 0 {
				old = nil
			}
			if n, e := steps[i].refuse(old); n < rank {
				rank, refused = n, e
			}
		case "TransactionConflict", "ThrottlingError":
			again = true
		case "", "None":
		default:
			return false, nil, false
		}
	}
	return again, refused, true
}
