package storetest

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenurehq/tenure/issuer/internal/store"
	"github.com/tenurehq/tenure/shared/engine"
)

// usage is a report of appliance on contract for the period ending at
// until, its vpn_users peak n; its ID is that of its text, which names
// every field, so two reports differ in ID whenever they differ.
func usage(contract, appliance string, until time.Time, n int64) store.Report {
	text := fmt.Sprintf("-----BEGIN TENURE USAGE-----\n%s %s %s %d\n-----END TENURE USAGE-----\n", contract, appliance, until.Format(time.RFC3339), n)
	id := sha256.Sum256([]byte(text))
	return store.Report{ID: hex.EncodeToString(id[:]), Contract: contract, Appliance: appliance,
		From: until.AddDate(0, -1, 0), Until: until, Created: until, Received: until.Add(time.Hour),
		Limits:   map[string]engine.Peaks{"vpn_users": {Allowed: n, Denied: n / 2}},
		Features: map[string]int{"scion": 3}, Text: text}
}

// putUsage is the PutReport of r with peaks p (nil: none) and no history.
func putUsage(r store.Report, p *store.Peaks) *store.PutReport {
	return &store.PutReport{Report: r, Peaks: p,
		Entry: store.Entry{At: r.Received, Contract: r.Contract, Actor: "contract", Action: "report", Outcome: store.Accepted,
			Status: 201, Appliance: r.Appliance, Request: r.ID}}
}

// raised is p with the limits of r it raises, as the issuer computes them.
func raised(p *store.Peaks, r *store.Report) *store.Peaks {
	out := *p
	out.Limits = maps.Clone(p.Limits)
	for name, v := range r.Limits {
		if old, ok := out.Limits[name]; !ok || v.Peak() > old.Peak {
			out.Limits[name] = store.Peak{Peak: v.Peak(), Limit: 250, Appliance: r.Appliance, At: r.Until}
		}
	}
	return &out
}

func readPeaks(t *testing.T, s store.Store, contract string) *store.Peaks {
	t.Helper()
	p, err := s.Peaks(ctx, contract)
	must(t, "Peaks", err)
	return p
}

func samePeaks(t *testing.T, what string, got, want *store.Peaks) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func readReport(t *testing.T, s store.Store, contract, id string) *store.Report {
	t.Helper()
	r, err := s.Report(ctx, contract, id)
	must(t, "Report "+id, err)
	return r
}

func sameReport(t *testing.T, what string, got *store.Report, want store.Report) {
	t.Helper()
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, *got, want)
	}
}

func latest(t *testing.T, s store.Store, contract, appliance string) *store.Report {
	t.Helper()
	r, err := s.LatestReport(ctx, contract, appliance)
	must(t, "LatestReport "+appliance, err)
	return r
}

// reports reads every page of a contract's reports with limit, checking
// each page's length and size, and returns them in order.
func reports(t *testing.T, s store.Store, contract string, limit int) (all []store.Report, pages int) {
	t.Helper()
	cursor := ""
	for range 1000 {
		page, next, err := s.Reports(ctx, contract, cursor, limit)
		must(t, "Reports", err)
		if len(page) > limit {
			t.Fatalf("Reports: a page of %d, limit %d", len(page), limit)
		}
		size := 0
		for _, r := range page {
			j, _ := json.Marshal(r)
			size += len(j)
		}
		if len(page) > 1 && size > store.ReportPageBytes {
			t.Fatalf("Reports: a page of %d reports holds %d bytes, over %d", len(page), size, store.ReportPageBytes)
		}
		if len(page) == 0 && next != "" {
			t.Fatalf("Reports: an empty page with a next cursor %q", next)
		}
		all, pages = append(all, page...), pages+1
		if next == "" {
			return all, pages
		}
		cursor = next
	}
	t.Fatal("Reports: no last page after 1000")
	return nil, 0
}

func ids(rs []store.Report) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

