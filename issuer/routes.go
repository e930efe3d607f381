package issuer

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/tenurehq/tenure/issuer/internal/store"
	"github.com/tenurehq/tenure/issuer/web"
)

// An access says whose token a route takes.
type access int

const (
	// anyone: a public route; Authorization is ignored.
	anyone access = iota
	// contractOrAdmin: the token of the contract the request acts for, or
	// the admin token.
	contractOrAdmin
	// adminOnly: the admin token. The handler refuses other tokens itself
	// (403), after its own 400s, as the API's check order has it.
	adminOnly
)

// A route is one method and path pattern the issuer serves, whose token it
// takes and its handler.
type route struct {
	method, pattern string
	who             access
	// doc names the body field that holds a document, whose size is
	// checked before the token (413).
	doc   string
	serve handler // nil for the self-service page, which package web serves
}

// api is every route the issuer serves, in the order of DESIGN.md's table.
// It is the one list: the mux registers it, the 405 answers take their Allow
// from it, the 404 answer names its routes, and the tests check it against
// schema/openapi.json and the package doc.
var api = []route{
	{"PUT", "/v1/contracts/{id}", adminOnly, "", (*Server).putContract},
	{"GET", "/v1/contracts/{id}", contractOrAdmin, "", (*Server).viewContract},
	{"POST", "/v1/activations", contractOrAdmin, "request", typed((*Server).activate)},
	{"POST", "/v1/releases", contractOrAdmin, "receipt", typed((*Server).release)},
	{"POST", "/v1/contracts/{id}/reallocations", adminOnly, "", typed((*Server).reallocate)},
	{"GET", "/v1/contracts", adminOnly, "", (*Server).listContracts},
	{"GET", "/v1/contracts/{id}/ledger", contractOrAdmin, "", (*Server).ledgerView},
	{"GET", "/v1/anomalies", adminOnly, "", (*Server).anomalies},
	{"POST", "/v1/contracts/{id}/token", adminOnly, "", optional((*Server).rotateToken)},
	{"POST", "/v1/clock-resets", adminOnly, "request", typed((*Server).clockReset)},
	{"POST", "/v1/reports", contractOrAdmin, "report", typed((*Server).report)},
	{"GET", "/v1/products", anyone, "", (*Server).getProducts},
	{"GET", "/v1/keys", anyone, "", (*Server).getKeys},
	{"GET", "/healthz", anyone, "", (*Server).health},
	// The self-service page: GET /, /app.js and /app.css.
	{"GET", "/{$}", anyone, "", nil},
	{"GET", "/app.js", anyone, "", nil},
	{"GET", "/app.css", anyone, "", nil},
}

// newMux serves api. What no route matches is answered as a problem, never
// the mux's plain text: 405 with Allow for a path a route serves with other
// methods, else 404 naming the API's routes.
func (s *Server) newMux() *http.ServeMux {
	m := http.NewServeMux()
	// paths holds each pattern without its method, so that the mux's own
	// matching tells a known path from an unknown one.
	paths := http.NewServeMux()
	allow := map[string][]string{}
	var routes []string
	for _, rt := range api {
		h := web.Handler()
		if rt.serve != nil {
			h = s.adapt(rt)
			routes = append(routes, rt.method+" "+rt.pattern)
		}
		m.Handle(rt.method+" "+rt.pattern, h)
		if allow[rt.pattern] == nil {
			paths.Handle(rt.pattern, http.NotFoundHandler())
		}
		allow[rt.pattern] = append(allow[rt.pattern], rt.method)
	}
	hint := strings.Join(routes, ", ")
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if _, p := paths.Handler(r); p != "" {
			methods := allowed(allow[p])
			w.Header().Set("Allow", methods)
			s.fail(w, r, problem(http.StatusMethodNotAllowed, "method-not-allowed", "%s does not take %s; it takes %s", cut(r.URL.Path), logMethod(r), methods))
			return
		}
		s.fail(w, r, problem(http.StatusNotFound, "not-found", "no route %s %s; the issuer serves %s", logMethod(r), cut(r.URL.Path), hint))
	})
	return m
}

// allowed is the Allow header of a path served with methods: a GET route
// also answers HEAD, as the mux has it.
func allowed(methods []string) string {
	methods = slices.Clone(methods)
	if slices.Contains(methods, http.MethodGet) {
		methods = append(methods, http.MethodHead)
	}
	slices.Sort(methods)
	return strings.Join(slices.Compact(methods), ", ")
}

func (s *Server) getKeys(ctx context.Context, c *call) (*answer, *store.Entry, error) {
	return ok(map[string]any{"keys": s.keys}), nil, nil
}

func (s *Server) health(ctx context.Context, c *call) (*answer, *store.Entry, error) {
	return ok(map[string]bool{"ok": true}), nil, nil
}
