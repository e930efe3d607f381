// Package issuer is the vendor's license issuer: one net/http handler that
// keeps contracts, turns appliances' License Request Files into signed
// licenses sealed to each appliance, and frees seats from release receipts.
//
// # Running it
//
// The tenure-issuer command serves the handler locally (bbolt, a development
// key) or on AWS Lambda (DynamoDB, a KMS key). To embed it:
//
//	st, _ := bolt.Open("issuer.db")
//	h, err := issuer.New(issuer.Config{Store: st, Signers: signers, AdminToken: admin})
//	http.ListenAndServe("127.0.0.1:8080", h)
//
// # API
//
// JSON in and out, Authorization: Bearer TOKEN, errors as
// application/problem+json. Two kinds of token exist: the admin token, and one
// token per contract, shown once when the contract is created and stored only
// as its SHA-256.
//
//	PUT  /v1/contracts/{id}                admin           create (change "order") or change a contract
//	GET  /v1/contracts/{id}                contract, admin the contract, its appliances and licenses
//	POST /v1/activations                   contract, admin an LRF in, a sealed license out
//	POST /v1/releases                      contract, admin a release receipt frees a seat
//	POST /v1/contracts/{id}/reallocations  admin           free an appliance's seat without a receipt
//	GET  /v1/contracts                     admin           every contract, page by page
//	GET  /v1/contracts/{id}/ledger         contract, admin the contract's audit ledger, oldest first
//	GET  /v1/anomalies                     admin           what was off about appliances, one per kind, appliance, contract and day
//	POST /v1/contracts/{id}/token          admin           a new token for a contract; the old one stops working at once
//	POST /v1/clock-resets                  admin           an LRF in, a signed clock reset out, for an appliance whose clock ran ahead
//	POST /v1/reports                       contract, admin a usage report in: the true-up of a site that never connects
//	GET  /v1/products                      anyone          the loaded product versions: id, sha256, features, tier names
//	GET  /v1/keys                          anyone          the verifier keys licenses are signed with
//	GET  /healthz                          anyone          {"ok": true}
//	GET  /                                 anyone          the self-service page (package web): activate from a laptop
//
// Checks run in one order, so a client always learns the first thing to fix:
// 405 a known path with another method (with Allow), 413 too large (bodies
// over 128 KiB, documents in them over 64 KiB), 401 no or unknown token (503
// "admin-token-unavailable" instead while an admin token kept in a secret
// store, [Config.AdminTokenSource], cannot be read), 400 malformed, 403 a
// token without rights, then an idempotent replay (200), 503 "clock-behind"
// on a signing route (below), 422 refused by a rule, 409 no free seat or a
// conflict with the issuer's records.
//
// # Issuing
//
// The issuer decides from its own records: the contract's revisions, the
// appliance's current licenses (its chain) and the seats freed by releases,
// with [engine.Decide] applying the effective-date rules. The first
// activation of an appliance pins its device key and platform; later
// requests signed by another key, from a platform that no longer matches, or
// with a sequence that does not grow are refused and recorded. Every
// decision, accepted or refused, is appended to the contract's audit ledger.
//
// # History
//
// LRFs and receipts carry the head of the appliance's hash-chained history
// and the entries since the head its newest license names, and a license
// carries the head of the LRF it answers. The issuer keeps, per appliance
// across contracts, the newest accepted head (the baseline), the heads seen
// in accepted documents and the heads of accepted receipts, and judges each
// document after its identity and before its sequence: one whose history
// holds the baseline continues it; one whose own head was seen before is
// stale (an LRF is then 409 "stale", a receipt is processed as usual);
// otherwise it is a fork: refused with 409 "history-fork" and recorded as
// history_fork when it abandons an accepted release, until an admin
// reallocation names the appliance on that release's contract, else
// accepted as a restore, recorded as history_restore, its head the new
// baseline. A document without a history (an older validator) is accepted,
// and the next one with a history is the baseline.
// The same LRF sent to the same contract again gets the stored license back.
//
// # Usage reports
//
// A site that never connects trues up with usage reports (`tenure report`,
// a tenure.usage/v1 signed with the device key). POST /v1/reports verifies
// one against the key pinned on the appliance's seat, held or released,
// judges its history as a receipt's (stale is processed as usual) and keeps
// the named contract's section, once per signed report. The contract's peaks
// keep, per limit, the largest value an appliance was checked at, with its
// effective limit then (its largest base contract's, plus its addons');
// GET /v1/contracts/{id} shows them and each appliance's latest report. A
// report whose period does not start where the previous one ended is
// recorded as usage_gap. Usage over a limit is a fact, never a refusal.
//
// # Clocks
//
// An LRF created more than a day after the issuer's clock is refused (422
// "clock-ahead"): the appliance's clock ran ahead, and it keeps the latest
// time it has seen. An admin answers that LRF with a clock reset (POST
// /v1/clock-resets): a tenure.clock/v1 document signed by the issuer's keys
// that, installed on the appliance, brings its clock back to the issuer's
// time. A receipt is accepted whatever its date; one more than a day ahead
// is recorded as clock_ahead.
//
// The issuer watches its own clock too: while it is more than a day behind
// the largest issued time it has signed ([BehindSlack]), the signing routes
// (activations, clock resets) answer 503 "clock-behind", until the clock is
// set right or an admin accepts it with `tenure-issuer clock-ack` ([AckClock]).
package issuer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tenurehq/tenure/issuer/internal/store"
	"github.com/tenurehq/tenure/schema"
	"github.com/tenurehq/tenure/shared/engine"
)