// inLedger checks the contract's ledger holds each entry once, as written.
func inLedger(t *testing.T, s store.Store, contract string, entries ...*store.Entry) {
	t.Helper()
	l := ledger(t, s, contract)
	for _, e := range entries {
		n := 0
		for _, got := range l {
			if got.ID == e.ID {
				n++
				if !reflect.DeepEqual(got, *e) {
					t.Fatalf("ledger entry %s = %+v, want %+v", e.ID, got, *e)
				}
			}
		}
		if e.ID == "" || n != 1 {
			t.Fatalf("ledger of %s holds entry %q %d times: %+v", contract, e.ID, n, l)
		}
	}
}

// testReports: a report round-trips with the contract's peaks and its
// ledger entry; a replay of its ID on the contract is refused and changes
// nothing; the same ID on another contract is another contract's report.
func testReports(t *testing.T, s store.Store) {
	create(t, s, "IC-1", 2)
	create(t, s, "IC-2", 2)
	samePeaks(t, "Peaks of a contract without reports", readPeaks(t, s, "IC-1"),
		&store.Peaks{Contract: "IC-1", Limits: map[string]store.Peak{}})
	samePeaks(t, "Peaks of an unknown contract", readPeaks(t, s, "IC-404"),
		&store.Peaks{Contract: "IC-404", Limits: map[string]store.Peak{}})
	_, err := s.Report(ctx, "IC-1", "nope")
	wantErr(t, "Report of an unknown id", err, store.ErrNotFound)
	_, err = s.LatestReport(ctx, "IC-1", "A-aaaaaa")
	wantErr(t, "LatestReport before any report", err, store.ErrNotFound)
	if rs, next, err := s.Reports(ctx, "IC-1", "", 10); err != nil || len(rs) != 0 || next != "" {
		t.Fatalf("Reports before any report = %v, %q, %v", rs, next, err)
	}

	r := usage("IC-1", "A-aaaaaa", t0, 120)
	op := putUsage(r, raised(readPeaks(t, s, "IC-1"), &r))
	must(t, "PutReport", s.PutReport(ctx, op))
	if op.Peaks.Version != 1 {
		t.Fatalf("PutReport set the peaks' version %d, want 1", op.Peaks.Version)
	}
	sameReport(t, "Report after PutReport", readReport(t, s, "IC-1", r.ID), r)
	sameReport(t, "LatestReport after PutReport", latest(t, s, "IC-1", "A-aaaaaa"), r)
	peaks := readPeaks(t, s, "IC-1")
	samePeaks(t, "Peaks after PutReport", peaks, op.Peaks)
	if p := peaks.Limits["vpn_users"]; p != (store.Peak{Peak: 120, Limit: 250, Appliance: "A-aaaaaa", At: t0}) {
		t.Fatalf("the vpn_users peak = %+v", p)
	}
	inLedger(t, s, "IC-1", &op.Entry)
	if l := ledger(t, s, "IC-1"); len(l) != 2 || l[1].Action != "report" {
		t.Fatalf("ledger after PutReport = %+v", l)
	}
	_, err = s.Report(ctx, "IC-2", r.ID)
	wantErr(t, "Report of another contract's id", err, store.ErrNotFound)
	_, err = s.LatestReport(ctx, "IC-1", "A-aaaaa")
	wantErr(t, "LatestReport of a prefix of an appliance id", err, store.ErrNotFound)

	// The same report again, with the peaks and a history at the
	// versions stored: refused for its ID, and nothing is written.
	must(t, "PutHistory", s.PutHistory(ctx, history("A-aaaaaa", 2), nil))
	replay := putUsage(r, raised(readPeaks(t, s, "IC-1"), &r))
	replay.Report.Received = t0.Add(48 * time.Hour)
	replay.Peaks.Limits["other"] = store.Peak{Peak: 1}
	replay.History = history("A-aaaaaa", 4)
	replay.History.Version = 1
	wantErr(t, "PutReport of a report stored", s.PutReport(ctx, replay), store.ErrConflict)
	if replay.Peaks.Version != 1 || replay.History.Version != 1 || replay.Entry.ID != "" {
		t.Fatalf("a refused PutReport moved versions: peaks %d, history %d, entry %q", replay.Peaks.Version, replay.History.Version, replay.Entry.ID)
	}
	sameReport(t, "Report after a replay", readReport(t, s, "IC-1", r.ID), r)
	samePeaks(t, "Peaks after a replay", readPeaks(t, s, "IC-1"), peaks)
	if h := readHistory(t, s, "A-aaaaaa"); h.Version != 1 || h.Baseline.N != 2 {
		t.Fatalf("a replayed report wrote its history: %+v", h)
	}
	if l := ledger(t, s, "IC-1"); len(l) != 2 {
		t.Fatalf("a replayed report wrote a ledger entry: %+v", l)
	}
	if rs, _ := reports(t, s, "IC-1", 10); len(rs) != 1 {
		t.Fatalf("after a replay, Reports lists %d reports", len(rs))
	}

	// The same ID on another contract, without peaks: IC-2's report.
	other := r
	other.Contract = "IC-2"
	op2 := putUsage(other, nil)
	must(t, "PutReport on another contract", s.PutReport(ctx, op2))
	sameReport(t, "Report on another contract", readReport(t, s, "IC-2", r.ID), other)
	sameReport(t, "Report of the first contract", readReport(t, s, "IC-1", r.ID), r)
	samePeaks(t, "Peaks after a report without peaks", readPeaks(t, s, "IC-2"),
		&store.Peaks{Contract: "IC-2", Limits: map[string]store.Peak{}})
	inLedger(t, s, "IC-2", &op2.Entry)
	if l := ledger(t, s, "IC-1"); len(l) != 2 {
		t.Fatalf("another contract's report wrote in IC-1's ledger: %+v", l)
	}

	// Peaks are the report's contract's only.
	wrong := putUsage(usage("IC-1", "A-aaaaaa", t0.Add(time.Hour), 1), readPeaks(t, s, "IC-2"))
	if err := s.PutReport(ctx, wrong); err == nil {
		t.Fatal("PutReport wrote IC-2's peaks with a report of IC-1")
	}
}

