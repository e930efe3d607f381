package lambdahttp_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/awslabs/goformation/v7/intrinsics"

	"github.com/tenurehq/tenure/issuer/internal/secret/secrettest"
)

// The Lambda rows of the performance table (make bench): the real
// tenure-issuer bootstrap, built as scripts/lambda.sh builds it, behind a
// Runtime API on 127.0.0.1, configured as the SAM template deploys it (see
// issuerFunction).

// BenchmarkLambdaCold is a cold start: from starting the bootstrap process
// to its answer to the first invocation (GET /healthz). init-ms is the part
// before its first poll of the Runtime API, first-invoke-ms the rest.
func BenchmarkLambdaCold(b *testing.B) {
	bin, env := issuerFunction(b)
	var initT, firstT time.Duration
	for b.Loop() {
		b.StopTimer()
		rt := newBenchRuntime(b)
		b.StartTimer()
		fn := rt.start(b, bin, env)
		rt.invoke(b, healthz)
		b.StopTimer()
		initT += rt.firstPoll.Sub(fn.started)
		firstT += rt.answered.Sub(rt.taken)
		fn.stop()
		rt.close()
		b.StartTimer()
	}
	b.ReportMetric(float64(initT.Microseconds())/1e3/float64(b.N), "init-ms")
	b.ReportMetric(float64(firstT.Microseconds())/1e3/float64(b.N), "first-invoke-ms")
}

// BenchmarkLambdaWarm is one invocation (GET /healthz) of a function that
// is up: the Runtime API round trip and the handler.
func BenchmarkLambdaWarm(b *testing.B) {
	bin, env := issuerFunction(b)
	rt := newBenchRuntime(b)
	defer rt.close()
	fn := rt.start(b, bin, env)
	defer fn.stop()
	for range 10 {
		rt.invoke(b, healthz)
	}
	var lat []time.Duration
	for b.Loop() {
		start := time.Now()
		rt.invoke(b, healthz)
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1e3, "p99-ms")
}

var healthz = func() []byte {
	j, err := json.Marshal(functionURLEvent("GET", "/healthz", nil, ""))
	if err != nil {
		panic(err)
	}
	return j
}()

// issuerFunction builds the bootstrap as scripts/lambda.sh does (for this
// machine) and returns it with the environment of the function as the SAM
// template deploys it: every plain value of its Environment (the GC
// settings), signing through a KMS endpoint (TENURE_KEY_FILE=kms:..., the
// template's key path: one GetPublicKey at start, no scrypt), its admin
// token in Secrets Manager, and its store in DynamoDB. GET /healthz
// reaches neither the secret nor the table, so both endpoints fail the
// benchmark if the function calls them.
func issuerFunction(b *testing.B) (bin string, env []string) {
	if testing.Short() {
		b.Skip("builds the issuer")
	}
	sec := secrettest.New(b)
	sec.PutSecret("tenure-issuer/admin-token", "bench-admin-token")
	var tableCalls atomic.Int64
	table := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tableCalls.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	b.Cleanup(func() {
		table.Close()
		if n := sec.Total(); n != 0 {
			b.Errorf("the function read its admin token secret %d times; GET /healthz must not", n)
		}
		if n := tableCalls.Load(); n != 0 {
			b.Errorf("the function called DynamoDB %d times; GET /healthz must not", n)
		}
	})
	env = append(templateEnvironment(b), sec.Env()...)
	return buildRelease(b), append(env,
		"TENURE_STORE=dynamodb:tenure-issuer-bench", "AWS_ENDPOINT_URL_DYNAMODB="+table.URL,
		"TENURE_KEY_FILE=kms:alias/tenure-issuer?name=tenure-issuer-2026",
		"AWS_ENDPOINT_URL_KMS="+newKMSEndpoint(b).url,
		"TENURE_ADMIN_TOKEN_SECRET=secretsmanager:tenure-issuer/admin-token")
}

