// Package dynamo is the issuer's production store: every record in one
// DynamoDB table (TENURE_STORE=dynamodb:TABLE). It behaves exactly as the
// bbolt store does; both pass [storetest.Run].
//
// The client comes from the SDK's usual configuration ([Open] calls
// config.LoadDefaultConfig): AWS_REGION, the credential chain, and
// AWS_ENDPOINT_URL_DYNAMODB to point it at DynamoDB Local. The store never
// creates its table on its own; [CreateTable] (`tenure-issuer create-table
// TABLE`) does, for local use, and the SAM template in issuer/deploy does in
// production. Both make the table [TableDefinition] describes.
//
// # The table
//
// One table, keys pk (partition) and sk (sort), both strings, no secondary
// index: every read is a strongly consistent GetItem, Query or BatchGetItem on
// the base table, so a write is visible to the next request whichever Lambda
// instance serves it. A contract's records share its partition; licenses and
// tokens, looked up by their own id, have one each.
//
//	pk                  sk                            kind       holds
//	CONTRACT#<id>       #CONTRACT                     contract   the contract; used, seats, revision
//	CONTRACT#<id>       #SEQ                          counter    next: the contract's last sequence number
//	CONTRACT#<id>       REV#<number>                  revision   one revision
//	CONTRACT#<id>       BIND#<appliance>              binding    an appliance's seat; seq, release
//	CONTRACT#<id>       FREED#<seq>                   freed      a freed seat; id, retaken
//	CONTRACT#<id>       LIC#<seq>                     issued     license: the id of a license, in issue order
//	CONTRACT#<id>       ALIC#<appliance>#<seq>        issued     license, appliance: the same, per appliance
//	CONTRACT#<id>       IDEM#<request hash>           request    the license an LRF got
//	CONTRACT#<id>       LOG#<seq>                     entry      one ledger row
//	TOKEN#<hash>        #TOKEN                        token      contract: whose token hashes to <hash>
//	LICENSE#<id>        #LICENSE                      license    the license; contract, appliance, superseded_by, released
//
// Numbers in sort keys are 16 hex digits, so keys sort as the numbers do.
// Every item has its kind in the attribute kind, and its record in doc: the
// JSON the bbolt store keeps, so both stores encode records identically.
// What a condition tests or an update changes in place is a top-level
// attribute instead (and left out of doc): a contract's used seats, a
// binding's sequence and release, a freed seat's retaker, a license's
// superseded_by and released. A read lays these over doc.
//
// # Access patterns
//
//   - Contract, TokenContract, Binding, License, Idempotent: GetItem.
//   - Revisions, Bindings, FreedSeats: Query on the contract's partition by
//     sort-key prefix, every page.
//   - Licenses, Ledger: Query from the cursor, which encodes the contract and
//     the last sort key read; Licenses then fetches the licenses with
//     BatchGetItem, 100 at a time.
//   - ApplianceLicenses: Query ALIC#<appliance>#, then BatchGetItem.
//
// # Transactions
//
// [store.Store]'s atomic operations are one TransactWriteItems each, every
// item with its condition, so no interleaving of requests can bind more
// appliances than a contract allows or write a license without its ledger
// row. An activation ([Store.Issue]) is, in this order:
//
//  1. Put IDEM#<hash> if absent: an LRF activates once (ErrConflict).
//  2. Put LICENSE#<id> if absent: an issued license is never replaced
//     (ErrConflict).
//  3. Update #CONTRACT used = used + 1 if used < seats, when the activation
//     takes a seat; else a ConditionCheck that the contract exists. The seat
//     count is one number on one item, and DynamoDB serialises the
//     transactions that change it: of 64 concurrent activations on a 3-seat
//     contract, exactly 3 succeed (ErrNotFound, ErrNoSeat).
//  4. Put BIND#<appliance> if the binding is as the issuer read it: absent
//     or released when taking a seat, held otherwise, and at the sequence it
//     read (ErrConflict).
//  5. Update FREED#<seq> retaken if not yet retaken, when retaking a freed
//     seat (ErrConflict).
//  6. Update each superseded LICENSE#<id> superseded_by if neither
//     superseded nor released (ErrConflict).
//  7. Put LIC#<seq>, ALIC#<appliance>#<seq> and LOG#<seq>.
//
// A release or reallocation ([Store.Free]) updates the binding if it is held,
// decrements used, puts the freed seat, marks each license released (if it is
// the appliance's on this contract) and puts the ledger row. A new contract
// puts the contract and its token, each if absent, its first revision and
// the ledger row; a change updates the contract if it is at the previous
// revision.
//
// Every item asks for its old image when its condition fails
// (ReturnValuesOnConditionCheckFailure), and the store answers the error the
// bbolt store would: the first failed condition in the order above, ErrNotFound
// when the item is missing, ErrNoSeat when the seats are taken. A
// transaction cancelled by a concurrent one (TransactionConflict) or by
// throttling is sent again, up to 60 times with jittered backoff. The SDK
// gives each transaction a ClientRequestToken and keeps it when it resends
// one whose answer was lost, so DynamoDB applies it once.
//
// Sequence numbers (LIC, ALIC, FREED, LOG, and so a ledger entry's ID) come
// from the contract's #SEQ counter, incremented with an atomic ADD just before
// the transaction that uses them. A refused or failed write leaves a gap,
// which is harmless: lists are in sequence order, not dense. Because numbers
// are taken before the write commits, a reader paging a contract's licenses
// or ledger while concurrent activations commit may see a row appear behind
// its cursor; it is never lost, and the next full reading lists it. An
// appliance's own licenses are always listed in the order they were issued,
// since its binding's condition lets only one activation at a time commit.
//
// # Limits
//
// A transaction holds at most 100 items, so one activation supersedes at most
// 92 licenses and one release releases at most 96; an appliance's chain on a
// contract is a handful. An item holds at most 400 KB; a license is a few.
package dynamo

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

