package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

// tokenOfItem names a contract's token hash in its partition, so that a
// rotation knows which TOKEN# item to delete.
func tokenOfItem(contract, hash string) item {
	it := key(contractPK(contract), skToken)
	it[aKind], it[aToken] = str("token-of"), str(hash)
	return it
}

// Ranks of RotateToken's conditions.
const (
	rankRotateContract = iota
	rankRotateToken
	rankRotateRace
)

func (s *Store) RotateToken(ctx context.Context, contract, tokenHash string, e *store.Entry) error {
	old, named, err := s.tokenHashes(ctx, contract)
	if err != nil {
		return err
	}
	seq, err := s.sequence(ctx, contract, 1)
	if err != nil {
		return err
	}
	ei, err := entryItem(e, seq)
	if err != nil {
		return err
	}
	ti := key(tokenPK(tokenHash), skToken)
	ti[aKind], ti[aContract] = str("token"), str(contract)
	// The contract's record of its token is put only if it still names the
	// token read, so two rotations at once never leave two tokens.
	cond, names, values := absent, pkName, item(nil)
	if named {
		cond, names, values = "#token = :old", map[string]string{"#token": aToken}, item{":old": str(old[0])}
	}
	steps := []step{
		s.check(key(contractPK(contract), skContract), "attribute_exists(#pk)", pkName,
			func(item) (int, error) {
				return rankRotateContract, fmt.Errorf("contract %s: %w", contract, store.ErrNotFound)
			}),
		s.put(ti, absent, pkName, nil, conflict(rankRotateToken, "token in use")),
		s.put(tokenOfItem(contract, tokenHash), cond, names, values, conflict(rankRotateRace, "the token of contract %s changed meanwhile", contract)),
		s.put(ei, "", nil, nil, never),
	}
	for _, h := range old {
		steps = append(steps, step{item: types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(s.table), Key: key(tokenPK(h), skToken)}}, refuse: never})
	}
	if err := s.transact(ctx, steps); err != nil {
		return err
	}
	e.ID = num(seq)
	return nil
}

// tokenHashes returns the hashes of a contract's tokens, and whether the
// contract's record names it: a contract created before contracts named
// their token (which never had it rotated) has its token found by a scan.
func (s *Store) tokenHashes(ctx context.Context, contract string) ([]string, bool, error) {
	it, err := s.get(ctx, contractPK(contract), skToken)
	if err == nil {
		return []string{getS(it, aToken)}, true, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, false, err
	}
	in := &dynamodb.ScanInput{TableName: aws.String(s.table), ConsistentRead: aws.Bool(true),
		FilterExpression:          aws.String("#kind = :token AND #contract = :id"),
		ProjectionExpression:      aws.String("#pk"),
		ExpressionAttributeNames:  map[string]string{"#kind": aKind, "#pk": aPK, "#contract": aContract},
		ExpressionAttributeValues: item{":token": str("token"), ":id": str(contract)}}
	var out []string
	for {
		res, err := s.db.Scan(ctx, in)
		if err != nil {
			return nil, false, s.fail("find the token of "+contract, err)
		}
		for _, it := range res.Items {
			h, _ := strings.CutPrefix(getS(it, aPK), "TOKEN#")
			out = append(out, h)
		}
		if len(res.LastEvaluatedKey) == 0 {
			return out, false, nil
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
}
