package dynamo_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tenurehq/tenure/issuer/internal/issuertest"
	"github.com/tenurehq/tenure/issuer/internal/store"
	"github.com/tenurehq/tenure/issuer/internal/store/dynamo"
	"github.com/tenurehq/tenure/issuer/internal/store/dynamo/dynamotest"
	"github.com/tenurehq/tenure/issuer/internal/store/storetest"
)

// TestConformance runs the store conformance suite on DynamoDB Local, a
// fresh table for each test.
func TestConformance(t *testing.T) {
	client := dynamotest.Client(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return dynamo.New(client, dynamotest.Table(t, client))
	})
}

// TestIssuer runs the issuer's HTTP suite over the DynamoDB store.
func TestIssuer(t *testing.T) {
	client := dynamotest.Client(t)
	issuertest.Run(t, func(t *testing.T) store.Store {
		return dynamo.New(client, dynamotest.Table(t, client))
	})
}

func TestCreateTable(t *testing.T) {
	client := dynamotest.Client(t)
	ctx := t.Context()
	name := dynamotest.Table(t, client)
	if err := dynamo.CreateTable(ctx, client, name); err != nil {
		t.Fatalf("CreateTable of an existing table: %v", err)
	}
	s := dynamo.New(client, name)
	if err := s.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}

	// A table with other keys is not the store's.
	other := name + "-other"
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(other),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(other)})
	})
	if err := dynamo.CreateTable(ctx, client, other); err == nil || !strings.Contains(err.Error(), "keys") {
		t.Fatalf("CreateTable over a table with other keys: %v", err)
	}
}

// TestMissingTable: the store never creates its table, and says how to.
func TestMissingTable(t *testing.T) {
	client := dynamotest.Client(t)
	s := dynamo.New(client, "tenure-no-such-table")
	for what, err := range map[string]error{
		"Check":    s.Check(t.Context()),
		"Contract": func() error { _, err := s.Contract(t.Context(), "IC-1"); return err }(),
	} {
		if err == nil || errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "tenure-issuer create-table tenure-no-such-table") {
			t.Errorf("%s on a missing table: %v", what, err)
		}
	}
	if _, err := client.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String("tenure-no-such-table")}); err == nil {
		t.Fatal("the store created its table")
	}
}