// Store is a [store.Store] in one DynamoDB table.
type Store struct {
	db    *dynamodb.Client
	table string
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
)

// Sort keys and their prefixes.
const (
	skContract  = "#CONTRACT"
	skCounter   = "#SEQ"
	skToken     = "#TOKEN"
	skLicense   = "#LICENSE"
	pRevision   = "REV#"
	pBinding    = "BIND#"
	pFreed      = "FREED#"
	pIssued     = "LIC#"
	pApplIssued = "ALIC#"
	pIdem       = "IDEM#"
	pLedger     = "LOG#"
)

func contractPK(id string) string { return "CONTRACT#" + id }
func tokenPK(hash string) string  { return "TOKEN#" + hash }
func licensePK(id string) string  { return "LICENSE#" + id }
func num(n uint64) string         { return fmt.Sprintf("%016x", n) }

func applIssuedPrefix(appliance string) string { return pApplIssued + appliance + "#" }

type item = map[string]types.AttributeValue

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n64(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}
func u64(v uint64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatUint(v, 10)}
}

func key(pk, sk string) item { return item{aPK: str(pk), aSK: str(sk)} }

// record makes an item of a kind with its record in doc.
func record(pk, sk, kind string, v any) (item, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	it := key(pk, sk)
	it[aKind], it[aDoc] = str(kind), str(string(j))
	return it, nil
}

func getS(it item, name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func getN(it item, name string) (int64, error) {
	v, ok := it[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("corrupt item %s/%s: no number %s", getS(it, aPK), getS(it, aSK), name)
	}
	return strconv.ParseInt(v.Value, 10, 64)
}

func decode[T any](it item) (*T, error) {
	var out T
	if err := json.Unmarshal([]byte(getS(it, aDoc)), &out); err != nil {
		return nil, fmt.Errorf("corrupt item %s/%s: %w", getS(it, aPK), getS(it, aSK), err)
	}
	return &out, nil
}

func parseTime(s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil, fmt.Errorf("corrupt time %q: %w", s, err)
	}
	return &t, nil
}

func formatTime(t time.Time) string { return t.Format(time.RFC3339Nano) }

// Items of each record, and records of each item.

func contractItem(c *store.Contract) (item, error) {
	rec := *c
	rec.Used = 0
	it, err := record(contractPK(c.ID), skContract, "contract", rec)
	if err != nil {
		return nil, err
	}
	it[aUsed], it[aSeats], it[aRevision] = n64(0), n64(int64(c.Appliances)), n64(int64(c.Revision))
	return it, nil
}