// testLatestReport: an appliance's latest report is the one with the
// latest until, whatever the order they arrive in; of two with one until,
// the one received last.
func testLatestReport(t *testing.T, s store.Store) {
	create(t, s, "IC-1", 2)
	day := func(n int) time.Time { return t0.AddDate(0, 0, n) }
	put := func(r store.Report) {
		t.Helper()
		must(t, "PutReport", s.PutReport(ctx, putUsage(r, nil)))
	}
	r1, r3 := usage("IC-1", "A-aaaaaa", day(1), 10), usage("IC-1", "A-aaaaaa", day(3), 30)
	put(r1)
	sameReport(t, "latest of one", latest(t, s, "IC-1", "A-aaaaaa"), r1)
	put(r3)
	sameReport(t, "latest after a later report", latest(t, s, "IC-1", "A-aaaaaa"), r3)

	// An older report carried late is stored, and the latest stays.
	r2 := usage("IC-1", "A-aaaaaa", day(2), 20)
	op := putUsage(r2, nil)
	must(t, "PutReport of an older report", s.PutReport(ctx, op))
	sameReport(t, "latest after an older report", latest(t, s, "IC-1", "A-aaaaaa"), r3)
	sameReport(t, "the older report", readReport(t, s, "IC-1", r2.ID), r2)
	inLedger(t, s, "IC-1", &op.Entry)

	// Another appliance's reports are its own.
	_, err := s.LatestReport(ctx, "IC-1", "A-bbbbbb")
	wantErr(t, "LatestReport of an appliance without reports", err, store.ErrNotFound)
	b := usage("IC-1", "A-bbbbbb", day(9), 90)
	put(b)
	sameReport(t, "latest of another appliance", latest(t, s, "IC-1", "A-bbbbbb"), b)
	sameReport(t, "latest after another appliance's report", latest(t, s, "IC-1", "A-aaaaaa"), r3)

	// One until twice: the one received last.
	again := usage("IC-1", "A-aaaaaa", day(3), 31)
	put(again)
	sameReport(t, "latest of two with one until", latest(t, s, "IC-1", "A-aaaaaa"), again)
	put(usage("IC-1", "A-aaaaaa", day(2), 21))
	sameReport(t, "latest after another older report", latest(t, s, "IC-1", "A-aaaaaa"), again)

	if rs, _ := reports(t, s, "IC-1", 100); len(rs) != 6 {
		t.Fatalf("Reports lists %d reports, want 6", len(rs))
	}
}

