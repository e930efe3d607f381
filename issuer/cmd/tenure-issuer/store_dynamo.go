package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

// openDynamo opens the DynamoDB store. The store package plugs in here; a
// build without it says so rather than failing obscurely.
func openDynamo(ctx context.Context, table string) (store.Store, error) {
	return nil, fmt.Errorf("TENURE_STORE=dynamodb:%s: %w", table, errNoDynamo)
}

var errNoDynamo = errors.New("this build has no DynamoDB store; use bolt:PATH")