func contractOf(it item) (*store.Contract, error) {
	c, err := decode[store.Contract](it)
	if err != nil {
		return nil, err
	}
	used, err := getN(it, aUsed)
	c.Used = int(used)
	return c, err
}

// release is the part of a binding a release sets, kept in the attribute
// release (JSON, with the binding's field names) while the seat is free.
type release struct {
	Released         *time.Time `json:"released"`
	ReleasedSequence uint64     `json:"released_sequence,omitempty"`
	Receipt          string     `json:"receipt,omitempty"`
	ReleasedLicenses []string   `json:"released_licenses,omitempty"`
}

func bindingItem(b *store.Binding) (item, error) {
	rec := *b
	rec.Released, rec.ReleasedSequence, rec.Receipt, rec.ReleasedLicenses = nil, 0, "", nil
	it, err := record(contractPK(b.Contract), pBinding+b.Appliance, "binding", rec)
	if err != nil {
		return nil, err
	}
	it[aSeq] = u64(b.Sequence)
	if b.Released != nil {
		j, err := json.Marshal(release{b.Released, b.ReleasedSequence, b.Receipt, b.ReleasedLicenses})
		if err != nil {
			return nil, err
		}
		it[aRelease] = str(string(j))
	}
	return it, nil
}

func bindingOf(it item) (*store.Binding, error) {
	b, err := decode[store.Binding](it)
	if err != nil {
		return nil, err
	}
	if r := getS(it, aRelease); r != "" {
		var rel release
		if err := json.Unmarshal([]byte(r), &rel); err != nil {
			return nil, fmt.Errorf("corrupt release of binding %s: %w", b.Appliance, err)
		}
		b.Released, b.ReleasedSequence, b.Receipt, b.ReleasedLicenses = rel.Released, rel.ReleasedSequence, rel.Receipt, rel.ReleasedLicenses
	}
	return b, nil
}

func freedItem(f *store.FreedSeat, seq uint64) (item, error) {
	rec := *f
	rec.Retaken = ""
	it, err := record(contractPK(f.Contract), pFreed+num(seq), "freed", rec)
	if err != nil {
		return nil, err
	}
	it[aID] = str(f.ID)
	if f.Retaken != "" {
		it[aRetaken] = str(f.Retaken)
	}
	return it, nil
}

func freedOf(it item) (*store.FreedSeat, error) {
	f, err := decode[store.FreedSeat](it)
	if err != nil {
		return nil, err
	}
	f.Retaken = getS(it, aRetaken)
	return f, nil
}

// freedSK is the sort key of the freed seat with id appliance@seq.
func freedSK(id string) (string, bool) {
	i := strings.LastIndexByte(id, '@')
	if i < 0 {
		return "", false
	}
	seq, err := strconv.ParseUint(id[i+1:], 10, 64)
	if err != nil || strconv.FormatUint(seq, 10) != id[i+1:] {
		return "", false
	}
	return pFreed + num(seq), true
}

func licenseItem(l *store.License) (item, error) {
	rec := *l
	rec.SupersededBy, rec.Released = "", nil
	it, err := record(licensePK(l.ID), skLicense, "license", rec)
	if err != nil {
		return nil, err
	}
	it[aContract], it[aAppliance] = str(l.Contract), str(l.Appliance)
	if l.SupersededBy != "" {
		it[aSupersededBy] = str(l.SupersededBy)
	}
	if l.Released != nil {
		it[aReleased] = str(formatTime(*l.Released))
	}
	return it, nil
}

func licenseOf(it item) (*store.License, error) {
	l, err := decode[store.License](it)
	if err != nil {
		return nil, err
	}
	l.SupersededBy = getS(it, aSupersededBy)
	l.Released, err = parseTime(getS(it, aReleased))
	return l, err
}

// entryItem makes the ledger row with sequence seq, and sets the entry's ID.
func entryItem(e *store.Entry, seq uint64) (item, error) {
	rec := *e
	rec.ID = num(seq)
	return record(contractPK(e.Contract), pLedger+rec.ID, "entry", rec)
}

// Errors.