// testReportPages: a contract's reports list by until, appliance and id
// whatever the order they came in, each once across pages; large reports
// make pages that stay under ReportPageBytes; a cursor is good for its own
// contract only.
func testReportPages(t *testing.T, s store.Store) {
	create(t, s, "IC-1", 10)
	create(t, s, "IC-10", 1)
	var want []store.Report
	for d := range 4 {
		for _, a := range []string{"A-bbbbbb", "A-aaaaaab", "A-aaaaaa"} {
			for n := range 2 {
				want = append(want, usage("IC-1", a, t0.AddDate(0, 0, 3-d), int64(d*10+n)))
			}
		}
	}
	// A until that differs by a fraction of a second sorts as well.
	want = append(want, usage("IC-1", "A-aaaaaa", t0.Add(time.Millisecond), 7))
	for _, i := range rand.Perm(len(want)) {
		must(t, "PutReport", s.PutReport(ctx, putUsage(want[i], nil)))
	}
	must(t, "PutReport on IC-10", s.PutReport(ctx, putUsage(usage("IC-10", "A-aaaaaa", t0, 1), nil)))
	slices.SortFunc(want, func(a, b store.Report) int {
		return cmp.Or(a.Until.Compare(b.Until), cmp.Compare(a.Appliance, b.Appliance), cmp.Compare(a.ID, b.ID))
	})
	for _, limit := range []int{1, 4, 25, 100} {
		got, n := reports(t, s, "IC-1", limit)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Reports with limit %d = %v, want %v", limit, ids(got), ids(want))
		}
		if wantPages := (len(want) + limit - 1) / limit; n != wantPages {
			t.Fatalf("Reports with limit %d took %d pages for %d reports", limit, n, len(want))
		}
	}
	all, next, err := s.Reports(ctx, "IC-1", "", 0) // 0: a default page
	if err != nil || len(all) != len(want) || next != "" {
		t.Fatalf("Reports with no limit = %d reports, %q, %v", len(all), next, err)
	}
	_, next, _ = s.Reports(ctx, "IC-1", "", 5)
	_, _, err = s.Reports(ctx, "IC-10", next, 5)
	wantErr(t, "Reports with another contract's cursor", err, store.ErrNotFound)
	_, _, err = s.Reports(ctx, "IC-1", "!not a cursor!", 5)
	wantErr(t, "Reports with a bad cursor", err, store.ErrNotFound)

	// Large reports: a page holds fewer than its limit, and one of the
	// largest a page of its own.
	create(t, s, "IC-2", 10)
	var big []string
	for i := range 10 {
		r := usage("IC-2", fmt.Sprintf("A-%06d", i), t0, int64(i))
		size := 40 << 10
		if i == 9 {
			size = 64 << 10
		}
		r.Text += strings.Repeat("x", size-len(r.Text))
		big = append(big, r.ID)
		must(t, "PutReport of a large report", s.PutReport(ctx, putUsage(r, nil)))
	}
	got, n := reports(t, s, "IC-2", 100)
	if !slices.Equal(ids(got), big) || n != 4 {
		t.Fatalf("large reports listed in %d pages, want 4: %v, want %v", n, ids(got), big)
	}
}

