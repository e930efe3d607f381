package lambdahttp_test

// A Lambda Runtime API (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html)
// on 127.0.0.1, so a real bootstrap binary runs here exactly as it runs in
// Lambda: it polls for the next invocation, answers it, and polls again.

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tenurehq/tenure/issuer/internal/issuertest"
)

const runtimePrefix = "/2018-06-01/runtime/"

type invocation struct {
	id      string
	payload []byte
}

type outcome struct {
	body  []byte
	isErr bool
}

type runtimeAPI struct {
	t        *testing.T
	addr     string
	pending  chan invocation
	initErr  chan string
	polled   chan struct{} // closed at the function's first poll: its init is done
	polledAt time.Time

	mu      sync.Mutex
	results map[string]chan outcome
	seq     int
	once    sync.Once
}

func newRuntimeAPI(t *testing.T) *runtimeAPI {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &runtimeAPI{t: t, addr: l.Addr().String(), pending: make(chan invocation),
		initErr: make(chan string, 1), polled: make(chan struct{}), results: map[string]chan outcome{}}
	srv := &http.Server{Handler: r}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return r
}

func (r *runtimeAPI) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	path, ok := strings.CutPrefix(req.URL.Path, runtimePrefix)
	if !ok {
		http.NotFound(w, req)
		return
	}
	switch {
	case req.Method == http.MethodGet && path == "invocation/next":
		r.once.Do(func() { r.polledAt = time.Now(); close(r.polled) })
		select {
		case inv := <-r.pending:
			h := w.Header()
			h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
			h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(30*time.Second).UnixMilli(), 10))
			h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:111122223333:function:tenure-issuer")
			h.Set("Lambda-Runtime-Trace-Id", "Root=1-5e6722a7-cc56xmpl46db7ae02d4da47e;Parent=8a6b1d2c3e4f5a6b;Sampled=0")
			h.Set("Content-Type", "application/json")
			w.Write(inv.payload)
		case <-req.Context().Done():
		}
	case req.Method == http.MethodPost && path == "init/error":
		body, _ := io.ReadAll(req.Body)
		select {
		case r.initErr <- string(body):
		default:
		}
		w.WriteHeader(http.StatusAccepted)
	case req.Method == http.MethodPost && strings.HasPrefix(path, "invocation/"):
		rest := strings.TrimPrefix(path, "invocation/")
		id, kind, _ := strings.Cut(rest, "/")
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		ch := r.results[id]
		delete(r.results, id)
		r.mu.Unlock()
		if ch == nil || (kind != "response" && kind != "error") {
			http.Error(w, "unknown invocation "+id, http.StatusBadRequest)
			return
		}
		ch <- outcome{body: body, isErr: kind == "error"}
		w.WriteHeader(http.StatusAccepted)
	default:
		http.NotFound(w, req)
	}
}

// function is a bootstrap binary running against the runtime API.
type function struct {
	rt      *runtimeAPI
	cmd     *exec.Cmd
	started time.Time
	exited  chan struct{}
	output  *issuertest.Output
}

// functionEnv is the environment Lambda gives a function process of the
// Runtime API at addr, with home as HOME, and nothing else from this process
// but PATH.
func functionEnv(addr, home string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"AWS_LAMBDA_RUNTIME_API=" + addr,
		"AWS_LAMBDA_FUNCTION_NAME=tenure-issuer",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512",
		"AWS_REGION=eu-west-1",
		"TZ=:UTC",
	}
}

// startFunction runs bin as Lambda would: AWS_LAMBDA_RUNTIME_API and the
// usual function variables, plus env, and nothing else from this process
// but PATH and HOME.
func startFunction(t *testing.T, rt *runtimeAPI, bin string, env ...string) *function {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Dir = t.TempDir()
	cmd.Env = append(functionEnv(rt.addr, t.TempDir()), env...)
	out := &issuertest.Output{}
	cmd.Stdout, cmd.Stderr = out, out
	f := &function{rt: rt, cmd: cmd, exited: make(chan struct{}), output: out}
	f.started = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(f.exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-f.exited
		if t.Failed() {
			t.Logf("function output:\n%s", out.String())
		}
	})
	return f
}

// invoke sends one event and waits for the function's answer; it returns the
// time from the function taking the event to its response, which leaves out
// the function's init before its first poll.
func (f *function) invoke(t *testing.T, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, time.Duration) {
	t.Helper()
	payload, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	r := f.rt
	r.mu.Lock()
	r.seq++
	id := fmt.Sprintf("8476a536-e9f4-11e8-9739-%012d", r.seq)
	ch := make(chan outcome, 1)
	r.results[id] = ch
	r.mu.Unlock()

	timeout := time.After(60 * time.Second)
	select {
	case r.pending <- invocation{id: id, payload: payload}:
	case msg := <-r.initErr:
		t.Fatalf("function failed to initialize: %s", msg)
	case <-f.exited:
		t.Fatalf("function exited before taking the invocation: %v", f.cmd.ProcessState)
	case <-timeout:
		t.Fatalf("function did not poll for an invocation within a minute")
	}
	// The function has taken the event: from here on it is the invocation.
	start := time.Now()
	select {
	case o := <-ch:
		took := time.Since(start)
		if o.isErr {
			t.Fatalf("%s %s: function error: %s", ev.RequestContext.HTTP.Method, ev.RawPath, o.body)
		}
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(o.body, &resp); err != nil {
			t.Fatalf("response %q: %v", o.body, err)
		}
		return resp, took
	case <-f.exited:
		t.Fatalf("function exited during the invocation: %v", f.cmd.ProcessState)
	case <-timeout:
		t.Fatalf("no response within a minute")
	}
	panic("unreachable")
}

