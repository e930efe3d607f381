package issuer_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tenurehq/tenure/issuer"
	"github.com/tenurehq/tenure/issuer/internal/issuertest"
	"github.com/tenurehq/tenure/issuer/internal/signer"
	"github.com/tenurehq/tenure/issuer/internal/store/bolt"
	"github.com/tenurehq/tenure/shared/engine"
)

// benchWorkers is how many clients activate at once: an office of vendor
// staff and portals, not a flood.
const benchWorkers = 16

// BenchmarkActivations measures the local server as tenure-issuer serve runs
// it (bbolt, a file signer, JSON logs) over loopback: b.N distinct
// appliances activate on one contract from benchWorkers keep-alive clients.
// It reports throughput and the latency percentiles of the DESIGN budget
// (>= 2,000 activations/s, p99 <= 15 ms). Run it with a fixed count:
//
//	go test ./issuer -run '^$' -bench Activations -benchtime 2000x
func BenchmarkActivations(b *testing.B) {
	srv, client, admin := benchServer(b)
	var err error

	token := benchContract(b, client, srv.URL, admin, "IC-BENCH", b.N)
	bodies := make([][]byte, b.N)
	now := time.Now()
	for i := range bodies {
		lrf := issuertest.FirstLRF(b, i, now)
		if bodies[i], err = json.Marshal(map[string]string{"contract": "IC-BENCH", "request": lrf}); err != nil {
			b.Fatal(err)
		}
	}

	jobs := make(chan int, b.N)
	for i := range b.N {
		jobs <- i
	}
	close(jobs)
	latencies := make([]time.Duration, b.N)
	var failed sync.Once
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range benchWorkers {
		wg.Go(func() {
			for i := range jobs {
				t := time.Now()
				code, body, err := benchPost(client, srv.URL+"/v1/activations", token, bodies[i])
				latencies[i] = time.Since(t)
				if err != nil || code != http.StatusCreated {
					failed.Do(func() { b.Errorf("activation %d: status %d, %v: %s", i, code, err, body) })
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if b.Failed() {
		return
	}

	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[min(len(latencies)-1, int(p*float64(len(latencies))))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "activations/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(benchWorkers, "clients")
}

// benchContract orders contract id with seats and returns its token.
func benchContract(b *testing.B, client *http.Client, url, admin, id string, seats int) string {
	b.Helper()
	body, _ := json.Marshal(map[string]any{"customer": "ACME Networks", "product": "edge", "tier": "pro", "kind": "commercial",
		"features": []string{"monitoring", "peering", "scion", "vpn"}, "limits": map[string]int{"vpn_users": 250, "peering_tunnels": 100},
		"appliances": seats, "term_months": 12, "change": "order", "status": "active"})
	req, _ := http.NewRequest(http.MethodPut, url+"/v1/contracts/"+id, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	var answer struct{ Token string }
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(out, &answer) != nil || answer.Token == "" {
		b.Fatalf("order: status %d: %s", resp.StatusCode, out)
	}
	return answer.Token
}

func benchPost(client *http.Client, url, token string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// Growth is the scale of BenchmarkActivationGrowth: the licenses on the
// grown contract, the reissue requests of the hot appliance, and the
// timed activations of each kind.
const (
	growthLicenses = 1000
	growthReissues = 1000
	growthSamples  = 200
)

// BenchmarkActivationGrowth measures what an activation costs as a contract
// grows (DESIGN.md, "Budgets": within 1.5x of an empty contract), on the
// local server as BenchmarkActivations runs it. Three kinds of request are
// timed, interleaved one by one so that the machine's drift touches each
// alike, from one client:
//
//   - empty: the first activation on a contract just ordered;
//   - licenses: an activation of a new appliance on a contract that holds
//     growthLicenses licenses;
//   - reissues: a fresh LRF with nothing new from an appliance that has sent
//     growthReissues of them already (each answered with its stored
//     license).
//
// It reports each p50 and growth-x, the larger of the two grown p50s over
// the empty one, and page-KiB, the largest first page of the lists (the
// grown contract's view and ledger, the anomalies, the contracts) at the
// largest limit they take. The setup takes seconds, so it runs once:
//
//	go test ./issuer -run '^$' -bench ActivationGrowth -benchtime 1x
func BenchmarkActivationGrowth(b *testing.B) {
	for range b.N {
		activationGrowth(b)
	}
}

func activationGrowth(b *testing.B) {
	b.StopTimer()
	srv, client, admin := benchServer(b)
	now := time.Now()
	body := func(contract, lrf string) []byte {
		out, err := json.Marshal(map[string]string{"contract": contract, "request": lrf})
		if err != nil {
			b.Fatal(err)
		}
		return out
	}
	activate := func(token string, body []byte, want int) time.Duration {
		t := time.Now()
		code, out, err := benchPost(client, srv.URL+"/v1/activations", token, body)
		d := time.Since(t)
		if err != nil || code != want {
			b.Fatalf("activation: status %d, want %d, %v: %s", code, want, err, out)
		}
		return d
	}

	// The grown contract: growthLicenses appliances, activated by
	// benchWorkers clients.
	grown := benchContract(b, client, srv.URL, admin, "IC-GROWN", growthLicenses+growthSamples)
	jobs := make(chan []byte, growthLicenses)
	for i := range growthLicenses {
		jobs <- body("IC-GROWN", issuertest.FirstLRF(b, 1+i, now))
	}
	close(jobs)
	var wg sync.WaitGroup
	for range benchWorkers {
		wg.Go(func() {
			for bd := range jobs {
				activate(grown, bd, http.StatusCreated)
			}
		})
	}
	wg.Wait()

	// The hot appliance: its first activation, then growthReissues fresh
	// LRFs with nothing new.
	hotToken := benchContract(b, client, srv.URL, admin, "IC-HOT", 1)
	hot := issuertest.NewAppliance(b, 900000)
	activate(hotToken, body("IC-HOT", hot.LRF(b, now)), http.StatusCreated)
	for range growthReissues {
		activate(hotToken, body("IC-HOT", hot.LRF(b, now)), http.StatusOK)
	}

	empty := make([]time.Duration, growthSamples)
	licenses := make([]time.Duration, growthSamples)
	reissues := make([]time.Duration, growthSamples)
	b.StartTimer()
	for i := range growthSamples {
		id := fmt.Sprintf("IC-EMPTY-%03d", i)
		tok := benchContract(b, client, srv.URL, admin, id, 1)
		first, next, again := body(id, issuertest.FirstLRF(b, 500000+i, now)),
			body("IC-GROWN", issuertest.FirstLRF(b, 1+growthLicenses+i, now)), body("IC-HOT", hot.LRF(b, now))
		empty[i] = activate(tok, first, http.StatusCreated)
		licenses[i] = activate(grown, next, http.StatusCreated)
		reissues[i] = activate(hotToken, again, http.StatusOK)
	}
	b.StopTimer()

	p50 := func(ds []time.Duration) float64 {
		slices.Sort(ds)
		return float64(ds[len(ds)/2].Microseconds()) / 1000
	}
	e, l, r := p50(empty), p50(licenses), p50(reissues)
	b.ReportMetric(e, "empty-p50-ms")
	b.ReportMetric(l, "licenses-p50-ms")
	b.ReportMetric(r, "reissues-p50-ms")
	b.ReportMetric(max(l, r)/e, "growth-x")

	// The lists of the grown issuer, each at its largest page: the budget
	// bounds one page whatever the contract holds.
	largest := 0
	for _, path := range []string{"/v1/contracts/IC-GROWN", "/v1/contracts/IC-GROWN/ledger", "/v1/anomalies", "/v1/contracts"} {
		code, page, err := benchGet(client, fmt.Sprintf("%s%s?limit=%d", srv.URL, path, issuer.MaxPage), admin)
		if err != nil || code != http.StatusOK {
			b.Fatalf("GET %s: status %d, %v: %.300s", path, code, err, page)
		}
		largest = max(largest, len(page))
	}
	b.ReportMetric(float64(largest)/1024, "page-KiB")
}

func benchGet(client *http.Client, url, token string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// benchServer serves an issuer on a fresh bbolt store with a throwaway key
// on 127.0.0.1 until the benchmark ends, and returns its server, a client
// keeping benchWorkers connections, and the admin token.
func benchServer(b *testing.B) (*httptest.Server, *http.Client, string) {
	b.Helper()
	st, err := bolt.Open(filepath.Join(b.TempDir(), "issuer.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	skey, _, err := engine.GenerateKey(rand.Reader, "tenure-issuer-bench")
	if err != nil {
		b.Fatal(err)
	}
	sg, err := signer.Parse(skey)
	if err != nil {
		b.Fatal(err)
	}
	admin := "admin-" + rand.Text()
	h, err := issuer.New(issuer.Config{Store: st, Signers: []note.Signer{sg}, AdminToken: admin,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: benchWorkers, MaxIdleConnsPerHost: benchWorkers, IdleConnTimeout: time.Minute}}
	b.Cleanup(client.CloseIdleConnections)
	return srv, client, admin
}
