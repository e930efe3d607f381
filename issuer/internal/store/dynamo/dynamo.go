package dynamo

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

// Store is a [store.Store] in one DynamoDB table.
type Store struct {
	db    *dynamodb.Client
	table string
	// listed: the table lists its contracts (see listContracts).
	listed atomic.Bool
}

var _ store.Store = (*Store)(nil)

// Open connects to the table with the SDK's default configuration. It makes
// no request: a missing table shows in the first operation, or in
// [Store.Check].
func Open(ctx context.Context, table string) (*Store, error) {
	client, err := NewClient(ctx)
	if err != nil {
		return nil, err
	}
	return New(client, table), nil
}

// NewClient makes a DynamoDB client with the SDK's default configuration.
//
// With an endpoint of its own (AWS_ENDPOINT_URL_DYNAMODB), such as DynamoDB
// Local, the client does not check the CRC32 of responses: DynamoDB Local
// sends no x-amz-crc32 header with its errors, and the SDK would log a
// checksum warning for each refused condition.
func NewClient(ctx context.Context) (*dynamodb.Client, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("failed to load the AWS configuration: %w", err)
	}
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if o.BaseEndpoint != nil {
			o.DisableValidateResponseChecksum = true
		}
	}), nil
}

// New returns the store in table, reached through client.
func New(client *dynamodb.Client, table string) *Store {
	return &Store{db: client, table: table}
}

// Close releases nothing: the client holds no resources of its own.
func (s *Store) Close() error { return nil }