// buildBootstrap builds pkg (relative to the module root) as a Lambda
// bootstrap for this machine, the way scripts/lambda.sh does for arm64.
func buildBootstrap(t testing.TB, pkg string) string {
	t.Helper()
	root := moduleRoot(t)
	bin := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", bin, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

func moduleRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// functionURLEvent is a request as a Lambda Function URL delivers it.
func functionURLEvent(method, target string, header map[string]string, body string) events.APIGatewayV2HTTPRequest {
	path, query, _ := strings.Cut(target, "?")
	h := map[string]string{
		"host":            "abcdefghij.lambda-url.eu-west-1.on.aws",
		"x-forwarded-for": "203.0.113.7", "x-forwarded-proto": "https", "user-agent": "tenure-test",
	}
	for k, v := range header {
		h[strings.ToLower(k)] = v
	}
	if body != "" {
		h["content-type"] = "application/json"
	}
	return events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "$default", RawPath: path, RawQueryString: query, Headers: h,
		Body: body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: "$default", AccountID: "anonymous", Stage: "$default", RequestID: "req-" + path,
			APIID: "abcdefghij", DomainName: "abcdefghij.lambda-url.eu-west-1.on.aws", DomainPrefix: "abcdefghij",
			Time: time.Now().UTC().Format("02/Jan/2006:15:04:05 -0700"), TimeEpoch: time.Now().UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: method, Path: path, Protocol: "HTTP/1.1", SourceIP: "203.0.113.7", UserAgent: "tenure-test",
			},
		},
	}
}

// httpAPIEvent is the same request as an API Gateway HTTP API delivers it
// through the template's ANY /{proxy+} route on the $default stage.
func httpAPIEvent(method, target string, header map[string]string, body string) events.APIGatewayV2HTTPRequest {
	ev := functionURLEvent(method, target, header, body)
	ev.RouteKey = "ANY /{proxy+}"
	ev.RequestContext.RouteKey = ev.RouteKey
	ev.RequestContext.AccountID = "111122223333"
	ev.RequestContext.APIID = "a1b2c3d4e5"
	ev.RequestContext.DomainName = "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"
	ev.Headers["host"] = ev.RequestContext.DomainName
	ev.Headers["x-forwarded-port"] = "443"
	ev.PathParameters = map[string]string{"proxy": strings.TrimPrefix(ev.RawPath, "/")}
	if body != "" {
		ev.Headers["content-length"] = strconv.Itoa(len(body))
	}
	return ev
}

func TestEchoUnderRuntimeAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := buildBootstrap(t, "./issuer/internal/lambdahttp/testdata/echo")
	rt := newRuntimeAPI(t)
	fn := startFunction(t, rt, bin)

	var first time.Duration
	for _, mk := range []func(string, string, map[string]string, string) events.APIGatewayV2HTTPRequest{functionURLEvent, httpAPIEvent} {
		ev := mk("POST", "/v1/things?x=1", map[string]string{"Authorization": "Bearer abc"}, `{"a":1}`)
		resp, _ := fn.invoke(t, ev)
		if first == 0 {
			first = time.Since(fn.started)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
		}
		var got map[string]string
		if err := json.Unmarshal([]byte(resp.Body), &got); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"method": "POST", "path": "/v1/things", "query": "x=1",
			"authorization": "Bearer abc", "body": `{"a":1}`, "remote": "203.0.113.7:0"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s event: %s = %q, want %q", ev.RouteKey, k, got[k], v)
			}
		}
	}

	// A panic is answered, and the function keeps serving.
	resp, _ := fn.invoke(t, functionURLEvent("GET", "/panic", nil, ""))
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("panic: status %d, want 500", resp.StatusCode)
	}
	resp, _ = fn.invoke(t, functionURLEvent("GET", "/after", nil, ""))
	if resp.StatusCode != http.StatusOK {
		t.Errorf("after a panic: status %d, want 200", resp.StatusCode)
	}
	var warm []time.Duration
	for range 50 {
		_, d := fn.invoke(t, functionURLEvent("GET", "/warm", nil, ""))
		warm = append(warm, d)
	}
	slices.Sort(warm)
	t.Logf("echo: first answer %v after process start; warm round trip through the Runtime API p50 %v",
		first.Round(time.Microsecond), warm[len(warm)/2].Round(time.Microsecond))
}