// templateEnvironment returns the variables the SAM template gives the
// function as plain strings, NAME=VALUE; the others (the table, the keys,
// the secret) name resources of the stack, which the benchmark stands in
// for.
func templateEnvironment(b *testing.B) []string {
	data, err := os.ReadFile(filepath.Join(moduleRoot(b), "issuer", "deploy", "template.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	js, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		b.Fatal(err)
	}
	var tmpl struct {
		Resources struct {
			Issuer struct {
				Properties struct {
					Environment struct{ Variables map[string]any }
				}
			}
		}
	}
	if err := json.Unmarshal(js, &tmpl); err != nil {
		b.Fatal(err)
	}
	var env []string
	for name, v := range tmpl.Resources.Issuer.Properties.Environment.Variables {
		if s, ok := v.(string); ok {
			env = append(env, name+"="+s)
		}
	}
	if len(env) == 0 {
		b.Fatal("the template gives the function no plain variable; has the Issuer resource moved?")
	}
	return env
}

// buildRelease builds tenure-issuer as scripts/lambda.sh builds bootstrap,
// for this machine's architecture.
func buildRelease(b *testing.B) string {
	bin := filepath.Join(b.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./issuer/cmd/tenure-issuer")
	cmd.Dir = moduleRoot(b)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// benchRuntime is a Runtime API for one function process at a time, which
// notes when the function first polled, took the last event and answered it.
type benchRuntime struct {
	srv    *http.Server
	addr   string
	events chan []byte
	done   chan []byte

	firstPoll, taken, answered time.Time
	polled                     bool
}

func newBenchRuntime(b *testing.B) *benchRuntime {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	rt := &benchRuntime{addr: l.Addr().String(), events: make(chan []byte), done: make(chan []byte, 1)}
	rt.srv = &http.Server{Handler: rt}
	go rt.srv.Serve(l)
	return rt
}

func (rt *benchRuntime) close() { rt.srv.Close() }

// ServeHTTP needs no lock: the function makes one request at a time, and
// invoke reads the times only after the answer.
func (rt *benchRuntime) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/2018-06-01/runtime/invocation/next":
		if !rt.polled {
			rt.polled, rt.firstPoll = true, time.Now()
		}
		select {
		case ev := <-rt.events:
			rt.taken = time.Now()
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", "bench")
			w.Header().Set("Lambda-Runtime-Deadline-Ms", "99999999999999")
			w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:111122223333:function:tenure-issuer")
			w.Write(ev)
		case <-r.Context().Done():
		}
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/2018-06-01/runtime/invocation/"):
		body, _ := io.ReadAll(r.Body)
		rt.answered = time.Now()
		w.WriteHeader(http.StatusAccepted)
		rt.done <- body
	default:
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusAccepted)
		select {
		case rt.done <- append([]byte(r.URL.Path+" "), body...):
		default:
		}
	}
}

// invoke hands the function one event and waits for its answer, failing
// unless it is a 200.
func (rt *benchRuntime) invoke(b *testing.B, event []byte) {
	timeout := time.After(time.Minute)
	select {
	case rt.events <- event:
	case body := <-rt.done:
		b.Fatalf("the function failed before taking the event: %s", body)
	case <-timeout:
		b.Fatal("the function did not poll within a minute")
	}
	select {
	case body := <-rt.done:
		if !strings.Contains(string(body), `"statusCode":200`) {
			b.Fatalf("the function answered %s", body)
		}
	case <-timeout:
		b.Fatal("no answer within a minute")
	}
}

type benchFunction struct {
	cmd     *exec.Cmd
	started time.Time
}

// start runs the bootstrap against rt as Lambda would.
func (rt *benchRuntime) start(b *testing.B, bin string, env []string) *benchFunction {
	dir := b.TempDir()
	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = append(functionEnv(rt.addr, dir), env...)
	fn := &benchFunction{cmd: cmd, started: time.Now()}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	return fn
}

func (fn *benchFunction) stop() {
	fn.cmd.Process.Kill()
	fn.cmd.Wait()
}