// testReportConditions: a PutReport whose peaks or history are not at the
// version stored is refused whole: no report, no latest, no peaks, no
// history, no ledger entry.
func testReportConditions(t *testing.T, s store.Store) {
	create(t, s, "IC-1", 2)
	first := usage("IC-1", "A-aaaaaa", t0, 100)
	op := putUsage(first, raised(readPeaks(t, s, "IC-1"), &first))
	op.History = history("A-aaaaaa", 2)
	must(t, "PutReport with peaks and a history", s.PutReport(ctx, op))
	if op.Peaks.Version != 1 || op.History.Version != 1 {
		t.Fatalf("PutReport set versions %d (peaks) and %d (history), want 1 and 1", op.Peaks.Version, op.History.Version)
	}
	sameHistory(t, "History after PutReport", readHistory(t, s, "A-aaaaaa"), op.History)
	peaks := readPeaks(t, s, "IC-1")

	refused := func(what string, op *store.PutReport) {
		t.Helper()
		pv, hv := op.Peaks.Version, op.History.Version
		wantErr(t, what, s.PutReport(ctx, op), store.ErrConflict)
		if op.Peaks.Version != pv || op.History.Version != hv || op.Entry.ID != "" {
			t.Fatalf("%s: versions moved to %d and %d, entry %q", what, op.Peaks.Version, op.History.Version, op.Entry.ID)
		}
		_, err := s.Report(ctx, "IC-1", op.Report.ID)
		wantErr(t, what+": its report", err, store.ErrNotFound)
		sameReport(t, what+": the latest", latest(t, s, "IC-1", "A-aaaaaa"), first)
		samePeaks(t, what+": the peaks", readPeaks(t, s, "IC-1"), peaks)
		if h := readHistory(t, s, "A-aaaaaa"); h.Version != 1 || h.Baseline.N != 2 {
			t.Fatalf("%s: the history is %+v", what, h)
		}
		if l := ledger(t, s, "IC-1"); len(l) != 2 {
			t.Fatalf("%s: the ledger holds %d entries, want 2", what, len(l))
		}
		if rs, _ := reports(t, s, "IC-1", 10); len(rs) != 1 {
			t.Fatalf("%s: Reports lists %d reports", what, len(rs))
		}
	}
	next := usage("IC-1", "A-aaaaaa", t0.AddDate(0, 1, 0), 200)
	mk := func(peaks, hist uint64) *store.PutReport {
		op := putUsage(next, raised(readPeaks(t, s, "IC-1"), &next))
		op.Peaks.Version = peaks
		op.History = history("A-aaaaaa", 4)
		op.History.Version = hist
		return op
	}
	refused("PutReport with peaks read before any were stored", mk(0, 1))
	refused("PutReport with peaks at a version not yet stored", mk(2, 1))
	refused("PutReport with a history read before any was stored", mk(1, 0))
	refused("PutReport with a history at a version not yet stored", mk(1, 2))
	refused("PutReport with neither at its version", mk(0, 0))

	op = mk(1, 1)
	must(t, "PutReport at the versions stored", s.PutReport(ctx, op))
	if op.Peaks.Version != 2 || op.History.Version != 2 {
		t.Fatalf("PutReport set versions %d (peaks) and %d (history), want 2 and 2", op.Peaks.Version, op.History.Version)
	}
	samePeaks(t, "Peaks after the second report", readPeaks(t, s, "IC-1"), op.Peaks)
	sameHistory(t, "History after the second report", readHistory(t, s, "A-aaaaaa"), op.History)
	sameReport(t, "latest after the second report", latest(t, s, "IC-1", "A-aaaaaa"), next)
	inLedger(t, s, "IC-1", &op.Entry)

	// A report without peaks or history leaves both as they are; one
	// decided from peaks a concurrent report moved is refused.
	stale := op.Peaks.Version - 1
	third := usage("IC-1", "A-aaaaaa", t0.AddDate(0, 2, 0), 50)
	must(t, "PutReport without peaks or history", s.PutReport(ctx, putUsage(third, nil)))
	if p, h := readPeaks(t, s, "IC-1"), readHistory(t, s, "A-aaaaaa"); p.Version != 2 || h.Version != 2 {
		t.Fatalf("a PutReport without peaks or history moved them to versions %d and %d", p.Version, h.Version)
	}
	late := usage("IC-1", "A-bbbbbb", t0, 999)
	lop := putUsage(late, raised(readPeaks(t, s, "IC-1"), &late))
	lop.Peaks.Version = stale
	wantErr(t, "PutReport with peaks a report moved meanwhile", s.PutReport(ctx, lop), store.ErrConflict)
	_, err := s.LatestReport(ctx, "IC-1", "A-bbbbbb")
	wantErr(t, "LatestReport of a refused report's appliance", err, store.ErrNotFound)

	// The history PutReport writes is bounded, as every history write is.
	big := history("A-cccccc", store.MaxSeen+10)
	bop := putUsage(usage("IC-1", "A-cccccc", t0, 1), nil)
	bop.History = big
	must(t, "PutReport with an unbounded history", s.PutReport(ctx, bop))
	if h := readHistory(t, s, "A-cccccc"); len(h.Seen) != store.MaxSeen || h.Seen[0].N != 11 || h.Version != 1 {
		t.Fatalf("PutReport's history keeps %d seen heads from %d, version %d", len(h.Seen), h.Seen[0].N, h.Version)
	}
}

