package issuer

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

// HTTP conventions every request meets before its route (DESIGN.md, "Issuer
// HTTP API"): the first checks of the API's order, which the mux cannot make
// since they come before its 405, and the bounds of what a request may put in
// the log.

const (
	// MaxTarget is the longest request target (path and query) the issuer
	// reads; a longer one is 414, before anything else.
	MaxTarget = 8 << 10
	// logPathBytes is how much of a path a log line holds: enough to tell
	// routes and ids apart, never a client's megabyte.
	logPathBytes = 256
)

// gate runs the checks that precede routing: 414 a request target over
// MaxTarget; 404 a path that is not clean (the mux would redirect it with an
// HTML page); 413 a body over MaxBody, which it reads whole so that a
// chunked body is measured as one with a length is, and hands on.
func (s *Server) gate(w http.ResponseWriter, r *http.Request) error {
	if n := len(r.URL.EscapedPath()) + len(r.URL.RawQuery); n > MaxTarget {
		return problem(http.StatusRequestURITooLong, "uri-too-long", "the request target is %d bytes; the issuer reads at most %d (8 KiB)", n, MaxTarget)
	}
	if p := r.URL.Path; r.Method != http.MethodConnect && (p == "" || p[0] != '/' || cleanPath(p) != p) {
		return problem(http.StatusNotFound, "not-found", "no route %s %s; the issuer serves clean paths only, such as %s", logMethod(r), cut(p), cut(cleanPath(p)))
	}
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	b, err := readBody(w, r)
	if err != nil {
		return err
	}
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	return nil
}

// cleanPath is the path the mux would redirect p to, as net/http cleans it:
// path.Clean, keeping a trailing slash.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}

// checkType is the 415 of a body whose type is not JSON: application/json
// or any +json type, parameters allowed. A request without a body is never
// 415.
func checkType(r *http.Request, body []byte) error {
	if len(body) == 0 {
		return nil
	}
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return nil
	}
	if ct == "" {
		ct = "none"
	}
	return problem(http.StatusUnsupportedMediaType, "unsupported-type", "the body's Content-Type is %s; send JSON with Content-Type: application/json", cut(ct))
}

// cut bounds a client's text for a log line or an answer.
func cut(s string) string {
	if len(s) <= logPathBytes {
		return s
	}
	return strings.ToValidUTF8(s[:logPathBytes], "") + "…"
}

// logMethod is the request's method as the log shows it: a method is a
// short token, and a client's long one is cut like a path.
func logMethod(r *http.Request) string {
	if len(r.Method) > 16 {
		return r.Method[:16] + "…"
	}
	return r.Method
}

// isStatus reports whether err is a refusal with status.
func isStatus(err error, status int) (*apiError, bool) {
	var e *apiError
	if errors.As(err, &e) && e.Status == status {
		return e, true
	}
	return nil, false
}

// Refuse answers a request the Lambda adapter could not build (no method, a
// path that is no path, a body that is not the base64 it claims) as the
// handler answers its own refusals, malformed (or uri-too-long, first, for a
// target over MaxTarget), and logs it as it logs every request. It makes
// *Server a lambdahttp.Refuser.
func (s *Server) Refuse(w http.ResponseWriter, r *http.Request, status int, detail string) {
	start := time.Now()
	var err *apiError
	switch {
	case len(r.URL.Path) > MaxTarget:
		err = problem(http.StatusRequestURITooLong, "uri-too-long", "the request target is %d bytes; the issuer reads at most %d (8 KiB)", len(r.URL.Path), MaxTarget)
	default:
		err = problem(status, "malformed", "%s", cut(detail))
	}
	s.fail(w, r, err)
	s.log.Info("request", "method", logMethod(r), "path", cut(r.URL.Path), "status", err.Status,
		"ms", float64(time.Since(start).Microseconds())/1000, "adapter", true)
}
