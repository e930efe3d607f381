package lambdahttp_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tenurehq/tenure/issuer/internal/lambdahttp"
)

// seen is what the echo handler saw of a request, returned as its body.
type seen struct {
	Method     string              `json:"method"`
	Path       string              `json:"path"`
	RawPath    string              `json:"raw_path"`
	RawQuery   string              `json:"raw_query"`
	Query      map[string][]string `json:"query"`
	Host       string              `json:"host"`
	RemoteAddr string              `json:"remote_addr"`
	Proto      string              `json:"proto"`
	Header     http.Header         `json:"header"`
	Cookies    []string            `json:"cookies"`
	Body       string              `json:"body"`
	Length     int64               `json:"length"`
	Deadline   bool                `json:"deadline"`
}

// echo answers with what it saw, a cookie and a repeated header, so one
// round trip checks both directions of the conversion.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	var cookies []string
	for _, c := range r.Cookies() {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	_, deadline := r.Context().Deadline()
	s := seen{
		Method: r.Method, Path: r.URL.Path, RawPath: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery,
		Query: r.URL.Query(), Host: r.Host, RemoteAddr: r.RemoteAddr, Proto: r.Proto,
		Header: r.Header, Cookies: cookies, Body: string(body), Length: r.ContentLength, Deadline: deadline,
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Add("Vary", "Authorization")
	w.Header().Add("Vary", "Accept")
	http.SetCookie(w, &http.Cookie{Name: "a", Value: "1"})
	http.SetCookie(w, &http.Cookie{Name: "b", Value: "2", HttpOnly: true})
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(s)
})

func loadEvent(t *testing.T, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return ev
}

func invoke(t *testing.T, h http.Handler, ev events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := lambdahttp.Handler(h)(ctx, ev)
	if err != nil {
		t.Fatalf("handler returned a function error: %v", err)
	}
	return resp
}

func decodeSeen(t *testing.T, resp events.APIGatewayV2HTTPResponse) seen {
	t.Helper()
	if resp.IsBase64Encoded {
		t.Fatalf("JSON response was base64-encoded")
	}
	var s seen
	if err := json.Unmarshal([]byte(resp.Body), &s); err != nil {
		t.Fatalf("response body %q: %v", resp.Body, err)
	}
	return s
}

