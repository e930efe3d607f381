package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenurehq/tenure/issuer/internal/issuertest"
	"github.com/tenurehq/tenure/shared/engine"
)

// cli runs tenure-issuer with args and stdin and wants the exit code; it
// returns stdout and stderr.
func cli(t *testing.T, want int, stdin string, args ...string) (string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	if code := runInput(t.Context(), args, strings.NewReader(stdin), &out, &errb); code != want {
		t.Fatalf("tenure-issuer %q: exit %d, want %d:\n%s%s", args, code, want, out.String(), errb.String())
	}
	return out.String(), errb.String()
}

// lines is text's lines, the last line break aside.
func lines(text string) []string {
	return strings.Split(strings.TrimSuffix(text, "\n"), "\n")
}

// contractFile writes the order of a contract with seats to a file.
func contractFile(t *testing.T, change string, seats int) string {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"customer": "ACME Networks", "product": "edge", "tier": "pro", "kind": "commercial",
		"features": []string{"scion", "vpn"}, "limits": map[string]int{"vpn_users": 250}, "appliances": seats,
		"term_months": 12, "change": change, "status": "active"})
	path := filepath.Join(t.TempDir(), "contract.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// shownToken is the token a command printed on its last line.
func shownToken(t *testing.T, out string) string {
	t.Helper()
	ls := lines(out)
	tok := ls[len(ls)-1]
	if !strings.HasPrefix(tok, "tnc_") && len(tok) < 20 {
		t.Fatalf("no token in %q", out)
	}
	return tok
}

// column is where header's column name starts in the table's header line.
func column(t *testing.T, table, name string) int {
	t.Helper()
	i := strings.Index(lines(table)[0], name)
	if i < 0 {
		t.Fatalf("table has no column %s:\n%s", name, table)
	}
	return i
}

// TestOperatorCommands runs the operator commands against a real serve:
// contract put from a file and stdin, contracts, ledger, anomalies and
// rotate-token, as tables and JSON, across pages.
func TestOperatorCommands(t *testing.T) {
	clearEnv(t)
	t.Setenv("TENURE_NOW", "2026-01-05T10:00:00Z")
	t.Setenv("TENURE_ADMIN_TOKEN", testAdmin)
	srv := startServe(t, filepath.Join(t.TempDir(), "issuer"))
	defer srv.stop()
	t.Setenv("TENURE_ISSUER_URL", srv.addr)
	defer func(n int) { pageSize = n }(pageSize)
	pageSize = 2 // three contracts and three ledger rows cross pages

	out, _ := cli(t, 0, "", "contract", "put", "IC-1", contractFile(t, "order", 3))
	if !strings.HasPrefix(out, "created contract IC-1;") {
		t.Fatalf("contract put printed %q", out)
	}
	token := shownToken(t, out)
	if code, body := srv.call(t, "GET", "/v1/contracts/IC-1", token, nil); code != 200 {
		t.Fatalf("the token contract put printed: %d %s", code, body)
	}
	cli(t, 0, "", "contract", "put", "--json", "IC-2", contractFile(t, "order", 1))
	b, _ := os.ReadFile(contractFile(t, "order", 2))
	out, _ = cli(t, 0, string(b), "contract", "put", "IC-3", "-")
	if !strings.HasPrefix(out, "created contract IC-3;") {
		t.Fatalf("contract put from stdin printed %q", out)
	}
	out, _ = cli(t, 0, "", "contract", "put", "IC-1", contractFile(t, "correction", 3))
	if out != "changed contract IC-1 (active)\n" {
		t.Fatalf("contract put of a change printed %q", out)
	}

	if code, body := srv.activate(t, token, 1); code != 201 {
		t.Fatalf("activation: %d %s", code, body)
	}
	if code, body := srv.activate(t, token, 1); code != 409 { // the same appliance id, another device key
		t.Fatalf("activation of a copy: %d %s", code, body)
	}

	out, _ = cli(t, 0, "", "contracts")
	if ls := lines(out); len(ls) != 4 || !strings.HasPrefix(ls[1], "IC-1 ") || !strings.HasPrefix(ls[3], "IC-3 ") {
		t.Fatalf("contracts printed:\n%s", out)
	}
	if col := column(t, out, "SEATS USED"); !strings.HasPrefix(lines(out)[1][col:], "1/3") || !strings.HasPrefix(lines(out)[2][col:], "0/1") {
		t.Fatalf("contracts do not align the seats used under their heading:\n%s", out)
	}
	out, _ = cli(t, 0, "", "contracts", "--json")
	var list struct {
		Contracts []struct{ ID string }
		Next      *string
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Contracts) != 3 || list.Contracts[2].ID != "IC-3" || list.Next != nil {
		t.Fatalf("contracts --json printed %s (%v)", out, err)
	}

	out, _ = cli(t, 0, "", "ledger", "IC-1")
	ls := lines(out)
	if len(ls) != 5 {
		t.Fatalf("ledger printed %d lines, want a heading and 4 rows (order, correction, activation, refusal):\n%s", len(ls), out)
	}
	action, status := column(t, out, "ACTION"), column(t, out, "STATUS")
	for i, want := range []string{"order", "correction", "activation", "activation"} {
		if !strings.HasPrefix(ls[1+i][action:], want+" ") {
			t.Fatalf("ledger row %d is not %s:\n%s", i, want, out)
		}
	}
	if !strings.HasPrefix(ls[3][status:], "201 ") || !strings.HasPrefix(ls[4][status:], "409 ") || !strings.Contains(ls[3], "A-00000001") {
		t.Fatalf("ledger rows lack their status or appliance:\n%s", out)
	}
	out, _ = cli(t, 0, "", "ledger", "--json", "IC-1")
	var ledger struct {
		Entries []struct{ Action, License string }
	}
	if err := json.Unmarshal([]byte(out), &ledger); err != nil || len(ledger.Entries) != 4 || ledger.Entries[2].License == "" {
		t.Fatalf("ledger --json printed %s (%v)", out, err)
	}

	out, _ = cli(t, 0, "", "anomalies", "--contract", "IC-1")
	if ls := lines(out); len(ls) != 2 || !strings.Contains(ls[1], "identity_conflict") || !strings.HasPrefix(ls[1][column(t, out, "COUNT"):], "1 ") {
		t.Fatalf("anomalies printed:\n%s", out)
	}
	if out, _ = cli(t, 0, "", "anomalies", "--contract", "IC-2"); len(lines(out)) != 1 {
		t.Fatalf("anomalies of a contract without any printed:\n%s", out)
	}

	out, _ = cli(t, 0, "", "rotate-token", "IC-1")
	rotated := shownToken(t, out)
	if code, _ := srv.call(t, "GET", "/v1/contracts/IC-1", token, nil); code != 401 {
		t.Fatalf("the rotated token: %d, want 401", code)
	}
	if code, body := srv.call(t, "GET", "/v1/contracts/IC-1", rotated, nil); code != 200 {
		t.Fatalf("the new token: %d %s", code, body)
	}
	out, _ = cli(t, 0, "", "rotate-token", "IC-1", "--json")
	var rot struct{ Contract, Token string }
	if json.Unmarshal([]byte(out), &rot) != nil || rot.Contract != "IC-1" || rot.Token == "" || rot.Token == rotated {
		t.Fatalf("rotate-token --json printed %s", out)
	}

	// The admin token from a file.
	file := filepath.Join(t.TempDir(), "admin.token")
	os.WriteFile(file, []byte(testAdmin+"\n"), 0o600)
	t.Setenv("TENURE_ADMIN_TOKEN", "")
	if out, _ = cli(t, 0, "", "contracts", "--token-file", file); len(lines(out)) != 4 {
		t.Fatalf("contracts with --token-file printed:\n%s", out)
	}
	os.WriteFile(file, []byte("not-the-admin-token\n"), 0o600)
	_, errb := cli(t, 1, "", "contracts", "--token-file", file)
	if !regexp.MustCompile("^tenure-issuer: Unauthorized: .+\n$").MatchString(errb) {
		t.Fatalf("a wrong token printed %q, want one line with the problem", errb)
	}
}

// TestOperatorRefusals: the issuer's refusals are one line and exit 1;
// command lines the commands do not take are one line, a hint, exit 2.
func TestOperatorRefusals(t *testing.T) {
	clearEnv(t)
	t.Setenv("TENURE_ADMIN_TOKEN", testAdmin)
	srv := startServe(t, filepath.Join(t.TempDir(), "issuer"))
	defer srv.stop()
	t.Setenv("TENURE_ISSUER_URL", srv.addr+"/")
	defer func(n, m int) { pageSize, maxPages = n, m }(pageSize, maxPages)

	for _, args := range [][]string{
		{"ledger", "IC-404"},
		{"anomalies", "--contract", "IC-404"},
		{"usage", "IC-404"},
		{"rotate-token", "IC-404"},
		{"contract", "put", "IC-1", contractFile(t, "renewal", 3)},
	} {
		_, errb := cli(t, 1, "", args...)
		if !regexp.MustCompile(`^tenure-issuer: (Not Found|Conflict|Unprocessable Entity): \S.*\n$`).MatchString(errb) {
			t.Errorf("%q printed %q, want one line with the problem's title and detail", args, errb)
		}
	}
	_, errb := cli(t, 1, "", "ledger", "bad id")
	if !strings.HasPrefix(errb, "tenure-issuer: Bad Request: ") || len(lines(errb)) != 1 {
		t.Errorf("a malformed contract id printed %q", errb)
	}

	hint := regexp.MustCompile("^tenure-issuer: [^\n]+; run `tenure-issuer help`\n$")
	for _, args := range [][]string{
		{"ledger"},
		{"ledger", "IC-1", "IC-2"},
		{"contracts", "extra"},
		{"contracts", "--bogus"},
		{"contract"},
		{"contract", "get", "IC-1"},
		{"contract", "put", "IC-1"},
		{"rotate-token"},
		{"usage"},
		{"usage", "IC-1", "IC-2"},
		{"anomalies", "--contract"},
		{"nonsense"},
		{"contracts", "--url", "ftp://example.com"},
	} {
		if _, errb := cli(t, 2, "", args...); !hint.MatchString(errb) {
			t.Errorf("%q printed %q, want one line and the hint", args, errb)
		}
	}
	t.Setenv("TENURE_ISSUER_URL", "")
	if _, errb := cli(t, 2, "", "contracts"); !strings.Contains(errb, "TENURE_ISSUER_URL") || !hint.MatchString(errb) {
		t.Errorf("contracts without an issuer printed %q", errb)
	}
	t.Setenv("TENURE_ISSUER_URL", srv.addr)
	t.Setenv("TENURE_ADMIN_TOKEN", "")
	if _, errb := cli(t, 2, "", "contracts"); !strings.Contains(errb, "TENURE_ADMIN_TOKEN") || !hint.MatchString(errb) {
		t.Errorf("contracts without a token printed %q", errb)
	}
	for _, args := range [][]string{{"--help"}, {"help"}, {"contracts", "--help"}, {"ledger", "-h"}, {"serve", "--help"}} {
		if out, _ := cli(t, 0, "", args...); !strings.Contains(out, "tenure-issuer ledger ID") {
			t.Errorf("%q printed %q, want the usage", args, out)
		}
	}

	// A list longer than the pages a command follows is an error, not a
	// loop.
	t.Setenv("TENURE_ADMIN_TOKEN", testAdmin)
	for _, id := range []string{"IC-1", "IC-2", "IC-3"} {
		cli(t, 0, "", "contract", "put", id, contractFile(t, "order", 1))
	}
	pageSize, maxPages = 1, 2
	if _, errb := cli(t, 1, "", "contracts"); !strings.Contains(errb, "longer than 2 pages") {
		t.Errorf("a list over the page bound printed %q", errb)
	}
	maxPages = 3
	out, _ := cli(t, 0, "", "contracts", "--json")
	var list struct{ Contracts []struct{ ID string } }
	json.Unmarshal([]byte(out), &list)
	var got []string
	for _, c := range list.Contracts {
		got = append(got, c.ID)
	}
	if !slices.Equal(got, []string{"IC-1", "IC-2", "IC-3"}) {
		t.Errorf("contracts over three pages of one = %v", got)
	}
}

// TestOperatorUsage: usage ID prints a contract's peaks against the
// effective limits and each appliance's latest report, across the pages of
// the contract's view, as a table and as JSON.
func TestOperatorUsage(t *testing.T) {
	clearEnv(t)
	t.Setenv("TENURE_NOW", "2026-02-01T10:00:00Z")
	t.Setenv("TENURE_ADMIN_TOKEN", testAdmin)
	srv := startServe(t, filepath.Join(t.TempDir(), "issuer"))
	defer srv.stop()
	t.Setenv("TENURE_ISSUER_URL", srv.addr)
	defer func(n int) { pageSize = n }(pageSize)
	pageSize = 1 // two appliances cross pages

	out, _ := cli(t, 0, "", "contract", "put", "IC-1", contractFile(t, "order", 3))
	token := shownToken(t, out)
	now := time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC)
	reporting, quiet := issuertest.NewAppliance(t, 1), issuertest.NewAppliance(t, 2)
	for _, a := range []*issuertest.Appliance{reporting, quiet} {
		if code, body := srv.call(t, "POST", "/v1/activations", token, map[string]string{"contract": "IC-1", "request": a.LRF(t, now)}); code != 201 {
			t.Fatalf("activation: %d %s", code, body)
		}
	}
	if out, _ := cli(t, 0, "", "usage", "IC-1"); !strings.Contains(out, "A-00000001") || strings.Contains(lines(out)[1], "vpn_users") {
		t.Fatalf("usage before any report printed:\n%s", out)
	}
	report := reporting.Report(t, "IC-1", time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC),
		map[string]engine.Peaks{"vpn_users": {Allowed: 250, Denied: 300}}, map[string]int{"vpn": 27, "scion": 3})
	if code, body := srv.call(t, "POST", "/v1/reports", token, map[string]string{"contract": "IC-1", "report": report}); code != 201 {
		t.Fatalf("report: %d %s", code, body)
	}

	out, _ = cli(t, 0, "", "usage", "IC-1")
	ls := lines(out)
	if len(ls) != 6 || ls[2] != "" {
		t.Fatalf("usage printed %d lines, want the peaks' heading and row, a blank line, the appliances' heading and two rows:\n%s", len(ls), out)
	}
	peak := ls[1]
	for col, want := range map[string]string{"LIMIT": "vpn_users ", "PEAK": "300 ", "EFFECTIVE LIMIT": "250 ", "STANDING": "over ", "APPLIANCE": "A-00000001 ", "AT": "2026-02-01T00:00:00Z"} {
		if !strings.HasPrefix(peak[column(t, out, col):], want) {
			t.Errorf("the peak's %s is not %q:\n%s", col, want, out)
		}
	}
	apps := strings.Join(ls[3:], "\n")
	if !strings.HasPrefix(ls[4][column(t, apps, "FROM"):], "2026-01-05T00:00:00Z ") || !strings.Contains(ls[4], "vpn_users 250/300") ||
		!strings.Contains(ls[4], "scion 3, vpn 27") || !strings.HasPrefix(ls[5], "A-00000002 ") || !strings.Contains(ls[5], "no report yet") {
		t.Fatalf("usage's appliances:\n%s", out)
	}

	out, _ = cli(t, 0, "", "usage", "IC-1", "--json")
	var v struct {
		Contract string
		Peaks    map[string]struct {
			Peak, Limit int64
			Appliance   string
		}
		Appliances []struct {
			ID    string
			Usage *struct {
				Report   string
				Features map[string]int
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Contract != "IC-1" || v.Peaks["vpn_users"].Peak != 300 || v.Peaks["vpn_users"].Limit != 250 ||
		len(v.Appliances) != 2 || v.Appliances[0].Usage == nil || v.Appliances[0].Usage.Features["vpn"] != 27 || v.Appliances[1].Usage != nil {
		t.Fatalf("usage --json printed %s (%v)", out, err)
	}
}
