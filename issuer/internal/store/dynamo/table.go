package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TableDefinition is the table the store needs, as CreateTable makes it:
// string keys pk and sk, on-demand capacity, no secondary index.
func TableDefinition(table string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName: aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(aPK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(aSK), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(aPK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(aSK), KeyType: types.KeyTypeRange},
		},
		BillingMode: types.BillingModePayPerRequest,
	}
}

// CreateTable creates the table (see [TableDefinition]) and waits until it is
// ACTIVE. A table that exists with the same keys is left as it is; one with
// other keys is an error.
func CreateTable(ctx context.Context, client *dynamodb.Client, table string) error {
	_, err := client.CreateTable(ctx, TableDefinition(table))
	var inUse *types.ResourceInUseException
	switch {
	case errors.As(err, &inUse):
		if err := New(client, table).Check(ctx); err != nil && !errors.Is(err, errNotActive) {
			return err
		}
	case err != nil:
		return fmt.Errorf("failed to create table %s: %w", table, err)
	}
	// DynamoDB Local makes tables ACTIVE at once; DynamoDB takes seconds.
	w := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = time.Second, 10*time.Second
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 5*time.Minute); err != nil {
		return fmt.Errorf("table %s did not become ACTIVE: %w", table, err)
	}
	return nil
}

var errNotActive = errors.New("table is not ACTIVE")

// Check verifies that the table exists, is ACTIVE and has the store's keys.
func (s *Store) Check(ctx context.Context) error {
	out, err := s.db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.table)})
	if err != nil {
		return s.fail("describe", err)
	}
	keys := map[string]types.KeyType{}
	for _, k := range out.Table.KeySchema {
		keys[aws.ToString(k.AttributeName)] = k.KeyType
	}
	if len(keys) != 2 || keys[aPK] != types.KeyTypeHash || keys[aSK] != types.KeyTypeRange {
		return fmt.Errorf("table %s has keys %v; the issuer needs %s (HASH) and %s (RANGE), strings", s.table, keys, aPK, aSK)
	}
	if out.Table.TableStatus != types.TableStatusActive {
		return fmt.Errorf("%w: table %s is %s", errNotActive, s.table, out.Table.TableStatus)
	}
	return nil
}

// Attribute names.
const (
	aPK           = "pk"
	aSK           = "sk"
	aKind         = "kind"
	aDoc          = "doc"
	aUsed         = "used"
	aSeats        = "seats"
	aRevision     = "revision"
	aNext         = "next"
	aContract     = "contract"
	aAppliance    = "appliance"
	aSeq          = "seq"
	aRelease      = "release"
	aID           = "id"
	aRetaken      = "retaken"
	aLicense      = "license"
	aSupersededBy = "superseded_by"
	aReleased     = "released"
	aVersion      = "version"
	aToken        = "token"
	aCount        = "count"
	aReport       = "report"
	aUntil        = "until"
)

// Sort keys and their prefixes.
const (
	skContract  = "#CONTRACT"
	skCounter   = "#SEQ"
	skToken     = "#TOKEN"
	skLicense   = "#LICENSE"
	skHistory   = "#HISTORY"
	skClock     = "#CLOCK"
	pRevision   = "REV#"
	pBinding    = "BIND#"
	pFreed      = "FREED#"
	pIssued     = "LIC#"
	pApplIssued = "ALIC#"
	pIdem       = "IDEM#"
	pLedger     = "LOG#"
	pAnomaly    = "ANOM#"
	pListed     = "C#"
	skIndexed   = "#INDEXED"
	skPeaks     = "#PEAKS"
	pReportID   = "REPORT#"
	pReport     = "USAGE#"
	pLatest     = "LATEST#"
)

func contractPK(id string) string  { return "CONTRACT#" + id }
func tokenPK(hash string) string   { return "TOKEN#" + hash }
func licensePK(id string) string   { return "LICENSE#" + id }
func appliancePK(id string) string { return "APPLIANCE#" + id }
func num(n uint64) string          { return fmt.Sprintf("%016x", n) }

func applIssuedPrefix(appliance string) string { return pApplIssued + appliance + "#" }

// issuerPK is the partition of the issuer's own records.
const issuerPK = "ISSUER"

// contractsPK is the partition that lists every contract, anomaliesPK the
// one that lists every anomaly.
const (
	contractsPK = "CONTRACTS"
	anomaliesPK = "ANOMALIES"
)
