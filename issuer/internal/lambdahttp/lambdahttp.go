// Package lambdahttp runs an [http.Handler] as an AWS Lambda function.
//
// The issuer is one net/http handler. On Lambda it sits behind a Function
// URL or an API Gateway HTTP API; both deliver requests in the HTTP payload
// format 2.0 ([events.APIGatewayV2HTTPRequest]), so one adapter serves both.
// [Start] hands the handler to the Lambda runtime loop; [Handler] is the
// conversion itself, for tests and for callers that run their own loop.
//
// # Requests
//
// Each event becomes an [*http.Request] with the event's method, raw path and
// raw query string, its headers (Lambda joins repeated headers with commas;
// they arrive as one value), its cookies as one Cookie header, and its body,
// base64-decoded when the event says so. The request's context is the
// invocation's, so it carries the Lambda deadline, and RemoteAddr is the
// client's source IP as API Gateway or the Function URL saw it.
//
// An HTTP API on a named stage (not $default) puts the stage in front of the
// path (/prod/v1/keys); the prefix is removed so the handler sees the same
// routes everywhere.
//
// # Responses
//
// The handler's status, headers and body are returned as an
// [events.APIGatewayV2HTTPResponse]. Set-Cookie headers travel in the
// response's cookies, as the payload format requires. Text bodies (text/*,
// JSON, XML, form data) that are valid UTF-8 are returned as they are; any
// other body is base64-encoded, so binary data survives the JSON envelope.
//
// # Building
//
// Build the function with -tags lambda.norpc: the provided.al2023 runtime
// speaks the Runtime API only, and the tag drops the net/rpc path of older Go
// runtimes from the binary.
package lambdahttp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

// Start runs h as the function's handler and never returns. It must only be
// called inside Lambda (AWS_LAMBDA_RUNTIME_API set): the runtime loop exits
// the process when it cannot reach the Runtime API.
func Start(h http.Handler) {
	lambda.Start(Handler(h))
}

// Handler converts h into a Lambda handler for HTTP payload format 2.0 events.
//
// A request the handler cannot even be given (no method, an unparsable path
// or an invalid base64 body) is answered 400 with a problem document, never
// a function error, so bad input never shows up as a 502 from API Gateway.
// When h is a [Refuser] it writes that answer, so that the adapter's
// refusals look and are logged as the handler's own; else the adapter
// writes an about:blank problem. An event in another payload format is a
// deployment mistake and is returned as a function error that says how to
// fix it.
func Handler(h http.Handler) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		if ev.Version != "2.0" {
			return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("event is not an HTTP request in payload format 2.0 (version %q); invoke the function through a Function URL or an API Gateway HTTP API with PayloadFormatVersion 2.0", ev.Version)
		}
		req, err := Request(ctx, ev)
		if err != nil {
			if rf, ok := h.(Refuser); ok {
				w := &responseWriter{header: http.Header{}}
				rf.Refuse(w, standIn(ctx, ev), http.StatusBadRequest, err.Error())
				return w.response(), nil
			}
			return problem(http.StatusBadRequest, "Bad Request", err.Error()), nil
		}
		return serve(h, req), nil
	}
}

// A Refuser is a handler that answers, in its own form, the requests the
// adapter cannot give it (see [Handler]), and logs them as it logs the
// requests it serves.
type Refuser interface {
	// Refuse writes the refusal of r with status and detail. r carries the
	// event's method and path as they came, which may be empty or invalid;
	// its body is empty.
	Refuse(w http.ResponseWriter, r *http.Request, status int, detail string)
}

