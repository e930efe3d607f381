package issuer_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"golang.org/x/mod/sumdb/note"

	"github.com/tenurehq/tenure/issuer"
	"github.com/tenurehq/tenure/issuer/internal/issuertest"
	"github.com/tenurehq/tenure/issuer/internal/store"
	"github.com/tenurehq/tenure/issuer/internal/store/bolt"
	"github.com/tenurehq/tenure/issuer/internal/store/dynamo"
	"github.com/tenurehq/tenure/issuer/internal/store/dynamo/dynamotest"
	"github.com/tenurehq/tenure/shared/engine"
)

// Attacks on POST /v1/reports and the usage it shows, found by review
// (DESIGN.md, "Usage reports"). Each runs over bbolt and, when DynamoDB
// Local answers, over DynamoDB; each fails while the weakness stands.

// rig is an issuer with a clock the test sets.
type rig struct {
	t     *testing.T
	srv   *httptest.Server
	st    store.Store
	admin string
	mu    sync.Mutex
	now   time.Time
}

func (r *rig) clock() time.Time { r.mu.Lock(); defer r.mu.Unlock(); return r.now }

func (r *rig) at(s string) {
	r.t.Helper()
	t, err := engine.ParseInstant(s)
	if err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	r.now = t
	r.mu.Unlock()
}

