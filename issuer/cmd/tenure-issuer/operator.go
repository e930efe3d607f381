package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/tenurehq/tenure/issuer"
)

// The operator commands: clients of a running issuer's admin routes
// (DESIGN.md, "Issuer HTTP API"), for the vendor's staff.

var (
	// pageSize is the limit= of each page a list command reads: the
	// largest the API allows, so that a list costs few requests. Tests
	// make it small to cross pages.
	pageSize = issuer.MaxPage
	// maxPages bounds the pages one list command follows, so that an
	// issuer that answers a next cursor forever cannot keep it running:
	// 10,000 pages of 500 are five million items, more than any vendor's
	// contracts or a contract's ledger holds.
	maxPages = 10000
)

// maxAnswer bounds an answer the commands read: a page is at most 256 KiB
// (issuer.MaxPageBytes); the rest are small.
const maxAnswer = 4 << 20

// An operator is the issuer and the admin token the operator commands use,
// and how they print.
type operator struct {
	base   *url.URL
	token  string
	json   bool
	client *http.Client
	stdout io.Writer
}

// operatorFlags are the flags every operator command takes.
type operatorFlags struct {
	url, tokenFile *string
	json           *bool
}

func newOperatorFlags(fs *flag.FlagSet) operatorFlags {
	return operatorFlags{
		url:       fs.String("url", "", ""),
		tokenFile: fs.String("token-file", "", ""),
		json:      fs.Bool("json", false, ""),
	}
}

// parseArgs parses args with fs, flags before, between and after the
// positional arguments (`ledger IC-1 --json`), and returns the positional
// ones.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		rest := fs.Args()
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// connect makes the operator of the flags: the issuer of --url or
// TENURE_ISSUER_URL, the admin token of --token-file or TENURE_ADMIN_TOKEN.
func (f operatorFlags) connect(stdout io.Writer) (*operator, error) {
	raw := *f.url
	if raw == "" {
		raw = os.Getenv("TENURE_ISSUER_URL")
	}
	if raw == "" {
		return nil, usageError{errors.New("no issuer: pass --url URL or set TENURE_ISSUER_URL, such as http://127.0.0.1:8080")}
	}
	base, err := url.Parse(raw)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" || base.RawQuery != "" || base.Fragment != "" {
		return nil, usageError{fmt.Errorf("the issuer's URL %q is not an http or https URL such as http://127.0.0.1:8080", raw)}
	}
	base.Path = strings.TrimRight(base.Path, "/")
	token := ""
	if *f.tokenFile != "" {
		b, err := os.ReadFile(*f.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("failed to read the admin token: %w", err)
		}
		if token = strings.TrimSpace(string(b)); token == "" {
			return nil, fmt.Errorf("the admin token file %s is empty", *f.tokenFile)
		}
	} else if token = strings.TrimSpace(os.Getenv("TENURE_ADMIN_TOKEN")); token == "" {
		return nil, usageError{errors.New("no admin token: set TENURE_ADMIN_TOKEN or pass --token-file FILE (serve keeps one in .tenure/issuer/admin.token)")}
	}
	if strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return nil, errors.New("the admin token holds spaces or control characters; it is one word")
	}
	return &operator{base: base, token: token, json: *f.json, stdout: stdout,
		client: &http.Client{Timeout: 30 * time.Second}}, nil
}