// testReportRace: 16 appliances report at once, each raising one contract's
// peaks from the record it read, and retrying when another wrote first:
// every report is stored once, with its ledger entry, and the peaks are the
// largest reported, at one version per report.
func testReportRace(t *testing.T, s store.Store) {
	create(t, s, "IC-1", 16)
	const n = 16
	ops := make([]*store.PutReport, n)
	errs := make([]error, n)
	tries := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		r := usage("IC-1", fmt.Sprintf("A-%06d", i), t0.AddDate(0, 0, i%5), int64((i*37)%101))
		wg.Go(func() {
			for tries[i] = 1; tries[i] <= 200; tries[i]++ {
				p, err := s.Peaks(ctx, "IC-1")
				if err != nil {
					errs[i] = err
					return
				}
				op := putUsage(r, raised(p, &r))
				op.History = history(r.Appliance, 1)
				err = s.PutReport(ctx, op)
				if !errors.Is(err, store.ErrConflict) {
					ops[i], errs[i] = op, err
					return
				}
				if op.Peaks.Version != p.Version || op.History.Version != 0 {
					errs[i] = fmt.Errorf("a refused PutReport moved versions to %d and %d", op.Peaks.Version, op.History.Version)
					return
				}
			}
			errs[i] = fmt.Errorf("still refused after %d tries", tries[i]-1)
		})
	}
	wg.Wait()
	var entries []*store.Entry
	top := store.Peak{}
	for i, err := range errs {
		must(t, fmt.Sprintf("report %d (%d tries)", i, tries[i]), err)
		entries = append(entries, &ops[i].Entry)
		if v := ops[i].Report.Limits["vpn_users"].Peak(); v > top.Peak {
			top = store.Peak{Peak: v, Limit: 250, Appliance: ops[i].Report.Appliance, At: ops[i].Report.Until}
		}
		sameReport(t, "a raced report", readReport(t, s, "IC-1", ops[i].Report.ID), ops[i].Report)
		if h := readHistory(t, s, ops[i].Report.Appliance); h.Version != 1 {
			t.Fatalf("a raced report's history is at version %d", h.Version)
		}
	}
	p := readPeaks(t, s, "IC-1")
	if p.Version != n || len(p.Limits) != 1 || p.Limits["vpn_users"] != top {
		t.Fatalf("peaks after the race = %+v, want vpn_users %+v at version %d", p, top, n)
	}
	inLedger(t, s, "IC-1", entries...)
	if l := ledger(t, s, "IC-1"); len(l) != n+1 {
		t.Fatalf("the ledger holds %d entries, want the order and %d reports", len(l), n)
	}
	if rs, _ := reports(t, s, "IC-1", 5); len(rs) != n {
		t.Fatalf("Reports lists %d reports, want %d", len(rs), n)
	}
}
