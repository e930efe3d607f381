package issuer_test

import (
	"encoding/json"
	"go/parser"
	gotoken "go/token"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/tenurehq/tenure/issuer"
)

// TestPackageDocListsEveryRoute: the route list of the package doc is the
// route table's, with the same callers.
func TestPackageDocListsEveryRoute(t *testing.T) {
	f, err := parser.ParseFile(gotoken.NewFileSet(), "issuer.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	// "PUT  /v1/contracts/{id}   admin   create ..." in the doc's code block;
	// GET / is the self-service page, which the table serves from package web.
	line := regexp.MustCompile(`(?m)^\t(GET|PUT|POST|DELETE|PATCH) +(/\S*) +(anyone|contract, admin|admin) `)
	documented := map[string]string{}
	for _, m := range line.FindAllStringSubmatch(f.Doc.Text(), -1) {
		if m[2] != "/" {
			documented[m[1]+" "+m[2]] = m[3]
		}
	}
	for _, r := range issuer.Routes() {
		who, ok := documented[r.Route]
		switch {
		case !ok:
			t.Errorf("the package doc does not list %s", r.Route)
		case who != r.Who:
			t.Errorf("the package doc says %s takes %q; the route table says %q", r.Route, who, r.Who)
		}
		delete(documented, r.Route)
	}
	for r := range documented {
		t.Errorf("the package doc lists %s, which the route table does not", r)
	}
}

// TestUnrouted: a path a route serves answers another method 405 with the
// route table's methods in Allow; any other path 404, naming the routes.
// Both are problems.
func TestUnrouted(t *testing.T) {
	w := newWorld(t)
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"DELETE", "/v1/keys", 405, "GET, HEAD"},
		{"POST", "/healthz", 405, "GET, HEAD"},
		{"GET", "/v1/activations", 405, "POST"},
		{"DELETE", "/v1/contracts/IC-1", 405, "GET, HEAD, PUT"},
		{"GET", "/v1/contracts/IC-1/reallocations", 405, "POST"},
		{"POST", "/", 405, "GET, HEAD"},
		{"DELETE", "/app.js", 405, "GET, HEAD"},
		{"GET", "/v1/nothing", 404, ""},
		{"GET", "/v1/contracts/IC-1/ledger/x", 404, ""},
		{"GET", "/favicon.ico", 404, ""},
	} {
		req, _ := http.NewRequest(tc.method, w.srv.URL+tc.path, nil)
		resp, err := w.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var p struct {
			Status int
			Detail string
		}
		if resp.StatusCode != tc.status || resp.Header.Get("Allow") != tc.allow || resp.Header.Get("Content-Type") != "application/problem+json" ||
			json.Unmarshal(body, &p) != nil || p.Status != tc.status {
			t.Errorf("%s %s: %d, Allow %q, %s %s; want %d, Allow %q, a problem", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Allow"),
				resp.Header.Get("Content-Type"), body, tc.status, tc.allow)
			continue
		}
		if tc.status == 404 {
			for _, r := range issuer.Routes() {
				if !strings.Contains(p.Detail, r.Route) {
					t.Errorf("%s %s: the 404 does not name %s: %s", tc.method, tc.path, r.Route, p.Detail)
				}
			}
		}
	}
}