// A refusal is the issuer's problem answer to an operator command.
type refusal struct {
	Status int    `json:"status"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
}

func (r *refusal) Error() string { return oneLine(r.Title + ": " + r.Detail) }

// call sends a request to path (with query) with body as JSON, when not nil,
// and returns the answer's body when its status is want.
func (o *operator) call(ctx context.Context, method, path string, query url.Values, body []byte, want ...int) (int, []byte, error) {
	u := *o.base
	u.Path += path
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+o.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := o.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("failed to reach the issuer: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return 0, nil, fmt.Errorf("failed to read the issuer's answer: %w", err)
	}
	if len(b) > maxAnswer {
		return 0, nil, fmt.Errorf("%s %s: the answer is over %d bytes; is %s an issuer?", method, path, maxAnswer, o.base)
	}
	for _, w := range want {
		if resp.StatusCode == w {
			return resp.StatusCode, b, nil
		}
	}
	var p refusal
	if strings.Contains(resp.Header.Get("Content-Type"), "json") && json.Unmarshal(b, &p) == nil && p.Title != "" {
		return 0, nil, &p
	}
	return 0, nil, fmt.Errorf("%s %s: the issuer answered %s, not a problem of the API; is %s an issuer?", method, path, resp.Status, o.base)
}

// list reads every page of the list at path, whose items are in field, and
// returns the items.
func (o *operator) list(ctx context.Context, path, field string, query url.Values) ([]json.RawMessage, error) {
	return o.pages(ctx, path, field, query, nil)
}

// pages is list, calling each (when not nil) with every page read, for
// what a page holds beside its items.
func (o *operator) pages(ctx context.Context, path, field string, query url.Values, each func(page map[string]json.RawMessage) error) ([]json.RawMessage, error) {
	if query == nil {
		query = url.Values{}
	}
	query.Set("limit", strconv.Itoa(pageSize))
	var items []json.RawMessage
	seen := map[string]bool{}
	for range maxPages {
		_, b, err := o.call(ctx, http.MethodGet, path, query, nil, http.StatusOK)
		if err != nil {
			return nil, err
		}
		var page map[string]json.RawMessage
		if err := json.Unmarshal(b, &page); err != nil {
			return nil, fmt.Errorf("GET %s: the answer is not a JSON object: %w", path, err)
		}
		var these []json.RawMessage
		if err := json.Unmarshal(page[field], &these); err != nil {
			return nil, fmt.Errorf("GET %s: the answer's %s is not a list: %w", path, field, err)
		}
		items = append(items, these...)
		if each != nil {
			if err := each(page); err != nil {
				return nil, fmt.Errorf("GET %s: %w", path, err)
			}
		}
		var next string
		if raw, ok := page["next"]; ok {
			if err := json.Unmarshal(raw, &next); err != nil {
				return nil, fmt.Errorf("GET %s: the answer's next is not a cursor: %w", path, err)
			}
		}
		if next == "" {
			return items, nil
		}
		if seen[next] {
			return nil, fmt.Errorf("GET %s: the issuer gave the cursor %q twice; the list would never end", path, next)
		}
		seen[next] = true
		query.Set("after", next)
	}
	return nil, fmt.Errorf("GET %s: the list is longer than %d pages of %d; read it with the API's ?after= yourself", path, maxPages, pageSize)
}

// printJSON prints v indented.
func (o *operator) printJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(o.stdout, "%s\n", b)
	return err
}

// table prints rows under header, aligned.
func (o *operator) table(header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(o.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, c := range r {
			if cells[i] = oneLine(c); cells[i] == "" {
				cells[i] = "-"
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// oneLine makes text the issuer sent one line of a terminal: control
// characters (line breaks, tabs, escape sequences) become spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// operatorCommand parses an operator command's flags and positional
// arguments (exactly len(names) of them) and connects.
func operatorCommand(name string, args []string, stdout io.Writer, names ...string) (*operator, []string, *flag.FlagSet, error) {
	fs := flags(name)
	of := newOperatorFlags(fs)
	return operatorParse(fs, of, name, args, stdout, names...)
}

func operatorParse(fs *flag.FlagSet, of operatorFlags, name string, args []string, stdout io.Writer, names ...string) (*operator, []string, *flag.FlagSet, error) {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return nil, nil, nil, usageError{fmt.Errorf("%s: %w", name, err)}
	}
	if len(pos) != len(names) {
		want := "no arguments"
		if len(names) > 0 {
			want = strings.Join(names, " ")
		}
		return nil, nil, nil, usageError{fmt.Errorf("%s takes %s, got %q", name, want, pos)}
	}
	o, err := of.connect(stdout)
	if err != nil {
		return nil, nil, nil, err
	}
	return o, pos, fs, nil
}

// contractsCommand is `tenure-issuer contracts`: every contract.
func contractsCommand(ctx context.Context, args []string, stdout io.Writer) error {
	o, _, _, err := operatorCommand("contracts", args, stdout)
	if err != nil {
		return err
	}
	items, err := o.list(ctx, "/v1/contracts", "contracts", nil)
	if err != nil {
		return err
	}
	if o.json {
		return o.printJSON(map[string]any{"contracts": items})
	}
	var rows [][]string
	for _, it := range items {
		var c struct {
			ID, Customer, Product, Tier, Kind, Status string
			Appliances, Used                          int
		}
		if err := json.Unmarshal(it, &c); err != nil {
			return fmt.Errorf("GET /v1/contracts: a contract is not the API's: %w", err)
		}
		rows = append(rows, []string{c.ID, c.Customer, c.Product, c.Tier, c.Kind, c.Status, fmt.Sprintf("%d/%d", c.Used, c.Appliances)})
	}
	return o.table([]string{"CONTRACT", "CUSTOMER", "PRODUCT", "TIER", "KIND", "STATUS", "SEATS USED"}, rows)
}

// ledgerCommand is `tenure-issuer ledger ID`: a contract's ledger, oldest
// first.
func ledgerCommand(ctx context.Context, args []string, stdout io.Writer) error {
	o, pos, _, err := operatorCommand("ledger", args, stdout, "ID")
	if err != nil {
		return err
	}
	items, err := o.list(ctx, "/v1/contracts/"+url.PathEscape(pos[0])+"/ledger", "entries", nil)
	if err != nil {
		return err
	}
	if o.json {
		return o.printJSON(map[string]any{"entries": items})
	}
	var rows [][]string
	for _, it := range items {
		var e struct {
			At                                  time.Time
			Action, Outcome, Appliance, License string
			Detail                              string
			Status                              int
		}
		if err := json.Unmarshal(it, &e); err != nil {
			return fmt.Errorf("GET the ledger: an entry is not the API's: %w", err)
		}
		rows = append(rows, []string{e.At.UTC().Format(time.RFC3339), e.Action, e.Outcome, strconv.Itoa(e.Status), e.Appliance, e.License, e.Detail})
	}
	return o.table([]string{"AT", "ACTION", "OUTCOME", "STATUS", "APPLIANCE", "LICENSE", "DETAIL"}, rows)
}

// anomaliesCommand is `tenure-issuer anomalies [--contract ID]`.
func anomaliesCommand(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flags("anomalies")
	of := newOperatorFlags(fs)
	contract := fs.String("contract", "", "")
	o, _, _, err := operatorParse(fs, of, "anomalies", args, stdout)
	if err != nil {
		return err
	}
	q := url.Values{}
	if *contract != "" {
		q.Set("contract", *contract)
	}
	items, err := o.list(ctx, "/v1/anomalies", "anomalies", q)
	if err != nil {
		return err
	}
	if o.json {
		return o.printJSON(map[string]any{"anomalies": items})
	}
	var rows [][]string
	for _, it := range items {
		var a struct {
			At                                time.Time
			Contract, Appliance, Kind, Detail string
			Count                             int64
		}
		if err := json.Unmarshal(it, &a); err != nil {
			return fmt.Errorf("GET /v1/anomalies: an anomaly is not the API's: %w", err)
		}
		rows = append(rows, []string{a.At.UTC().Format(time.DateOnly), a.Contract, a.Appliance, a.Kind, strconv.FormatInt(a.Count, 10), a.Detail})
	}
	return o.table([]string{"DAY", "CONTRACT", "APPLIANCE", "KIND", "COUNT", "DETAIL"}, rows)
}

// usageCommand is `tenure-issuer usage ID`: a contract's peaks of usage
// over every report, each against the effective limit of the appliance
// that reached it, and each appliance's latest report, from every page of
// the contract's view.
func usageCommand(ctx context.Context, args []string, stdout io.Writer) error {
	o, pos, _, err := operatorCommand("usage", args, stdout, "ID")
	if err != nil {
		return err
	}
	var contract, peaks json.RawMessage
	items, err := o.pages(ctx, "/v1/contracts/"+url.PathEscape(pos[0]), "appliances", nil, func(page map[string]json.RawMessage) error {
		// Every page carries the contract and its peaks; the first is kept,
		// as the command reports one moment.
		if peaks == nil {
			contract, peaks = page["contract"], page["peaks"]
		}
		if len(peaks) == 0 || string(peaks) == "null" {
			return errors.New("the answer has no peaks; is the issuer older than usage reports?")
		}
		return nil
	})
	if err != nil {
		return err
	}
	type usage struct {
		Report      string
		From, Until time.Time
		Limits      map[string]struct{ Allowed, Denied int64 }
		Features    map[string]int64
	}
	type appliance struct {
		ID    string          `json:"id"`
		Usage json.RawMessage `json:"usage,omitempty"`
	}
	var apps []appliance
	for _, it := range items {
		var a appliance
		if err := json.Unmarshal(it, &a); err != nil {
			return fmt.Errorf("GET the contract: an appliance is not the API's: %w", err)
		}
		apps = append(apps, a)
	}
	if o.json {
		var c struct {
			ID string `json:"id"`
		}
		json.Unmarshal(contract, &c)
		if apps == nil {
			apps = []appliance{}
		}
		return o.printJSON(map[string]any{"contract": c.ID, "peaks": peaks, "appliances": apps})
	}
	var byLimit map[string]struct {
		Peak, Limit int64
		Appliance   string
		At          time.Time
	}
	if err := json.Unmarshal(peaks, &byLimit); err != nil {
		return fmt.Errorf("GET the contract: its peaks are not the API's: %w", err)
	}
	var rows [][]string
	for _, name := range slices.Sorted(maps.Keys(byLimit)) {
		p := byLimit[name]
		standing := "within"
		if p.Peak > p.Limit {
			standing = "over"
		}
		rows = append(rows, []string{name, strconv.FormatInt(p.Peak, 10), strconv.FormatInt(p.Limit, 10), standing, p.Appliance, p.At.UTC().Format(time.RFC3339)})
	}
	if err := o.table([]string{"LIMIT", "PEAK", "EFFECTIVE LIMIT", "STANDING", "APPLIANCE", "AT"}, rows); err != nil {
		return err
	}
	fmt.Fprintln(o.stdout)
	rows = nil
	for _, a := range apps {
		if len(a.Usage) == 0 {
			rows = append(rows, []string{a.ID, "", "", "no report yet", ""})
			continue
		}
		var u usage
		if err := json.Unmarshal(a.Usage, &u); err != nil {
			return fmt.Errorf("GET the contract: the usage of %s is not the API's: %w", a.ID, err)
		}
		var limits, features []string
		for _, name := range slices.Sorted(maps.Keys(u.Limits)) {
			limits = append(limits, fmt.Sprintf("%s %d/%d", name, u.Limits[name].Allowed, u.Limits[name].Denied))
		}
		for _, name := range slices.Sorted(maps.Keys(u.Features)) {
			features = append(features, fmt.Sprintf("%s %d", name, u.Features[name]))
		}
		rows = append(rows, []string{a.ID, u.From.UTC().Format(time.RFC3339), u.Until.UTC().Format(time.RFC3339), strings.Join(limits, ", "), strings.Join(features, ", ")})
	}
	return o.table([]string{"APPLIANCE", "FROM", "UNTIL", "LIMITS (ALLOWED/DENIED)", "FEATURES (DAYS)"}, rows)
}

// rotateTokenCommand is `tenure-issuer rotate-token ID`: a new token for a
// contract; the old one stops working at once.
func rotateTokenCommand(ctx context.Context, args []string, stdout io.Writer) error {
	o, pos, _, err := operatorCommand("rotate-token", args, stdout, "ID")
	if err != nil {
		return err
	}
	_, b, err := o.call(ctx, http.MethodPost, "/v1/contracts/"+url.PathEscape(pos[0])+"/token", nil, []byte("{}"), http.StatusOK)
	if err != nil {
		return err
	}
	var out struct{ Contract, Token string }
	if err := json.Unmarshal(b, &out); err != nil || out.Token == "" {
		return fmt.Errorf("POST the token: the answer is not the API's: %s", oneLine(string(b)))
	}
	if o.json {
		return o.printJSON(json.RawMessage(b))
	}
	_, err = fmt.Fprintf(o.stdout, "contract %s: new token (shown once; the old one no longer works):\n%s\n", oneLine(out.Contract), oneLine(out.Token))
	return err
}

// contractCommand is `tenure-issuer contract put ID FILE`: PUT the
// contract in FILE (- for stdin).
func contractCommand(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "put" {
		return usageError{errors.New("contract takes put ID FILE")}
	}
	o, pos, _, err := operatorCommand("contract put", args[1:], stdout, "ID", "FILE")
	if err != nil {
		return err
	}
	var body []byte
	if pos[1] == "-" {
		body, err = io.ReadAll(io.LimitReader(stdin, issuer.MaxBody+1))
	} else {
		body, err = os.ReadFile(pos[1])
	}
	if err != nil {
		return fmt.Errorf("failed to read the contract: %w", err)
	}
	if !json.Valid(body) {
		return fmt.Errorf("%s is not JSON: write the whole contract as the API takes it, such as {\"customer\":\"ACME\",...,\"change\":\"order\"}", pos[1])
	}
	code, b, err := o.call(ctx, http.MethodPut, "/v1/contracts/"+url.PathEscape(pos[0]), nil, body, http.StatusCreated, http.StatusOK)
	if err != nil {
		return err
	}
	if o.json {
		return o.printJSON(json.RawMessage(b))
	}
	var out struct {
		Contract struct{ ID, Status string }
		Token    string
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Errorf("PUT the contract: the answer is not the API's: %s", oneLine(string(b)))
	}
	if code == http.StatusCreated {
		_, err = fmt.Fprintf(o.stdout, "created contract %s; its token (shown once):\n%s\n", oneLine(pos[0]), oneLine(out.Token))
		return err
	}
	_, err = fmt.Fprintf(o.stdout, "changed contract %s (%s)\n", oneLine(pos[0]), oneLine(out.Contract.Status))
	return err
}