// Size limits of the HTTP API.
const (
	// MaxBody is the largest request body: room for a 64 KiB document and
	// its JSON escaping.
	MaxBody = 128 << 10
	// MaxDocument is the largest document (LRF, receipt) inside a body.
	MaxDocument = engine.MaxDocument
)

// Config configures a [Server].
type Config struct {
	Store store.Store

	// Signers sign every license; during a key rotation, the old and the new
	// key. Each must name its verifier key (a VerifierKey() string method,
	// as the signer package's signers have) or have it listed in Keys.
	Signers []note.Signer
	// Keys are verifier keys for signers that cannot name their own.
	Keys []string

	// AdminToken is the bearer token of the vendor's staff. Empty, with no
	// AdminTokenSource, disables the admin routes.
	AdminToken string

	// AdminTokenSource, instead of AdminToken, reads the admin token where
	// it is kept (on Lambda, Secrets Manager or SSM). It is called on the
	// first request whose bearer token is not a contract's, never in New,
	// and its token is kept once read. While it fails, such requests are
	// answered 503 "admin-token-unavailable" and the next one calls it
	// again; contract tokens keep working.
	AdminTokenSource func(ctx context.Context) (string, error)

	// Now is the issuer's clock; nil means time.Now.
	Now func() time.Time

	// Logger receives one JSON line per request; nil discards.
	Logger *slog.Logger

	// Products the issuer licenses, read with engine.ParseProduct; several
	// versions of one product id may be given, the oldest first. Nil means
	// the example product, edge.
	Products []*engine.Product
}

// Server is the issuer's HTTP handler.
type Server struct {
	store     store.Store
	signers   []note.Signer
	keys      []string
	admin     *adminToken
	now       func() time.Time
	log       *slog.Logger
	catalog   *catalog
	mux       *http.ServeMux
	randomIDs func() string
	clk       *issuerClock
}

// New checks cfg and returns the handler.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("issuer: no store")
	}
	if len(cfg.Signers) == 0 {
		return nil, errors.New("issuer: no signing key")
	}
	s := &Server{store: cfg.Store, signers: cfg.Signers, now: cfg.Now, log: cfg.Logger, randomIDs: licenseID}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.clk = newIssuerClock(s.store, s.log)
	if cfg.AdminToken != "" && cfg.AdminTokenSource != nil {
		return nil, errors.New("issuer: both an admin token and an admin token source; give one")
	}
	s.admin = newAdminToken(cfg.AdminToken, cfg.AdminTokenSource)
	for _, sg := range cfg.Signers {
		vkey, err := verifierKey(sg, cfg.Keys)
		if err != nil {
			return nil, err
		}
		s.keys = append(s.keys, vkey)
	}
	products := cfg.Products
	if products == nil {
		p, err := engine.ParseProduct(schema.EdgeProduct)
		if err != nil {
			return nil, fmt.Errorf("issuer: example product: %w", err)
		}
		products = []*engine.Product{p}
	}
	var err error
	if s.catalog, err = newCatalog(products); err != nil {
		return nil, err
	}
	s.mux = s.newMux()
	return s, nil
}

// verifierKey finds the published key of a signer.
func verifierKey(sg note.Signer, keys []string) (string, error) {
	if v, ok := sg.(interface{ VerifierKey() string }); ok {
		return v.VerifierKey(), nil
	}
	for _, k := range keys {
		if v, err := note.NewVerifier(k); err == nil && v.Name() == sg.Name() && v.KeyHash() == sg.KeyHash() {
			return k, nil
		}
	}
	return "", fmt.Errorf("issuer: signer %s+%08x cannot name its verifier key; load it with the signer package or list its key in Config.Keys", sg.Name(), sg.KeyHash())
}

// ServeHTTP serves the API. A panic becomes a 500 problem and a log line,
// never a dropped connection.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic", "method", logMethod(r), "path", cut(r.URL.Path), "panic", fmt.Sprint(p))
			if !rec.wrote {
				s.fail(rec, r, problem(http.StatusInternalServerError, "internal", "the issuer failed; try again, and report it if it persists"))
			}
		}
		s.log.Info("request", "method", logMethod(r), "path", cut(r.URL.Path), "status", rec.status,
			"ms", float64(time.Since(start).Microseconds())/1000)
	}()
	if err := s.gate(rec, r); err != nil {
		s.fail(rec, r, err)
		return
	}
	s.mux.ServeHTTP(rec, r)
}

type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// clock returns the issuer's time as documents carry it.
func (s *Server) clock() time.Time { return engine.Normalize(s.now()) }