// fail wraps an error of the DynamoDB API with what the store was doing and,
// for a missing table, what to do about it.
func (s *Store) fail(what string, err error) error {
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return fmt.Errorf("failed to %s in DynamoDB table %s: the table does not exist; create it with `tenure-issuer create-table %s` (locally) or deploy issuer/deploy/template.yaml: %w", what, s.table, s.table, err)
	}
	return fmt.Errorf("failed to %s in DynamoDB table %s: %w", what, s.table, err)
}

// Reads.

func (s *Store) get(ctx context.Context, pk, sk string) (item, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, s.fail("read", err)
	}
	if len(out.Item) == 0 {
		return nil, store.ErrNotFound
	}
	return out.Item, nil
}

// query calls fn for every item of partition pk whose sort key starts with
// prefix, in sort-key order, reading every page.
func (s *Store) query(ctx context.Context, pk, prefix string, fn func(item) error) error {
	in := s.queryInput(pk, prefix)
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return s.fail("query", err)
		}
		for _, it := range out.Items {
			if err := fn(it); err != nil {
				return err
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

func (s *Store) queryInput(pk, prefix string) *dynamodb.QueryInput {
	return &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk AND begins_with(#sk, :prefix)"),
		ExpressionAttributeNames:  map[string]string{"#pk": aPK, "#sk": aSK},
		ExpressionAttributeValues: item{":pk": str(pk), ":prefix": str(prefix)},
		ConsistentRead:            aws.Bool(true),
	}
}

// page reads up to limit items of a contract with the sort-key prefix, after
// the cursor, and sets next when more follow. The cursor encodes the
// contract and the last sort key read, as the bbolt store's encodes its key.
func (s *Store) page(ctx context.Context, contract, prefix, cursor string, limit int, next *string) ([]item, error) {
	if limit <= 0 {
		limit = 100
	}
	in := s.queryInput(contractPK(contract), prefix)
	if cursor != "" {
		after, err := base64.RawURLEncoding.DecodeString(cursor)
		sk, ok := strings.CutPrefix(string(after), contract+"\x00")
		if err != nil || !ok || !strings.HasPrefix(sk, prefix) {
			return nil, fmt.Errorf("%w: bad cursor %q", store.ErrNotFound, cursor)
		}
		in.ExclusiveStartKey = key(contractPK(contract), sk)
	}
	var out []item
	for {
		// One more than asked tells whether a next page exists.
		in.Limit = aws.Int32(int32(min(limit+1-len(out), 1000)))
		res, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, s.fail("query", err)
		}
		out = append(out, res.Items...)
		if len(out) > limit {
			out = out[:limit]
			*next = base64.RawURLEncoding.EncodeToString([]byte(contract + "\x00" + getS(out[limit-1], aSK)))
			return out, nil
		}
		if len(res.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
}

// licenses fetches licenses by id, in the order of ids.
func (s *Store) licenses(ctx context.Context, ids []string) ([]store.License, error) {
	got := make(map[string]*store.License, len(ids))
	for chunk := range slices.Chunk(ids, 100) {
		var keys []item
		for _, id := range chunk {
			if _, dup := got[id]; !dup {
				got[id] = nil
				keys = append(keys, key(licensePK(id), skLicense))
			}
		}
		req := map[string]types.KeysAndAttributes{s.table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
		for attempt := 0; len(req) > 0 && len(req[s.table].Keys) > 0; attempt++ {
			if attempt > 0 {
				if err := backoff(ctx, attempt); err != nil {
					return nil, err
				}
			}
			out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, s.fail("read licenses", err)
			}
			for _, it := range out.Responses[s.table] {
				l, err := licenseOf(it)
				if err != nil {
					return nil, err
				}
				got[l.ID] = l
			}
			req = out.UnprocessedKeys
		}
	}
	out := make([]store.License, 0, len(ids))
	for _, id := range ids {
		l := got[id]
		if l == nil {
			return nil, fmt.Errorf("corrupt table %s: license %s is listed but missing", s.table, id)
		}
		out = append(out, *l)
	}
	return out, nil
}

func (s *Store) Contract(ctx context.Context, id string) (*store.Contract, error) {
	it, err := s.get(ctx, contractPK(id), skContract)
	if err != nil {
		return nil, err
	}
	return contractOf(it)
}

func (s *Store) Revisions(ctx context.Context, id string) (out []store.Revision, err error) {
	err = s.query(ctx, contractPK(id), pRevision, func(it item) error {
		r, err := decode[store.Revision](it)
		if err == nil {
			out = append(out, *r)
		}
		return err
	})
	return out, err
}

func (s *Store) TokenContract(ctx context.Context, tokenHash string) (string, error) {
	it, err := s.get(ctx, tokenPK(tokenHash), skToken)
	if err != nil {
		return "", err
	}
	return getS(it, aContract), nil
}

func (s *Store) Binding(ctx context.Context, contract, appliance string) (*store.Binding, error) {
	it, err := s.get(ctx, contractPK(contract), pBinding+appliance)
	if err != nil {
		return nil, err
	}
	return bindingOf(it)
}

func (s *Store) Bindings(ctx context.Context, contract string) (out []store.Binding, err error) {
	err = s.query(ctx, contractPK(contract), pBinding, func(it item) error {
		b, err := bindingOf(it)
		if err == nil {
			out = append(out, *b)
		}
		return err
	})
	return out, err
}

func (s *Store) FreedSeats(ctx context.Context, contract string) (out []store.FreedSeat, err error) {
	err = s.query(ctx, contractPK(contract), pFreed, func(it item) error {
		f, err := freedOf(it)
		if err == nil && f.Retaken == "" {
			out = append(out, *f)
		}
		return err
	})
	return out, err
}

func (s *Store) License(ctx context.Context, id string) (*store.License, error) {
	it, err := s.get(ctx, licensePK(id), skLicense)
	if err != nil {
		return nil, err
	}
	return licenseOf(it)
}

func (s *Store) ApplianceLicenses(ctx context.Context, contract, appliance string) ([]store.License, error) {
	var ids []string
	err := s.query(ctx, contractPK(contract), applIssuedPrefix(appliance), func(it item) error {
		// The prefix also matches appliances whose id continues with "#".
		if getS(it, aAppliance) == appliance {
			ids = append(ids, getS(it, aLicense))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.licenses(ctx, ids)
}

func (s *Store) Licenses(ctx context.Context, contract, cursor string, limit int) ([]store.License, string, error) {
	var next string
	items, err := s.page(ctx, contract, pIssued, cursor, limit, &next)
	if err != nil {
		return nil, "", err
	}
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = getS(it, aLicense)
	}
	out, err := s.licenses(ctx, ids)
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

func (s *Store) Idempotent(ctx context.Context, contract, k string) (*store.Idempotency, error) {
	it, err := s.get(ctx, contractPK(contract), pIdem+k)
	if err != nil {
		return nil, err
	}
	return decode[store.Idempotency](it)
}

func (s *Store) Ledger(ctx context.Context, contract, cursor string, limit int) ([]store.Entry, string, error) {
	var next string
	items, err := s.page(ctx, contract, pLedger, cursor, limit, &next)
	if err != nil {
		return nil, "", err
	}
	out := make([]store.Entry, 0, len(items))
	for _, it := range items {
		e, err := decode[store.Entry](it)
		if err != nil {
			return nil, "", err
		}
		out = append(out, *e)
	}
	return out, next, nil
}

// Writes.

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
		again, rank := false, len(steps)+1
		var refused error
		for i, r := range tc.CancellationReasons {
			switch code := aws.ToString(r.Code); code {
			case "ConditionalCheckFailed":
				if i >= len(steps) {
					return s.fail("write", err)
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
				return s.fail("write", err)
			}
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

// contractItems makes the items every contract write puts: the contract,
// its revision and the ledger row, numbered by the contract's sequence.
func (s *Store) contractItems(ctx context.Context, c *store.Contract, rev *store.Revision, e *store.Entry) (ci, ri, ei item, seq uint64, err error) {
	if seq, err = s.sequence(ctx, e.Contract, 1); err != nil {
		return nil, nil, nil, 0, err
	}
	if ci, err = contractItem(c); err != nil {
		return nil, nil, nil, 0, err
	}
	if ri, err = record(contractPK(rev.Contract), pRevision+num(uint64(rev.Number)), "revision", rev); err != nil {
		return nil, nil, nil, 0, err
	}
	if ei, err = entryItem(e, seq); err != nil {
		return nil, nil, nil, 0, err
	}
	return ci, ri, ei, seq, nil
}

func (s *Store) CreateContract(ctx context.Context, c *store.Contract, tokenHash string, rev *store.Revision, e *store.Entry) error {
	ci, ri, ei, seq, err := s.contractItems(ctx, c, rev, e)
	if err != nil {
		return err
	}
	ti := key(tokenPK(tokenHash), skToken)
	ti[aKind], ti[aContract] = str("token"), str(c.ID)
	err = s.transact(ctx, []step{
		s.put(ci, absent, pkName, nil, conflict(0, "contract %s exists", c.ID)),
		s.put(ti, absent, pkName, nil, conflict(1, "token in use")),
		s.put(ri, "", nil, nil, never),
		s.put(ei, "", nil, nil, never),
	})
	if err == nil {
		e.ID = num(seq)
	}
	return err
}

func (s *Store) UpdateContract(ctx context.Context, c *store.Contract, rev *store.Revision, e *store.Entry) error {
	ci, ri, ei, seq, err := s.contractItems(ctx, c, rev, e)
	if err != nil {
		return err
	}
	err = s.transact(ctx, []step{
		// used stays as it is: the store keeps its own count.
		s.update(key(contractPK(c.ID), skContract), "SET #doc = :doc, #seats = :seats, #rev = :rev",
			"attribute_exists(#pk) AND #rev = :prev",
			map[string]string{"#pk": aPK, "#doc": aDoc, "#seats": aSeats, "#rev": aRevision},
			item{":doc": ci[aDoc], ":seats": ci[aSeats], ":rev": ci[aRevision], ":prev": n64(int64(c.Revision - 1))},
			func(old item) (int, error) {
				if old == nil {
					return 0, store.ErrNotFound
				}
				at, _ := getN(old, aRevision)
				return 1, fmt.Errorf("%w: contract %s is at revision %d, not %d", store.ErrConflict, c.ID, at, c.Revision-1)
			}),
		s.put(ri, "", nil, nil, never),
		s.put(ei, "", nil, nil, never),
	})
	if err == nil {
		e.ID = num(seq)
	}
	return err
}

// Ranks of Issue's conditions, in the order the bbolt store checks them.
const (
	rankIdempotency = iota
	rankLicense
	rankContract
	rankBinding
	rankSeat
	rankFreed
	rankSupersede
)

func (s *Store) Issue(ctx context.Context, op *store.Issue) error {
	l, bd := &op.License, &op.Binding
	var licSeq, logSeq uint64
	var err error
	if l.Contract == op.Entry.Contract {
		licSeq, err = s.sequence(ctx, l.Contract, 2)
		logSeq = licSeq + 1
	} else if licSeq, err = s.sequence(ctx, l.Contract, 1); err == nil {
		logSeq, err = s.sequence(ctx, op.Entry.Contract, 1)
	}
	if err != nil {
		return err
	}

	idem, err := record(contractPK(op.Idempotency.Contract), pIdem+op.Idempotency.Key, "request", op.Idempotency)
	if err != nil {
		return err
	}
	li, err := licenseItem(l)
	if err != nil {
		return err
	}
	bi, err := bindingItem(bd)
	if err != nil {
		return err
	}
	ei, err := entryItem(&op.Entry, logSeq)
	if err != nil {
		return err
	}
	steps := []step{
		s.put(idem, absent, pkName, nil, conflict(rankIdempotency, "request already activated on contract %s", op.Idempotency.Contract)),
		s.put(li, absent, pkName, nil, conflict(rankLicense, "license %s exists", l.ID)),
	}

	ck := key(contractPK(l.Contract), skContract)
	if op.Seat {
		steps = append(steps, s.update(ck, "SET #used = #used + :one", "attribute_exists(#pk) AND #used < #seats",
			map[string]string{"#pk": aPK, "#used": aUsed, "#seats": aSeats}, item{":one": n64(1)},
			func(old item) (int, error) {
				if old == nil {
					return rankContract, store.ErrNotFound
				}
				used, _ := getN(old, aUsed)
				seats, _ := getN(old, aSeats)
				return rankSeat, fmt.Errorf("%w: contract %s has %d of %d seats taken", store.ErrNoSeat, l.Contract, used, seats)
			}))
	} else {
		steps = append(steps, s.check(ck, "attribute_exists(#pk)", pkName,
			func(item) (int, error) { return rankContract, store.ErrNotFound }))
	}

	// The binding must be as the issuer read it.
	names := map[string]string{"#pk": aPK, "#seq": aSeq, "#release": aRelease}
	values := item{":prev": u64(op.Sequence)}
	var cond string
	switch {
	case op.Seat && op.Sequence == 0:
		cond = "attribute_not_exists(#pk) OR (attribute_exists(#release) AND #seq = :prev)"
	case op.Seat:
		// A missing item fails this condition too.
		cond = "attribute_exists(#release) AND #seq = :prev"
		delete(names, "#pk")
	default:
		cond = "attribute_exists(#pk) AND attribute_not_exists(#release) AND #seq = :prev"
	}
	steps = append(steps, s.put(bi, cond, names, values, func(old item) (int, error) {
		if old == nil {
			if !op.Seat {
				return rankBinding, fmt.Errorf("%w: appliance %s holds no seat on %s", store.ErrConflict, bd.Appliance, bd.Contract)
			}
			return rankBinding, fmt.Errorf("%w: binding of %s is gone", store.ErrConflict, bd.Appliance)
		}
		if _, released := old[aRelease]; op.Seat != released {
			return rankBinding, fmt.Errorf("%w: the seat of appliance %s changed meanwhile", store.ErrConflict, bd.Appliance)
		}
		seq, _ := getN(old, aSeq)
		return rankBinding, fmt.Errorf("%w: appliance %s sent sequence %d meanwhile", store.ErrConflict, bd.Appliance, seq)
	}))

	if op.Freed != "" {
		retaken := conflict(rankFreed, "freed seat %s was retaken meanwhile", op.Freed)
		sk, ok := freedSK(op.Freed)
		if !ok {
			// No freed seat has this id: a key no item has fails the check.
			sk = pFreed + "?" + op.Freed
		}
		steps = append(steps, s.update(key(contractPK(l.Contract), sk), "SET #retaken = :by",
			"attribute_exists(#pk) AND #id = :id AND attribute_not_exists(#retaken)",
			map[string]string{"#pk": aPK, "#id": aID, "#retaken": aRetaken},
			item{":id": str(op.Freed), ":by": str(bd.Appliance)}, retaken))
	}

	seen := map[string]bool{}
	for _, id := range l.Supersedes {
		if seen[id] {
			continue
		}
		seen[id] = true
		refuse := func(old item) (int, error) {
			if old == nil {
				return rankSupersede, fmt.Errorf("%w: superseded license %s: %w", store.ErrConflict, id, store.ErrNotFound)
			}
			return rankSupersede, fmt.Errorf("%w: license %s is already superseded or released", store.ErrConflict, id)
		}
		if id == l.ID {
			// The license cannot supersede itself: it does not exist yet.
			steps = append(steps, s.check(key(licensePK(id), "?"), "attribute_exists(#pk)", pkName, refuse))
			continue
		}
		steps = append(steps, s.update(key(licensePK(id), skLicense), "SET #by = :by",
			"attribute_exists(#pk) AND attribute_not_exists(#by) AND attribute_not_exists(#released)",
			map[string]string{"#pk": aPK, "#by": aSupersededBy, "#released": aReleased}, item{":by": str(l.ID)}, refuse))
	}

	idx := key(contractPK(l.Contract), pIssued+num(licSeq))
	idx[aKind], idx[aLicense] = str("issued"), str(l.ID)
	aidx := key(contractPK(l.Contract), applIssuedPrefix(l.Appliance)+num(licSeq))
	aidx[aKind], aidx[aLicense], aidx[aAppliance] = str("issued"), str(l.ID), str(l.Appliance)
	steps = append(steps,
		s.put(idx, "", nil, nil, never),
		s.put(aidx, "", nil, nil, never),
		s.put(ei, "", nil, nil, never),
	)
	if err := s.transact(ctx, steps); err != nil {
		return err
	}
	op.Entry.ID = num(logSeq)
	return nil
}

// Ranks of Free's conditions.
const (
	rankFreeBinding = iota
	rankFreeContract
	rankFreeLicense
)

func (s *Store) Free(ctx context.Context, op *store.Free) error {
	seq, err := s.sequence(ctx, op.Contract, 2)
	if err != nil {
		return err
	}
	freedSeq, logSeq := seq, seq+1
	at := op.At
	rel, err := json.Marshal(release{&at, op.Sequence, op.Receipt, op.Licenses})
	if err != nil {
		return err
	}
	fi, err := freedItem(&store.FreedSeat{ID: fmt.Sprintf("%s@%d", op.Appliance, freedSeq), Contract: op.Contract,
		Appliance: op.Appliance, Freed: op.At, Until: op.Until, Revision: op.Revision}, freedSeq)
	if err != nil {
		return err
	}
	ei, err := entryItem(&op.Entry, logSeq)
	if err != nil {
		return err
	}

	// floor: the contract counts no seat taken, so the seat count stays at
	// zero rather than going below it.
	for floor := false; ; floor = true {
		steps := []step{
			s.update(key(contractPK(op.Contract), pBinding+op.Appliance), "SET #release = :release",
				"attribute_exists(#pk) AND attribute_not_exists(#release)",
				map[string]string{"#pk": aPK, "#release": aRelease}, item{":release": str(string(rel))},
				func(old item) (int, error) {
					if old == nil {
						return rankFreeBinding, fmt.Errorf("appliance %s on contract %s: %w", op.Appliance, op.Contract, store.ErrNotFound)
					}
					return rankFreeBinding, fmt.Errorf("%w: the seat of appliance %s is already free", store.ErrConflict, op.Appliance)
				}),
		}
		ck := key(contractPK(op.Contract), skContract)
		noContract := func(old item) (int, error) {
			if old == nil {
				return rankFreeContract, store.ErrNotFound
			}
			return rankFreeContract, errFloor
		}
		if floor {
			steps = append(steps, s.check(ck, "attribute_exists(#pk)", pkName, noContract))
		} else {
			steps = append(steps, s.update(ck, "SET #used = #used - :one", "attribute_exists(#pk) AND #used > :zero",
				map[string]string{"#pk": aPK, "#used": aUsed}, item{":one": n64(1), ":zero": n64(0)}, noContract))
		}
		steps = append(steps, s.put(fi, "", nil, nil, never))
		seen := map[string]bool{}
		for _, id := range op.Licenses {
			if seen[id] {
				continue
			}
			seen[id] = true
			steps = append(steps, s.update(key(licensePK(id), skLicense), "SET #released = if_not_exists(#released, :at)",
				"attribute_exists(#pk) AND #contract = :contract AND #appliance = :appliance",
				map[string]string{"#pk": aPK, "#released": aReleased, "#contract": aContract, "#appliance": aAppliance},
				item{":at": str(formatTime(at)), ":contract": str(op.Contract), ":appliance": str(op.Appliance)},
				func(old item) (int, error) {
					if old == nil {
						return rankFreeLicense, fmt.Errorf("%w: license %s: %w", store.ErrConflict, id, store.ErrNotFound)
					}
					return rankFreeLicense, fmt.Errorf("%w: license %s is not %s's on %s", store.ErrConflict, id, op.Appliance, op.Contract)
				}))
		}
		steps = append(steps, s.put(ei, "", nil, nil, never))
		err := s.transact(ctx, steps)
		if errors.Is(err, errFloor) && !floor {
			continue
		}
		if err == nil {
			op.Entry.ID = num(logSeq)
		}
		return err
	}
}

var errFloor = errors.New("no seat counted as taken")

func (s *Store) Append(ctx context.Context, e *store.Entry) error {
	seq, err := s.sequence(ctx, e.Contract, 1)
	if err != nil {
		return err
	}
	it, err := entryItem(e, seq)
	if err != nil {
		return err
	}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: it}); err != nil {
		return s.fail("append to the ledger", err)
	}
	e.ID = num(seq)
	return nil
}
