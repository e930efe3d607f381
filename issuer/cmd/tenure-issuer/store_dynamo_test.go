package main

import (
	"bytes"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenurehq/tenure/issuer/internal/store/dynamo"
	"github.com/tenurehq/tenure/issuer/internal/store/dynamo/dynamotest"
)

func TestCreateTable(t *testing.T) {
	clearEnv(t)
	client := dynamotest.Client(t)
	table := dynamotest.Name(t)
	for range 2 { // the second run finds the table ready
		var out, errb bytes.Buffer
		if code := runContext(t.Context(), []string{"create-table", table}, &out, &errb); code != 0 {
			t.Fatalf("create-table: exit %d: %s", code, errb.String())
		}
		if !strings.Contains(out.String(), "TENURE_STORE=dynamodb:"+table) {
			t.Fatalf("create-table printed %q", out.String())
		}
	}
	t.Cleanup(func() { dynamotest.Delete(t, client, table) })
	if err := dynamo.New(client, table).Check(t.Context()); err != nil {
		t.Fatalf("the table create-table made: %v", err)
	}
	for _, args := range [][]string{{"create-table"}, {"create-table", "a", "b"}, {"create-table", "--bogus", "a"}} {
		var out, errb bytes.Buffer
		if code := runContext(t.Context(), args, &out, &errb); code != 2 || !strings.HasSuffix(errb.String(), "; run `tenure-issuer help`\n") || strings.Count(errb.String(), "\n") != 1 {
			t.Errorf("%q: exit %d, %s", args, code, errb.String())
		}
	}
}

// TestServeDynamo serves on TENURE_STORE=dynamodb:TABLE and finds the
// contract it was sent in the table.
func TestServeDynamo(t *testing.T) {
	clearEnv(t)
	client := dynamotest.Client(t)
	table := dynamotest.Table(t, client)
	t.Setenv("TENURE_STORE", "dynamodb:"+table)
	t.Setenv("TENURE_ADMIN_TOKEN", "admin-token-for-the-test-0123456789")
	srv := startServe(t, filepath.Join(t.TempDir(), "issuer"))
	body := `{"customer":"ACME","product":"edge","tier":"pro","kind":"commercial","features":["scion","vpn"],
		"limits":{"vpn_users":250},"appliances":3,"term_months":12,"change":"order","status":"active"}`
	req, _ := http.NewRequest("PUT", srv.addr+"/v1/contracts/IC-1042", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer admin-token-for-the-test-0123456789")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("PUT contract: %d", resp.StatusCode)
	}
	if code := srv.stop(); code != 0 {
		t.Fatalf("serve exited %d: %s", code, srv.logs.String())
	}
	c, err := dynamo.New(client, table).Contract(t.Context(), "IC-1042")
	if err != nil || c.Appliances != 3 || c.Customer != "ACME" {
		t.Fatalf("contract in table %s: %+v, %v", table, c, err)
	}
	if !strings.Contains(srv.logs.String(), `"store":"dynamodb:`+table+`"`) {
		t.Fatalf("serve did not log its store: %s", srv.logs.String())
	}

	// A missing table stops serve before it listens, saying what to do.
	t.Setenv("TENURE_STORE", "dynamodb:"+table+"-missing")
	var errb bytes.Buffer
	if code := runContext(t.Context(), []string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, &bytes.Buffer{}, &errb); code != 1 ||
		!strings.Contains(errb.String(), "tenure-issuer create-table "+table+"-missing") {
		t.Fatalf("serve on a missing table: exit %d, %s", code, errb.String())
	}
}

// TestClockAckDynamo: on DynamoDB, clock-ack runs beside a serving issuer,
// which sees the acceptance at its next activation.
func TestClockAckDynamo(t *testing.T) {
	clearEnv(t)
	client := dynamotest.Client(t)
	table := dynamotest.Table(t, client)
	t.Setenv("TENURE_STORE", "dynamodb:"+table)
	t.Setenv("TENURE_ADMIN_TOKEN", testAdmin)
	srv, token := putBack(t, filepath.Join(t.TempDir(), "issuer"))
	out, _ := clockAckCase(t, 0, "--reason", "the clock is right; March was a typo")
	if !strings.Contains(out, "2026-03-01T10:00:00Z") {
		t.Fatalf("clock-ack printed %q", out)
	}
	if code, body := srv.activate(t, token, 3); code != 201 {
		t.Fatalf("activation after clock-ack beside the server: %d %s", code, body)
	}
	if code := srv.stop(); code != 0 {
		t.Fatalf("serve exited %d: %s", code, srv.logs.String())
	}
	if l := srv.logs.String(); !strings.Contains(l, `"msg":"issuer clock accepted"`) || !strings.Contains(l, "March was a typo") {
		t.Fatalf("the server did not log the acceptance it found:\n%s", l)
	}
}
