package issuer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
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
		s.log.Error("internal error", "method", logMethod(r), "path", cut(r.URL.Path), "error", err.Error())
		e = problem(http.StatusInternalServerError, "internal", "the issuer could not complete the request; try again, and report it if it persists")
	}
	b, _ := json.Marshal(map[string]any{"type": problemBase + e.Slug, "title": http.StatusText(e.Status), "status": e.Status, "detail": e.Detail})
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", "Bearer")
	}
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