// eachStore runs f over a fresh bbolt store and, when DynamoDB Local is
// there, a fresh DynamoDB table.
func eachStore(t *testing.T, f func(t *testing.T, r *rig)) {
	t.Run("bolt", func(t *testing.T) {
		st, err := bolt.Open(filepath.Join(t.TempDir(), "issuer.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		f(t, newRig(t, st))
	})
	t.Run("dynamo", func(t *testing.T) {
		client := dynamotest.Client(t)
		f(t, newRig(t, dynamo.New(client, dynamotest.Table(t, client))))
	})
}

func newRig(t *testing.T, st store.Store) *rig {
	t.Helper()
	skey, vkey, _ := engine.GenerateKey(rand.Reader, "tenure-issuer-test")
	sg, _ := note.NewSigner(skey)
	r := &rig{t: t, st: st, admin: "admin-" + strings.Repeat("r", 40), now: time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)}
	h, err := issuer.New(issuer.Config{Store: st, Signers: []note.Signer{sg}, Keys: []string{vkey}, AdminToken: r.admin,
		Now: r.clock, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	r.srv = httptest.NewServer(h)
	t.Cleanup(r.srv.Close)
	return r
}

func (r *rig) do(method, path, token string, v any) (int, []byte) {
	r.t.Helper()
	var body []byte
	if v != nil {
		body, _ = json.Marshal(v)
	}
	resp, b := issuertest.Send(r.t, r.srv, method, path, token, body)
	return resp.StatusCode, b
}

// order creates a contract of product edge and returns its token.
func (r *rig) order(id, kind string, termMonths int, limits map[string]int64) string {
	r.t.Helper()
	code, body := r.do("PUT", "/v1/contracts/"+id, r.admin, map[string]any{"customer": "ACME", "product": "edge", "tier": "pro", "kind": kind,
		"features": []string{"scion", "vpn"}, "limits": limits, "appliances": 60, "term_months": termMonths, "change": "order", "status": "active"})
	if code != 201 {
		r.t.Fatalf("order %s: %d %s", id, code, body)
	}
	var out struct{ Token string }
	json.Unmarshal(body, &out)
	return out.Token
}

func (r *rig) activate(token, contract, lrf string) {
	r.t.Helper()
	if code, body := r.do("POST", "/v1/activations", token, map[string]any{"contract": contract, "request": lrf}); code != 201 {
		r.t.Fatalf("activation on %s: %d %s", contract, code, body)
	}
}

func (r *rig) report(token, contract, text string) (int, []byte) {
	r.t.Helper()
	return r.do("POST", "/v1/reports", token, map[string]any{"contract": contract, "report": text})
}

func (r *rig) mustReport(token, contract, text string) {
	r.t.Helper()
	if code, body := r.report(token, contract, text); code != 201 {
		r.t.Fatalf("report to %s: %d %s", contract, code, body)
	}
}

// anomalies returns the kinds of a contract's anomalies.
func (r *rig) anomalies(contract string) []string {
	r.t.Helper()
	code, body := r.do("GET", "/v1/anomalies?contract="+contract, r.admin, nil)
	if code != 200 {
		r.t.Fatalf("anomalies: %d %s", code, body)
	}
	var out struct{ Anomalies []struct{ Kind string } }
	json.Unmarshal(body, &out)
	var kinds []string
	for _, a := range out.Anomalies {
		kinds = append(kinds, a.Kind)
	}
	return kinds
}

type viewed struct {
	Peaks map[string]struct {
		Peak, Limit int64
		Appliance   string
	}
	Appliances []struct {
		ID    string
		Usage *struct {
			Report      string
			From, Until time.Time
		}
	}
}

func (r *rig) view(token, contract string) viewed {
	r.t.Helper()
	code, body := r.do("GET", "/v1/contracts/"+contract, token, nil)
	if code != 200 {
		r.t.Fatalf("view: %d %s", code, body)
	}
	var v viewed
	json.Unmarshal(body, &v)
	return v
}

// appliance is a device: its id, key, identity, platform and the history
// it has made so far (one hash per entry).
type appliance struct {
	id       string
	signer   note.Signer
	vkey     string
	identity *age.X25519Identity
	raw      map[string]string
	seq      uint64
	hashes   []string
}

func newAppliance(t *testing.T, n int) *appliance {
	t.Helper()
	id := fmt.Sprintf("A-%08d", n)
	skey, vkey, err := engine.GenerateKey(rand.Reader, id)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := note.NewSigner(skey)
	ident, _ := age.GenerateX25519Identity()
	return &appliance{id: id, signer: s, vkey: vkey, identity: ident,
		raw: map[string]string{"machine_id": fmt.Sprintf("m-%d", n), "dmi_uuid": fmt.Sprintf("u-%d", n), "mac:eth0": fmt.Sprintf("02:42:ac:11:00:%02x", n)}}
}

// grow appends n entries to the appliance's history.
func (a *appliance) grow(n int) {
	for range n {
		sum := sha256.Sum256(fmt.Appendf(nil, "%s-%d", a.id, len(a.hashes)))
		a.hashes = append(a.hashes, hex.EncodeToString(sum[:]))
	}
}

// lrf is the appliance's next LRF at now, carrying its history.
func (a *appliance) lrf(t *testing.T, now time.Time) string {
	t.Helper()
	a.seq++
	a.grow(1)
	q := &engine.Request{Appliance: a.id, Platform: engine.HashPlatform("edge", a.raw), Product: "edge", Version: "0.40.0", DeviceKey: a.vkey,
		Recipient: a.identity.Recipient().String(), TrialStart: now.Add(-72 * time.Hour), Mode: engine.ModeTrial,
		Installed: []string{}, Sequence: a.seq, Created: now, Nonce: strings.ToLower(rand.Text()), History: engine.NewTrail(a.hashes, 0)}
	text, err := engine.SignRequest(q, a.signer)
	if err != nil {
		t.Fatal(err)
	}
	return string(text)
}

// usage is the appliance's next report (its own history entry added) for
// [from, until), created at until unless edit says otherwise.
func (a *appliance) usage(t *testing.T, from, until string, sections []engine.UsageSection, edit ...func(*engine.Usage)) string {
	t.Helper()
	a.seq++
	a.grow(1)
	f, _ := engine.ParseInstant(from)
	u, _ := engine.ParseInstant(until)
	if sections == nil {
		sections = []engine.UsageSection{}
	}
	r := &engine.Usage{Appliance: a.id, Product: "edge", Period: engine.Period{From: f, Until: u}, Contracts: sections,
		History: engine.NewTrail(a.hashes, 0), Sequence: a.seq, Created: u, Nonce: strings.ToLower(rand.Text())}
	for _, e := range edit {
		e(r)
	}
	text, err := engine.SignUsage(r, a.signer)
	if err != nil {
		t.Fatal(err)
	}
	return string(text)
}

func vpn(contract string, allowed, denied int64) []engine.UsageSection {
	return []engine.UsageSection{{Contract: contract, Limits: map[string]engine.Peaks{"vpn_users": {Allowed: allowed, Denied: denied}}, Features: map[string]int{}}}
}

// TestAttackUsageGapOutOfOrder: three consecutive reports; the one of the
// heavy middle period is never uploaded. Uploaded in the order they were
// made, the third is a usage_gap. Uploaded newest first, it is not: the
// newest has no predecessor when it arrives, and the oldest, arriving
// after it, "ends no later than the latest" and is not judged at all. The
// hole between them is never recorded.
func TestAttackUsageGapOutOfOrder(t *testing.T) {
	eachStore(t, func(t *testing.T, r *rig) {
		tok := r.order("IC-1", "commercial", 12, map[string]int64{"vpn_users": 50})
		a := newAppliance(t, 1)
		r.activate(tok, "IC-1", a.lrf(t, r.clock()))
		r.at("2026-04-01T00:00:00Z")
		r1 := a.usage(t, "2026-01-05T10:00:00Z", "2026-02-01T00:00:00Z", vpn("IC-1", 40, 0))
		_ = a.usage(t, "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", vpn("IC-1", 50, 400)) // hidden
		r3 := a.usage(t, "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z", vpn("IC-1", 40, 0))
		r.mustReport(tok, "IC-1", r3)
		r.mustReport(tok, "IC-1", r1)
		if kinds := r.anomalies("IC-1"); !strings.Contains(fmt.Sprint(kinds), "usage_gap") {
			t.Fatalf("reports of 2026-01-05..02-01 and 03-01..04-01 stored, 02-01..03-01 missing, and the anomalies are %v: no usage_gap", kinds)
		}
	})
}

// TestAttackReportPeriodFromFuture: the freshness rule looks at created
// only. A report whose period ends in 2099 (created now) is stored, becomes
// the appliance's latest report for ever, and every honest report after it
// "ends no later than the latest": none is judged for a gap again, and the
// contract view shows the 2099 report as the appliance's usage. The
// validator always makes until == created; a period ending after the
// report was made, or after the issuer's clock, is malformed or from the
// future.
func TestAttackReportPeriodFromFuture(t *testing.T) {
	eachStore(t, func(t *testing.T, r *rig) {
		tok := r.order("IC-1", "commercial", 12, map[string]int64{"vpn_users": 50})
		a := newAppliance(t, 1)
		r.activate(tok, "IC-1", a.lrf(t, r.clock()))
		r.at("2026-02-01T00:00:00Z")
		future := a.usage(t, "2026-01-05T10:00:00Z", "2099-01-01T00:00:00Z", vpn("IC-1", 1, 0), func(u *engine.Usage) { u.Created = r.clock() })
		code, body := r.report(tok, "IC-1", future)
		if code != 422 && code != 400 {
			v := r.view(tok, "IC-1")
			t.Fatalf("a report created %s whose period ends 2099-01-01 answered %d %s; the view now shows %+v as the appliance's latest usage",
				r.clock().Format(engine.TimeFormat), code, body, v.Appliances[0].Usage)
		}
	})
}

// TestAttackPeakAgainstExpiredContract: the limit a peak is held against is
// the "appliance's effective limit (largest base plus addons)", which the
// engine takes over licenses valid at the time. effectiveLimits takes every
// held binding of the product instead, whatever its contract's term: an
// old contract of 1,000 users that ended last year, whose seat was never
// released, makes 400 users on a contract of 50 read "within its limit
// 1000".
func TestAttackPeakAgainstExpiredContract(t *testing.T) {
	eachStore(t, func(t *testing.T, r *rig) {
		r.at("2024-01-05T10:00:00Z")
		old := r.order("IC-OLD", "commercial", 12, map[string]int64{"vpn_users": 1000})
		a := newAppliance(t, 1)
		r.activate(old, "IC-OLD", a.lrf(t, r.clock()))
		r.at("2026-01-05T10:00:00Z") // IC-OLD ended 2025-01-05
		tok := r.order("IC-1", "commercial", 12, map[string]int64{"vpn_users": 50})
		r.activate(tok, "IC-1", a.lrf(t, r.clock()))
		r.at("2026-02-01T00:00:00Z")
		r.mustReport(tok, "IC-1", a.usage(t, "2026-01-05T10:00:00Z", "2026-02-01T00:00:00Z", vpn("IC-1", 50, 400)))
		p := r.view(tok, "IC-1").Peaks["vpn_users"]
		if p.Peak != 400 || p.Limit != 50 {
			t.Fatalf("peak of vpn_users %+v: 400 against a limit of %d, want 50 (IC-OLD ended a year before the period)", p, p.Limit)
		}
	})
}

// TestAttackPeaksContention: the reports of many appliances of one
// contract sent at once (a batch upload of a site's reports): each raises
// the contract's peaks, one versioned record, and on DynamoDB the losers of
// a few rounds of that race are refused 409 "the records of appliance ...
// kept changing", which blames the appliance for contention on the
// contract's peaks. A report of another appliance is no conflict with
// this one; none should be refused for it.
func TestAttackPeaksContention(t *testing.T) {
	eachStore(t, func(t *testing.T, r *rig) {
		const n = 48
		tok := r.order("IC-1", "commercial", 12, map[string]int64{"vpn_users": 50})
		devs := make([]*appliance, n)
		for i := range devs {
			devs[i] = newAppliance(t, i+1)
			r.activate(tok, "IC-1", devs[i].lrf(t, r.clock()))
		}
		refused := 0
		// A few bursts, each a period whose reports all raise the peaks.
		for burst := range 4 {
			r.at(fmt.Sprintf("2026-%02d-01T00:00:00Z", burst+2))
			texts := make([]string, n)
			for i, d := range devs {
				texts[i] = d.usage(t, fmt.Sprintf("2026-%02d-01T00:00:00Z", burst+1), fmt.Sprintf("2026-%02d-01T00:00:00Z", burst+2),
					vpn("IC-1", int64(10+i), int64(1000*(burst+1)+i)))
			}
			if burst == 0 {
				texts = nil
				for i, d := range devs {
					d.seq, d.hashes = d.seq-1, d.hashes[:len(d.hashes)-1]
					texts = append(texts, d.usage(t, "2026-01-05T10:00:00Z", "2026-02-01T00:00:00Z", vpn("IC-1", int64(10+i), int64(1000+i))))
				}
			}
			codes := make([]int, n)
			bodies := make([][]byte, n)
			var wg sync.WaitGroup
			for i := range devs {
				wg.Go(func() { codes[i], bodies[i] = r.report(tok, "IC-1", texts[i]) })
			}
			wg.Wait()
			for i := range codes {
				if codes[i] != 201 {
					refused++
					t.Logf("burst %d, report of %s: %d %.160s", burst, devs[i].id, codes[i], bodies[i])
				}
			}
		}
		if refused > 0 {
			t.Errorf("%d of %d reports of different appliances, sent %d at once, were refused", refused, 4*n, n)
		}
	})
}

// TestReportRacesHold (held up): one report sent many times at once is
// stored once (one 201, the rest 200), and one appliance's successive
// reports sent at once end with its latest the one with the latest until
// (a 409 of contention on its own history, sent again, is stored).
func TestReportRacesHold(t *testing.T) {
	eachStore(t, func(t *testing.T, r *rig) {
		const n = 12
		tok := r.order("IC-1", "commercial", 12, map[string]int64{"vpn_users": 50})
		devs := []*appliance{newAppliance(t, 1), newAppliance(t, 2)}
		for _, d := range devs {
			r.activate(tok, "IC-1", d.lrf(t, r.clock()))
		}
		codes := make([]int, n)
		bodies := make([][]byte, n)
		var wg sync.WaitGroup
		// One report, many times at once.
		r.at("2026-03-01T00:00:00Z")
		one := devs[0].usage(t, "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", vpn("IC-1", 1, 0))
		for i := range n {
			wg.Go(func() { codes[i], bodies[i] = r.report(tok, "IC-1", one) })
		}
		wg.Wait()
		created := 0
		for i := range codes {
			switch codes[i] {
			case 201:
				created++
			case 200:
			default:
				t.Errorf("a report sent %d times at once: %d %s", n, codes[i], bodies[i])
			}
		}
		if created != 1 {
			t.Errorf("a report sent %d times at once was created %d times", n, created)
		}

		// One appliance's successive reports, all at once.
		d := devs[1]
		var seq []string
		for m := 3; m < 3+6; m++ {
			seq = append(seq, d.usage(t, fmt.Sprintf("2026-%02d-01T00:00:00Z", m-1), fmt.Sprintf("2026-%02d-01T00:00:00Z", m), vpn("IC-1", 1, 0)))
		}
		r.at("2026-09-01T00:00:00Z")
		for i := range seq {
			wg.Go(func() { codes[i], bodies[i] = r.report(tok, "IC-1", seq[i]) })
		}
		wg.Wait()
		for i := range seq {
			if codes[i] == 409 {
				// Contention on the appliance's history: "send it again"
				// is a fair answer; sent again alone it is stored.
				codes[i], bodies[i] = r.report(tok, "IC-1", seq[i])
			}
			if codes[i] != 201 {
				t.Errorf("report %d of one appliance's, sent at once: %d %s", i, codes[i], bodies[i])
			}
		}
		for _, ap := range r.view(tok, "IC-1").Appliances {
			if ap.ID == d.id && (ap.Usage == nil || ap.Usage.Until.Format("2006-01-02") != "2026-08-01") {
				t.Errorf("latest usage of %s after its reports at once: %+v, want until 2026-08-01", d.id, ap.Usage)
			}
		}
	})
}

// TestReportOrderHolds (held up): a report over 64 KiB inside a body under
// 128 KiB is 413 before the token is looked at; a report for a contract the
// token has no rights to is 403 before the contract is looked up, and a
// foreign contract's existence does not show.
func TestReportOrderHolds(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "issuer.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := newRig(t, st)
	tok := r.order("IC-1", "commercial", 12, map[string]int64{"vpn_users": 50})
	big := "-----BEGIN TENURE USAGE-----\n" + strings.Repeat(strings.Repeat("A", 64)+"\n", 1100) + "-----END TENURE USAGE-----\n"
	if code, body := r.report("", "IC-1", big); code != 413 {
		t.Errorf("an oversized report without a token: %d %s, want 413", code, body)
	}
	a := newAppliance(t, 1)
	r.activate(tok, "IC-1", a.lrf(t, r.clock()))
	text := a.usage(t, "2026-01-05T10:00:00Z", "2026-01-05T10:00:00Z", nil)
	c1, _ := r.report(tok, "IC-2", text)
	r.order("IC-3", "commercial", 12, map[string]int64{"vpn_users": 50})
	c2, _ := r.report(tok, "IC-3", text)
	if c1 != 403 || c2 != 403 {
		t.Errorf("a report with IC-1's token for an unknown and another contract: %d and %d, want 403 for both", c1, c2)
	}
}
