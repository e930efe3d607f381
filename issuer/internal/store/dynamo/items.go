package dynamo

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

// Items of each record, and records of each item: a record is its JSON in
// doc, the attributes conditions test or updates change beside it.

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

// freedSK is the sort key of the freed seat with id appliance@seq
// ([store.Free.Seat]).
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