func TestFunctionURLEvent(t *testing.T) {
	resp := invoke(t, echo, loadEvent(t, "function-url.json"))
	s := decodeSeen(t, resp)

	checks := []struct{ what, got, want string }{
		{"method", s.Method, "POST"},
		{"path", s.Path, "/v1/echo/a/b"},
		{"escaped path", s.RawPath, "/v1/echo/a%2Fb"},
		{"raw query", s.RawQuery, "x=1&x=2&y=%20z"},
		{"host", s.Host, "abcdefghij.lambda-url.eu-west-1.on.aws"},
		{"remote addr", s.RemoteAddr, "203.0.113.7:0"},
		{"proto", s.Proto, "HTTP/1.1"},
		{"authorization", strings.Join(s.Header["Authorization"], "|"), "Bearer t0ken"},
		{"accept (comma-joined, one value)", strings.Join(s.Header["Accept"], "|"), "application/json, application/problem+json"},
		{"cookies", strings.Join(s.Cookies, ";"), "session=abc;theme=dark"},
		{"body (base64-decoded)", s.Body, `{"hello":"world"}`},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	if got := s.Query["x"]; !slices.Equal(got, []string{"1", "2"}) {
		t.Errorf("query x = %q, want [1 2]", got)
	}
	if s.Length != int64(len(`{"hello":"world"}`)) {
		t.Errorf("content length = %d", s.Length)
	}
	if !s.Deadline {
		t.Errorf("request context lost the invocation's deadline")
	}
	if _, ok := s.Header["Host"]; ok {
		t.Errorf("Host stayed in the header map; net/http keeps it in Request.Host only")
	}

	if resp.StatusCode != http.StatusCreated {
		t.Errorf("status = %d, want 201", resp.StatusCode)
	}
	if got := resp.Headers["Content-Type"]; got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	if got := resp.Headers["Vary"]; got != "Authorization, Accept" {
		t.Errorf("Vary = %q, want the values comma-joined", got)
	}
	if _, ok := resp.Headers["Set-Cookie"]; ok {
		t.Errorf("Set-Cookie left in headers; payload 2.0 carries it in cookies")
	}
	if want := []string{"a=1", "b=2; HttpOnly"}; !slices.Equal(resp.Cookies, want) {
		t.Errorf("cookies = %q, want %q", resp.Cookies, want)
	}
}

func TestHTTPAPIEventOnNamedStage(t *testing.T) {
	ev := loadEvent(t, "http-api.json")
	s := decodeSeen(t, invoke(t, echo, ev))
	if s.Method != "PUT" || s.Path != "/v1/echo" {
		t.Errorf("got %s %s, want PUT /v1/echo (stage prefix removed)", s.Method, s.Path)
	}
	if s.Body != `{"hello":"world"}` || s.Length != 17 {
		t.Errorf("body = %q (%d bytes)", s.Body, s.Length)
	}
	if s.RemoteAddr != "198.51.100.20:0" {
		t.Errorf("remote addr = %q", s.RemoteAddr)
	}
	if len(s.Cookies) != 0 {
		t.Errorf("cookies = %q, want none", s.Cookies)
	}

	// On $default, a path that merely starts with the stage's name is kept.
	ev.RequestContext.Stage = "$default"
	ev.RawPath = "/prod/v1/echo"
	if s := decodeSeen(t, invoke(t, echo, ev)); s.Path != "/prod/v1/echo" {
		t.Errorf("$default stage: path = %q, want it unchanged", s.Path)
	}
}

func TestResponseBodies(t *testing.T) {
	binary := []byte{0x00, 0xff, 0x10, 0x80, 'x'}
	tests := []struct {
		name        string
		contentType string
		body        []byte
		wantBase64  bool
		wantType    string
	}{
		{"json", "application/json", []byte(`{"ok":true}`), false, "application/json"},
		{"problem", "application/problem+json", []byte(`{"status":400}`), false, "application/problem+json"},
		{"text with charset", "text/plain; charset=utf-8", []byte("héllo"), false, "text/plain; charset=utf-8"},
		{"octets", "application/octet-stream", binary, true, "application/octet-stream"},
		{"text type, not UTF-8", "text/plain", binary, true, "text/plain"},
		{"sniffed text", "", []byte("plain words"), false, "text/plain; charset=utf-8"},
		{"sniffed binary", "", binary, true, "application/octet-stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.contentType != "" {
					w.Header().Set("Content-Type", tt.contentType)
				}
				w.Write(tt.body)
			})
			resp := invoke(t, h, loadEvent(t, "function-url.json"))
			if resp.StatusCode != http.StatusOK {
				t.Errorf("status = %d, want 200 when the handler only writes", resp.StatusCode)
			}
			if resp.IsBase64Encoded != tt.wantBase64 {
				t.Errorf("base64 = %v, want %v", resp.IsBase64Encoded, tt.wantBase64)
			}
			if got := resp.Headers["Content-Type"]; got != tt.wantType {
				t.Errorf("Content-Type = %q, want %q", got, tt.wantType)
			}
			got := []byte(resp.Body)
			if resp.IsBase64Encoded {
				var err error
				if got, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
					t.Fatal(err)
				}
			}
			if string(got) != string(tt.body) {
				t.Errorf("body = %q, want %q", got, tt.body)
			}
		})
	}
}

func TestEmptyResponse(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
		w.WriteHeader(http.StatusTeapot) // ignored, as net/http does
	})
	resp := invoke(t, h, loadEvent(t, "function-url.json"))
	if resp.StatusCode != http.StatusNoContent || resp.Body != "" || resp.IsBase64Encoded {
		t.Errorf("got %d %q base64=%v, want 204 and no body", resp.StatusCode, resp.Body, resp.IsBase64Encoded)
	}
}

func TestBadInputIsAProblemNotAFunctionError(t *testing.T) {
	called := false
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called = true })

	ev := loadEvent(t, "function-url.json")
	ev.Body = "not base64!"
	resp := invoke(t, h, ev)
	assertProblem(t, resp, http.StatusBadRequest)

	ev = loadEvent(t, "function-url.json")
	ev.RawPath = "no-leading-slash"
	assertProblem(t, invoke(t, h, ev), http.StatusBadRequest)

	if called {
		t.Errorf("handler ran for a request that could not be built")
	}
}

func TestPanicIsA500(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	assertProblem(t, invoke(t, h, loadEvent(t, "function-url.json")), http.StatusInternalServerError)
}

func TestOtherPayloadFormatIsRefused(t *testing.T) {
	ev := loadEvent(t, "function-url.json")
	ev.Version = "1.0"
	_, err := lambdahttp.Handler(echo)(context.Background(), ev)
	if err == nil || !strings.Contains(err.Error(), "payload format 2.0") {
		t.Fatalf("err = %v, want a function error naming payload format 2.0", err)
	}
}

func assertProblem(t *testing.T, resp events.APIGatewayV2HTTPResponse, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("status = %d, want %d", resp.StatusCode, status)
	}
	if got := resp.Headers["Content-Type"]; got != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", got)
	}
	if got := resp.Headers["Cache-Control"]; got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	var p struct {
		Type, Title, Detail string
		Status              int
	}
	if err := json.Unmarshal([]byte(resp.Body), &p); err != nil {
		t.Fatalf("problem body %q: %v", resp.Body, err)
	}
	if p.Status != status || p.Title == "" || p.Detail == "" || p.Type == "" {
		t.Errorf("problem = %+v", p)
	}
}
