package lambdahttp_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenurehq/tenure/issuer/internal/secret/secrettest"
)

// The Lambda rows of the performance table (make bench): the real
// tenure-issuer bootstrap behind a Runtime API on 127.0.0.1, signing through
// a KMS endpoint (the production key path) and storing in bbolt.

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

// issuerFunction builds the bootstrap and returns it with the environment
// of a function as the SAM template deploys it: signing through a KMS
// endpoint, its admin token in Secrets Manager (which GET /healthz never
// reads), and storing in bbolt.
func issuerFunction(b *testing.B) (bin string, env []string) {
	if testing.Short() {
		b.Skip("builds the issuer")
	}
	sec := secrettest.New(b)
	sec.PutSecret("tenure-issuer/admin-token", "bench-admin-token")
	b.Cleanup(func() {
		if n := sec.Total(); n != 0 {
			b.Errorf("the function read its admin token secret %d times; GET /healthz must not", n)
		}
	})
	return buildBootstrap(b, "./issuer/cmd/tenure-issuer"), append(sec.Env(),
		"TENURE_KEY_FILE=kms:alias/tenure-issuer?name=tenure-issuer-2026",
		"AWS_ENDPOINT_URL_KMS="+newKMSEndpoint(b).url,
		"TENURE_ADMIN_TOKEN_SECRET=secretsmanager:tenure-issuer/admin-token")
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

// start runs the bootstrap against rt as Lambda would, with a new bbolt
// store.
func (rt *benchRuntime) start(b *testing.B, bin string, env []string) *benchFunction {
	dir := b.TempDir()
	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = append(append(functionEnv(rt.addr, dir), "TENURE_STORE=bolt:"+filepath.Join(dir, "db")), env...)
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
