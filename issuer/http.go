package issuer

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

// An apiError is a refusal with its HTTP status, answered as
// application/problem+json (RFC 9457).
type apiError struct {
	Status  int
	Slug    string // the last part of the problem type URI
	Detail  string
	Anomaly string // an identity anomaly to record with the refusal
}

func (e *apiError) Error() string { return e.Detail }

func problem(status int, slug, format string, args ...any) *apiError {
	return &apiError{Status: status, Slug: slug, Detail: fmt.Sprintf(format, args...)}
}

// problemBase prefixes every problem type.
const problemBase = "https://tenure.dev/problems/"

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var e *apiError
	if !errors.As(err, &e) {
		// A failure of the store or the signer, not of the input.
		s.log.Error("internal error", "method", r.Method, "path", r.URL.Path, "error", err.Error())
		e = problem(http.StatusInternalServerError, "internal", "the issuer could not complete the request; try again, and report it if it persists")
	}
	b, _ := json.Marshal(map[string]any{"type": problemBase + e.Slug, "title": http.StatusText(e.Status), "status": e.Status, "detail": e.Detail})
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(e.Status)
	w.Write(append(b, '\n'))
}

func (s *Server) reply(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own types reach here
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// readBody reads at most MaxBody bytes; more is 413, before anything else.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > MaxBody {
		return nil, problem(http.StatusRequestEntityTooLarge, "too-large", "the body is %d bytes; the limit is %d (128 KiB)", r.ContentLength, MaxBody)
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, problem(http.StatusRequestEntityTooLarge, "too-large", "the body is over %d bytes (128 KiB)", MaxBody)
	}
	if err != nil {
		return nil, problem(http.StatusBadRequest, "malformed", "failed to read the body: %v", err)
	}
	return b, nil
}

// checkDocument is the 413 check on a document inside a body. It runs
// before authentication, so it reads the body leniently: a malformed body is
// reported later, after the token.
func checkDocument(body []byte, field string) error {
	// A JSON string decodes to at most three bytes per byte of its text (an
	// invalid byte becomes U+FFFD), so a small body holds no large document
	// and needs no parsing here.
	if len(body) <= MaxDocument/3 {
		return nil
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return nil
	}
	var doc string
	if json.Unmarshal(fields[field], &doc) == nil && len(doc) > MaxDocument {
		return problem(http.StatusRequestEntityTooLarge, "too-large", "%s is %d bytes; a document may be at most %d (64 KiB)", field, len(doc), MaxDocument)
	}
	return nil
}

// decode parses a JSON body into v: one object, no unknown fields, nothing
// after it.
func decode(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return problem(http.StatusBadRequest, "malformed", "the body is not the expected JSON object: %v", err)
	}
	if dec.More() {
		return problem(http.StatusBadRequest, "malformed", "the body has data after its JSON object")
	}
	return nil
}

// A caller is who presented the request's token.
type caller struct {
	admin    bool
	contract string // the contract whose token it is
}

func (c caller) actor() string {
	if c.admin {
		return "admin"
	}
	return "contract"
}

// may reports whether the caller acts for the contract.
func (c caller) may(contract string) bool { return c.admin || c.contract == contract }

// authenticate finds the caller from the bearer token: 401 without one or for
// an unknown one.
//
// Contract tokens are stored as their SHA-256 and looked up by it, so a
// lookup's timing can tell at most something about the hash of a guess,
// never about a token; the admin token's hash is compared in constant time.
func (s *Server) authenticate(ctx context.Context, r *http.Request) (caller, error) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return caller{}, problem(http.StatusUnauthorized, "unauthorized", "send the admin token or the contract's token as Authorization: Bearer TOKEN")
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	if s.hasAdmin && subtle.ConstantTimeCompare(sum[:], s.admin[:]) == 1 {
		return caller{admin: true}, nil
	}
	id, err := s.store.TokenContract(ctx, hex.EncodeToString(sum[:]))
	if errors.Is(err, store.ErrNotFound) {
		return caller{}, problem(http.StatusUnauthorized, "unauthorized", "the token is not known here; use the token shown when the contract was created, or the admin token")
	}
	if err != nil {
		return caller{}, err
	}
	return caller{contract: id}, nil
}

// start runs the first checks every authenticated route shares: the body
// (413), the document in it (413), the token (401) and the JSON (400).
func (s *Server) start(w http.ResponseWriter, r *http.Request, docField string, v any) (caller, error) {
	body, err := readBody(w, r)
	if err != nil {
		return caller{}, err
	}
	if docField != "" {
		if err := checkDocument(body, docField); err != nil {
			return caller{}, err
		}
	}
	c, err := s.authenticate(r.Context(), r)
	if err != nil {
		return caller{}, err
	}
	if v != nil {
		if err := decode(body, v); err != nil {
			return caller{}, err
		}
	}
	return c, nil
}

var contractID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
var applianceID = regexp.MustCompile(`^A-[0-9a-z]{6,40}$`)

func checkContractID(id string) error {
	if !contractID.MatchString(id) {
		return problem(http.StatusBadRequest, "malformed", "%q is not a contract id (letters, digits, '.', '_', '-', up to 64, like IC-1042)", id)
	}
	return nil
}

// contract reads a contract for a caller already allowed to act for it.
func (s *Server) contract(ctx context.Context, id string) (*store.Contract, error) {
	c, err := s.store.Contract(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, problem(http.StatusNotFound, "not-found", "no contract %s; create it with PUT /v1/contracts/%s and change \"order\"", id, id)
	}
	return c, err
}

// record appends a ledger entry; a refusal is recorded with its status and
// detail. A ledger failure is logged: the refusal stands either way.
func (s *Server) record(ctx context.Context, e store.Entry, err error) {
	var ae *apiError
	if err != nil && errors.As(err, &ae) {
		e.Outcome, e.Status, e.Reason = store.Refused, ae.Status, ae.Detail
		if ae.Anomaly != "" {
			e.Anomaly = ae.Anomaly
		}
	}
	if e.At.IsZero() {
		e.At = s.clock()
	}
	if err := s.store.Append(ctx, &e); err != nil {
		s.log.Error("failed to append to the ledger", "contract", e.Contract, "action", e.Action, "error", err.Error())
	}
}

// licenseID returns "L-" and 26 random base32 characters (130 bits).
func licenseID() string { return "L-" + rand.Text() }

// newToken returns a contract token: 256 random bits.
func newToken() string { return "tnr_" + rand.Text() + rand.Text() }

func hashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