// standIn is the request a Refuser is told of for an event that is no valid
// request: its method and raw path, unparsed, and no body.
func standIn(ctx context.Context, ev events.APIGatewayV2HTTPRequest) *http.Request {
	path := ev.RawPath
	if path == "" {
		path = ev.RequestContext.HTTP.Path
	}
	r := &http.Request{Method: ev.RequestContext.HTTP.Method, URL: &url.URL{Path: path}, RequestURI: path,
		Header: http.Header{}, Body: http.NoBody, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
	return r.WithContext(ctx)
}

// Request builds the [*http.Request] for one payload format 2.0 event.
func Request(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	method := ev.RequestContext.HTTP.Method
	if method == "" {
		return nil, fmt.Errorf("event has no HTTP method")
	}
	path := ev.RawPath
	if path == "" {
		path = ev.RequestContext.HTTP.Path
	}
	path = stripStage(path, ev.RequestContext.Stage)
	uri := path
	if ev.RawQueryString != "" {
		uri += "?" + ev.RawQueryString
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		return nil, fmt.Errorf("request path %q is not valid: %w", uri, err)
	}

	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		body, err = base64.StdEncoding.DecodeString(ev.Body)
		if err != nil {
			return nil, fmt.Errorf("request body is marked base64 but does not decode: %w", err)
		}
	}

	req, err := http.NewRequestWithContext(ctx, method, uri, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("failed to build request: %w", err)
	}
	req.URL = u
	req.RequestURI = uri
	for k, v := range ev.Headers {
		req.Header.Add(k, v)
	}
	if len(ev.Cookies) > 0 {
		// Payload 2.0 takes the Cookie header apart; put it back together
		// as a browser would have sent it.
		req.Header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	req.Host = req.Header.Get("Host")
	if req.Host == "" {
		req.Host = ev.RequestContext.DomainName
	}
	req.URL.Host = req.Host
	req.Header.Del("Host") // net/http keeps it in req.Host only
	req.ContentLength = int64(len(body))
	if len(body) == 0 {
		req.Body = http.NoBody
	}
	if major, minor, ok := http.ParseHTTPVersion(ev.RequestContext.HTTP.Protocol); ok {
		req.Proto, req.ProtoMajor, req.ProtoMinor = ev.RequestContext.HTTP.Protocol, major, minor
	}
	if ip := ev.RequestContext.HTTP.SourceIP; ip != "" {
		// The port of the client is not in the event; 0 keeps RemoteAddr
		// in the host:port form net/http promises.
		req.RemoteAddr = net.JoinHostPort(ip, "0")
	}
	return req, nil
}

// stripStage removes a named stage's prefix from an HTTP API path. The
// $default stage and Function URLs have none.
func stripStage(path, stage string) string {
	if stage == "" || stage == "$default" {
		return path
	}
	prefix := "/" + stage
	if path == prefix {
		return "/"
	}
	if strings.HasPrefix(path, prefix+"/") {
		return path[len(prefix):]
	}
	return path
}

// serve runs the handler on req and packs what it wrote into a response.
// A panic is answered 500 and logged, as net/http's server would survive it,
// instead of failing the invocation with a bare 502 from the front end.
func serve(h http.Handler, req *http.Request) (resp events.APIGatewayV2HTTPResponse) {
	w := &responseWriter{header: http.Header{}}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			slog.Error("handler panicked", "method", req.Method, "path", req.URL.Path, "panic", fmt.Sprint(v))
			resp = problem(http.StatusInternalServerError, "Internal Server Error", "the issuer failed; the error is in its log")
		}
	}()
	h.ServeHTTP(w, req)
	return w.response()
}

// responseWriter collects what a handler writes. Lambda returns a response
// whole, so there is nothing to stream.
type responseWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(status int) {
	if w.status != 0 {
		return
	}
	w.status = status
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.body.Write(p)
}

func (w *responseWriter) response() events.APIGatewayV2HTTPResponse {
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	body := w.body.Bytes()
	if w.header.Get("Content-Type") == "" && len(body) > 0 {
		// As net/http does, so a client never has to guess.
		w.header.Set("Content-Type", http.DetectContentType(body))
	}
	resp := events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers:    make(map[string]string, len(w.header)),
	}
	for k, vs := range w.header {
		if k == "Set-Cookie" {
			resp.Cookies = append(resp.Cookies, vs...)
			continue
		}
		resp.Headers[k] = strings.Join(vs, ", ")
	}
	if len(body) > 0 {
		if isText(w.header.Get("Content-Type")) && utf8.Valid(body) {
			resp.Body = string(body)
		} else {
			resp.Body = base64.StdEncoding.EncodeToString(body)
			resp.IsBase64Encoded = true
		}
	}
	return resp
}

// isText reports whether a body of this content type can travel as a JSON
// string unchanged.
func isText(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	if strings.HasPrefix(mt, "text/") {
		return true
	}
	switch mt {
	case "application/json", "application/xml", "application/javascript",
		"application/x-www-form-urlencoded", "application/yaml", "image/svg+xml":
		return true
	}
	return strings.HasSuffix(mt, "+json") || strings.HasSuffix(mt, "+xml")
}

// problem is an application/problem+json response made here, for requests
// that never reached the handler.
func problem(status int, title, detail string) events.APIGatewayV2HTTPResponse {
	body, _ := json.Marshal(struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}{"about:blank", title, status, detail})
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "application/problem+json", "Cache-Control": "no-store"},
		Body:       string(body),
	}
}
