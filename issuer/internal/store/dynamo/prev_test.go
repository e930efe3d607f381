package dynamo_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/mod/sumdb/note"

	"github.com/tenurehq/tenure/issuer"
	"github.com/tenurehq/tenure/issuer/internal/issuertest"
	"github.com/tenurehq/tenure/issuer/internal/signer"
	"github.com/tenurehq/tenure/issuer/internal/store"
	"github.com/tenurehq/tenure/issuer/internal/store/dynamo"
	"github.com/tenurehq/tenure/issuer/internal/store/dynamo/dynamotest"
	"github.com/tenurehq/tenure/shared/engine"
)

// prevServer is an issuer over st, at now, with the admin token admin.
func prevServer(t *testing.T, st store.Store, admin string, now time.Time) *httptest.Server {
	t.Helper()
	skey, _, _ := engine.GenerateKey(rand.Reader, "tenure-issuer-test")
	sg, err := signer.Parse(skey)
	if err != nil {
		t.Fatal(err)
	}
	h, err := issuer.New(issuer.Config{Store: st, Signers: []note.Signer{sg}, AdminToken: admin,
		Now: func() time.Time { return now }, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func prevCall(t *testing.T, srv *httptest.Server, method, path, token string, body any, want int, out any) {
	t.Helper()
	var rd io.Reader = http.NoBody
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, srv.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, got)
	}
	if out != nil {
		if err := json.Unmarshal(got, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, got)
		}
	}
}

// TestPreviousTable: a table as the issuer before the operator routes left
// it (commit 433cb0a: contracts not listed in the CONTRACTS partition, no
// #TOKEN item naming a contract's token; every other item as now) serves
// the new routes: the first list of contracts scans for them once and
// marks the table, the token of a contract of then is found by a scan and
// rotated (the old token stops working at once), and its view pages.
//
// The table is written by today's store, then the items that commit did
// not write are deleted: its CreateContract was today's without them, and
// the rest of its items are today's (git diff 433cb0a --
// issuer/internal/store/dynamo shows only these two added).
func TestPreviousTable(t *testing.T) {
	client := dynamotest.Client(t)
	table := dynamotest.Table(t, client)
	ctx := t.Context()
	admin := "tna_" + rand.Text()
	now := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	srv := prevServer(t, dynamo.New(client, table), admin, now)
	tokens := map[string]string{}
	for _, c := range []struct {
		id    string
		seats int
	}{{"IC-1", 3}, {"IC-2", 1}} {
		var out struct{ Token string }
		prevCall(t, srv, "PUT", "/v1/contracts/"+c.id, admin, map[string]any{"customer": "ACME Networks", "product": "edge", "tier": "pro",
			"kind": "commercial", "features": []string{"scion", "vpn"}, "limits": map[string]int{"vpn_users": 250}, "appliances": c.seats,
			"term_months": 12, "change": "order", "status": "active"}, 201, &out)
		tokens[c.id] = out.Token
	}
	for n := 1; n <= 2; n++ {
		prevCall(t, srv, "POST", "/v1/activations", tokens["IC-1"], map[string]any{"contract": "IC-1", "request": issuertest.FirstLRF(t, n, now)}, 201, nil)
	}

	// As the previous commit left it.
	deleted := 0
	in := &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)}
	for {
		out, err := client.Scan(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range out.Items {
			pk := it["pk"].(*types.AttributeValueMemberS).Value
			sk := it["sk"].(*types.AttributeValueMemberS).Value
			// The listing of each contract, and each contract's #TOKEN
			// (a TOKEN#hash item has that sort key too, and stays).
			if pk == "CONTRACTS" || (strings.HasPrefix(pk, "CONTRACT#") && sk == "#TOKEN") {
				if _, err := client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table),
					Key: map[string]types.AttributeValue{"pk": it["pk"], "sk": it["sk"]}}); err != nil {
					t.Fatal(err)
				}
				deleted++
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	if deleted != 4 { // two listings, two token names
		t.Fatalf("deleted %d items the previous commit did not write, want 4", deleted)
	}

	// Today's issuer, a new process on that table.
	st := dynamo.New(client, table)
	srv = prevServer(t, st, admin, now.Add(time.Hour))
	var list struct {
		Contracts []struct {
			ID   string
			Used int
		}
	}
	prevCall(t, srv, "GET", "/v1/contracts", admin, nil, 200, &list)
	var ids []string
	for _, c := range list.Contracts {
		ids = append(ids, c.ID)
	}
	if !slices.Equal(ids, []string{"IC-1", "IC-2"}) || list.Contracts[0].Used != 2 {
		t.Fatalf("contracts of the previous table = %+v, want IC-1 (2 used) and IC-2", list.Contracts)
	}
	if _, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "CONTRACTS"}, "sk": &types.AttributeValueMemberS{Value: "#INDEXED"}}}); err != nil {
		t.Fatal(err)
	}
	// A contract created since lists itself, after the backfill.
	prevCall(t, srv, "PUT", "/v1/contracts/IC-0", admin, map[string]any{"customer": "ACME Networks", "product": "edge", "tier": "pro",
		"kind": "commercial", "features": []string{"scion"}, "limits": map[string]int{"vpn_users": 1}, "appliances": 1,
		"term_months": 12, "change": "order", "status": "active"}, 201, nil)
	cs, _, err := dynamo.New(client, table).Contracts(ctx, "", 10)
	if err != nil || len(cs) != 3 || cs[0].ID != "IC-0" {
		t.Fatalf("contracts after one more = %v, %v", cs, err)
	}

	// The token of then: it works, is found by a scan, rotated, and stops
	// working at once; the rotated one rotates again by its #TOKEN.
	prevCall(t, srv, "GET", "/v1/contracts/IC-1", tokens["IC-1"], nil, 200, nil)
	var rot struct{ Token string }
	prevCall(t, srv, "POST", "/v1/contracts/IC-1/token", admin, map[string]any{}, 200, &rot)
	prevCall(t, srv, "GET", "/v1/contracts/IC-1", tokens["IC-1"], nil, 401, nil)
	prevCall(t, srv, "GET", "/v1/contracts/IC-2", tokens["IC-2"], nil, 200, nil)
	var again struct{ Token string }
	prevCall(t, srv, "POST", "/v1/contracts/IC-1/token", admin, map[string]any{}, 200, &again)
	prevCall(t, srv, "GET", "/v1/contracts/IC-1", rot.Token, nil, 401, nil)

	// Its view, a page of one appliance at a time.
	var apps []string
	after := ""
	for range 5 {
		var v struct {
			Appliances []struct{ ID string }
			Licenses   []struct{ Appliance string }
			Next       string
		}
		p := "/v1/contracts/IC-1?limit=1"
		if after != "" {
			p += "&after=" + after
		}
		prevCall(t, srv, "GET", p, again.Token, nil, 200, &v)
		for i, a := range v.Appliances {
			if len(v.Licenses) <= i || v.Licenses[i].Appliance != a.ID {
				t.Fatalf("page %s: the licenses do not follow the appliances: %+v", p, v)
			}
			apps = append(apps, a.ID)
		}
		if after = v.Next; after == "" {
			break
		}
	}
	if !slices.Equal(apps, []string{"A-00000001", "A-00000002"}) {
		t.Fatalf("view pages = %v", apps)
	}
}
