package issuer_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
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
// (>= 1,500 activations/s, p99 <= 15 ms). Run it with a fixed count:
//
//	go test ./issuer -run '^$' -bench Activations -benchtime 2000x
func BenchmarkActivations(b *testing.B) {
	st, err := bolt.Open(filepath.Join(b.TempDir(), "issuer.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
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
	srv := httptest.NewServer(h) // on 127.0.0.1
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: benchWorkers, MaxIdleConnsPerHost: benchWorkers, IdleConnTimeout: time.Minute}}
	defer client.CloseIdleConnections()

	token := benchContract(b, client, srv.URL, admin, b.N)
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
}

// benchContract orders a contract with a seat for every appliance and returns
// its token.
func benchContract(b *testing.B, client *http.Client, url, admin string, seats int) string {
	b.Helper()
	body, _ := json.Marshal(map[string]any{"customer": "ACME Networks", "product": "edge", "tier": "pro", "kind": "commercial",
		"features": []string{"monitoring", "peering", "scion", "vpn"}, "limits": map[string]int{"vpn_users": 250, "peering_tunnels": 100},
		"appliances": seats, "term_months": 12, "change": "order", "status": "active"})
	req, _ := http.NewRequest(http.MethodPut, url+"/v1/contracts/IC-BENCH", bytes.NewReader(body))
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
