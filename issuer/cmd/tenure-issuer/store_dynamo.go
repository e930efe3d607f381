package main

import (
	"context"
	"fmt"
	"io"

	"github.com/tenurehq/tenure/issuer/internal/store"
	"github.com/tenurehq/tenure/issuer/internal/store/dynamo"
)

// openDynamo opens the DynamoDB store on table. It makes no request, so a
// Lambda cold start pays nothing for it; the local server checks the table
// before it listens (see checkStore).
func openDynamo(ctx context.Context, table string) (store.Store, error) {
	s, err := dynamo.Open(ctx, table)
	if err != nil {
		return nil, fmt.Errorf("TENURE_STORE=dynamodb:%s: %w", table, err)
	}
	return s, nil
}

// checkStore fails early when a store can tell it is unusable, such as a
// DynamoDB table that does not exist.
func checkStore(ctx context.Context, st store.Store) error {
	if c, ok := st.(interface{ Check(context.Context) error }); ok {
		return c.Check(ctx)
	}
	return nil
}

// createTable creates the DynamoDB table for TENURE_STORE=dynamodb:TABLE,
// for use with DynamoDB Local; on AWS the SAM template makes it.
func createTable(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flags("create-table")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() != 1 {
		return usageError{fmt.Errorf("create-table needs one table name, such as tenure-issuer")}
	}
	table := fs.Arg(0)
	client, err := dynamo.NewClient(ctx)
	if err != nil {
		return err
	}
	if err := dynamo.CreateTable(ctx, client, table); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "table %s is ready: TENURE_STORE=dynamodb:%s\n", table, table)
	return nil
}
