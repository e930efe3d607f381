// Package dynamotest connects tests to DynamoDB Local and gives each test a
// table of its own.
//
// The endpoint is the SDK's own AWS_ENDPOINT_URL_DYNAMODB; start DynamoDB
// Local and set it with
//
//	eval "$(bash scripts/dynamodb-local.sh start)"
//
// Without it, or when nothing answers there, a test skips, or fails when the
// environment variable CI is set: CI must never pass by skipping the
// DynamoDB store. Tests never reach AWS itself: no endpoint, no test.
package dynamotest

import (
	"context"
	"crypto/rand"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tenurehq/tenure/issuer/internal/store/dynamo"
)

// Client returns a client of DynamoDB Local, or skips (fails under CI) the
// test when there is none. DynamoDB Local accepts any region and
// credentials: where the environment sets none, Client sets AWS_REGION and
// a static key for the test, so code that loads the default configuration
// itself (dynamo.Open) reaches the same endpoint.
func Client(t *testing.T) *dynamodb.Client {
	t.Helper()
	endpoint := os.Getenv("AWS_ENDPOINT_URL_DYNAMODB")
	if endpoint == "" {
		unavailable(t, "AWS_ENDPOINT_URL_DYNAMODB is not set")
	}
	if os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" {
		t.Setenv("AWS_REGION", "us-east-1")
	}
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
		t.Setenv("AWS_ACCESS_KEY_ID", "local")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	}
	client, err := dynamo.NewClient(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err = client.ListTables(ctx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)}, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	if err != nil {
		unavailable(t, "nothing answers at "+endpoint+": "+err.Error())
	}
	return client
}

func unavailable(t *testing.T, why string) {
	t.Helper()
	msg := "DynamoDB Local is not reachable (" + why + "); start it with: eval \"$(bash scripts/dynamodb-local.sh start)\""
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

var unsafe = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// Name returns a table name for the test, unique to this run.
func Name(t *testing.T) string {
	name := unsafe.ReplaceAllString(t.Name(), "-")
	if len(name) > 200 {
		name = name[len(name)-200:]
	}
	return "tenure-" + strings.Trim(name, "-") + "-" + strings.ToLower(rand.Text()[:8])
}

// Table creates an empty table, named for the test and unique, and deletes
// it when the test ends.
func Table(t *testing.T, client *dynamodb.Client) string {
	t.Helper()
	name := Name(t)
	if err := dynamo.CreateTable(t.Context(), client, name); err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	t.Cleanup(func() { Delete(t, client, name) })
	return name
}

// Delete deletes a table.
func Delete(t *testing.T, client *dynamodb.Client, table string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)}); err != nil {
		t.Errorf("DeleteTable %s: %v", table, err)
	}
}
