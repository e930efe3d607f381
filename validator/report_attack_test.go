package validator

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenurehq/tenure/shared/engine"
)

// Attacks on usage reports found by review (DESIGN.md, "Usage reports",
// "State integrity"). Each test fails while the weakness stands.

// reportingAppliance is an appliance licensed on IC-1 (vpn_users 250) from
// day1, and its first LRF.
func reportingAppliance(t *testing.T) (is *issuer, cfg *Config, e env, lrf string) {
	t.Helper()
	is, cfg, e, lrf = newAppliance(t)
	_, sealed := is.license(t, lrf, "IC-1", "2026-01-05", "2027-01-05", day1, nil)
	cli(t, cfg, e, sealed, 0, "install", "-")
	return is, cfg, e, lrf
}

// TestAttackReportPowerCutAfterCommit: a power cut between the report
// event (the commit point) and the facts record written after it leaves the
// record one event behind, which loading accepts, with the counters of the
// period the report ended still in it. A real cut kills the process before
// the report is printed, so those counters were never handed over: they
// are kept, and the next report carries them. Nothing counted is lost; a
// peak may be reported twice, never not at all.
func TestAttackReportPowerCutAfterCommit(t *testing.T) {
	_, cfg, e, lrf := reportingAppliance(t)
	e.now = "2026-02-01T09:00:00Z"
	cli(t, cfg, e, "", 0, "check", "--limit", "vpn_users", "70")

	r, committed := reportCutAfterCommit(cfg, e)
	if !committed {
		t.Fatalf("the report never wrote its event: %+v", r)
	}
	// Whether or not the first report reached the operator (a real cut
	// kills the process before it prints), the next period must not hold
	// the counters of the one the event ended.
	e.now = "2026-03-01T09:00:00Z"
	cli(t, cfg, e, "", 0, "check", "--limit", "vpn_users", "12")
	u2 := openReport(t, lrf, cli(t, cfg, e, "", 0, "report").Stdout)
	if got := u2.Section("IC-1").Limits["vpn_users"]; got.Allowed != 70 {
		t.Fatalf("the report after the cut covers %s to %s and says vpn_users was allowed at %d: the peak of 70, which no printed report carried, is lost",
			u2.Period.From.Format(engine.TimeFormat), u2.Period.Until.Format(engine.TimeFormat), got.Allowed)
	}
}

// TestAttackReportFromTamperedFacts: with the facts record deleted (or
// edited), the counters are gone and the state says so ("state tampered"),
// yet `tenure report` signs a report that claims the whole period, from the
// last report on, with nothing used, chained to the history: the issuer
// sees a report that continues the chain, no gap and no fork. A report over
// counters the state knows it lost is a false statement signed by the
// device key.
func TestAttackReportFromTamperedFacts(t *testing.T) {
	_, cfg, e, lrf := reportingAppliance(t)
	e.now = "2026-02-01T09:00:00Z"
	cli(t, cfg, e, "", 0, "check", "--limit", "vpn_users", "70")
	if err := os.Remove(filepath.Join(cfg.Dir, fileFacts)); err != nil {
		t.Fatal(err)
	}
	// Restricted ("state tampered"), but with restricted_features "last"
	// the features and limits still answer: 240 of 250 is allowed, and,
	// the mode not being licensed, it is not counted either.
	e.now = "2026-02-10T09:00:00Z"
	allowed := mustContainExit(t, cfg, e, "check", "--limit", "vpn_users", "240")
	r := Run(cfg, Request{Args: []string{"report"}, Env: e.vars()})
	if r.Exit != 0 {
		return // refused: the counters are known lost
	}
	u := openReport(t, lrf, r.Stdout)
	if sec := u.Section("IC-1"); sec == nil || sec.Limits["vpn_users"].Allowed < 70 {
		t.Fatalf("with the facts record deleted, `tenure report` exits 0 with a report of %s to %s that shows %+v: the lost peak of 70, and the 240 allowed after the deletion (%q), read as nothing used, and nothing in the report says the counters were lost",
			u.Period.From.Format(engine.TimeFormat), u.Period.Until.Format(engine.TimeFormat), u.Contracts, allowed)
	}
}

// mustContainExit runs a check that must be allowed and returns its answer.
func mustContainExit(t *testing.T, cfg *Config, e env, args ...string) string {
	t.Helper()
	return strings.TrimSpace(cli(t, cfg, e, "", 0, args...).Stdout)
}

// TestAttackRestoreErasesCounters: `tenure backup` right after a report,
// the period's checks, then the state directory wiped and the backup
// restored with `tenure restore` (the official commands only): the
// counters are back to the empty ones of the backup, and the history only
// grew by a restore event, so the next report continues the chain the
// issuer saw (no fork, no restore anomaly) with a period that spans the
// checks and shows none of them.
func TestAttackRestoreErasesCounters(t *testing.T) {
	_, cfg, e, lrf := reportingAppliance(t)
	e.now = "2026-02-01T09:00:00Z"
	first := openReport(t, lrf, cli(t, cfg, e, "", 0, "report").Stdout)
	const pass = "a long backup passphrase\n"
	backup := cli(t, cfg, e, pass, 0, "backup", "--passphrase-file", "-").Stdout

	e.now = "2026-02-10T09:00:00Z"
	cli(t, cfg, e, "", 0, "check", "--limit", "vpn_users", "240")

	entries, err := os.ReadDir(cfg.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		if err := os.RemoveAll(filepath.Join(cfg.Dir, en.Name())); err != nil {
			t.Fatal(err)
		}
	}
	e.now = "2026-02-20T09:00:00Z"
	cli(t, cfg, e, pass+backup, 0, "restore", "--passphrase-file", "-")
	e.now = "2026-03-01T09:00:00Z"
	u := openReport(t, lrf, cli(t, cfg, e, "", 0, "report").Stdout)
	continues := u.History.Holds(first.History.Head)
	restoredAt := day(t, "2026-02-20T09:00:00Z")
	if got := u.Section("IC-1"); continues && u.Period.From.Before(restoredAt) && (got == nil || got.Limits["vpn_users"].Allowed != 240) {
		t.Fatalf("after a backup/restore the report covers %s to %s, continues the history the issuer saw (head %d holds %d), and shows %+v: the peak of 240 checked on 2026-02-10 is gone, and neither a usage_gap nor a history anomaly can show it",
			u.Period.From.Format(engine.TimeFormat), u.Period.Until.Format(engine.TimeFormat), u.History.Head.N, first.History.Head.N, u.Contracts)
	}
}

// TestAttackClockResetSplitsPeriod: a clock reset moves the start of the
// open period to its mark but keeps the counters of the time before it. A
// report made after a reset thus claims a period that starts at the mark
// while it holds peaks checked before the mark, and the issuer, whose last
// report ended before the mark, records a usage_gap for a span whose usage
// is in fact in the report. Either the period keeps its start (DESIGN
// "Clock recovery": the open period is capped at the mark, not moved to
// it), or the counters of before the mark do not belong to it.
func TestAttackClockResetSplitsPeriod(t *testing.T) {
	is, cfg, e, first := newAppliance(t)
	_, sealed := is.license(t, first, "IC-1", "2026-01-05", "2027-01-05", day1, nil)
	cli(t, cfg, e, sealed, 0, "install", "-")
	e.now = "2026-02-01T00:00:00Z"
	r1 := openReport(t, first, cli(t, cfg, e, "", 0, "report").Stdout)
	e.now = "2026-02-10T00:00:00Z"
	cli(t, cfg, e, "", 0, "check", "--limit", "vpn_users", "70") // before the clock ran ahead
	cli(t, cfg, env{now: "2099-06-01T00:00:00Z", platform: platformA}, "", 0, "status")
	real := env{now: "2026-03-01T00:00:00Z", platform: platformA}
	lrf := cli(t, cfg, real, "", 0, "request").Stdout
	cli(t, cfg, real, is.reset(t, lrf, "2026-03-01T00:05:00Z", nil), 0, "install", "-")
	real.now = "2026-03-02T00:00:00Z"
	r2 := openReport(t, first, cli(t, cfg, real, "", 0, "report").Stdout)
	has70 := r2.Section("IC-1") != nil && r2.Section("IC-1").Limits["vpn_users"].Allowed == 70
	if !r2.Period.From.Equal(r1.Period.Until) && has70 {
		t.Fatalf("the report after the reset covers %s to %s (the first ended %s: the issuer records a usage_gap) yet holds the peak of 70 checked on 2026-02-10, before the mark",
			r2.Period.From.Format(engine.TimeFormat), r2.Period.Until.Format(engine.TimeFormat), r1.Period.Until.Format(engine.TimeFormat))
	}
}

// TestAttackTooManyLimitNames: the counters take up to 128 names over
// every contract, and a name is any limit of the trial or of any tier
// (HasLimit), while a report's or LRF's section takes at most 64 limits
// (usage_sections in defs.schema.json). A product whose tiers name more than
// 64 limits between them (each tier within its own 64) lets checks of 65
// names fill one section past the schema: from then on `tenure request`
// and `tenure report` fail to encode, so the appliance can make no LRF
// (no renewal, no reissue) and no report ever again.
func TestAttackTooManyLimitNames(t *testing.T) {
	is, cfg, e, lrf := newAppliance(t)
	p := *cfg.Product
	lite, pro := map[string]int64{}, map[string]int64{}
	var names []string
	for i := range 70 {
		name := "l" + strings.Repeat("x", 3) + string(rune('a'+i/26)) + string(rune('a'+i%26))
		names = append(names, name)
		if i < 35 {
			lite[name] = 10
		} else {
			pro[name] = 10
		}
	}
	p.Tiers = map[string]engine.Tier{"lite": {Features: []string{"scion"}, Limits: lite}, "pro": {Features: p.Features, Limits: pro}}
	cfg.Product = &p
	_, sealed := is.license(t, lrf, "IC-1", "2026-01-05", "2027-01-05", day1, func(l *engine.License) { l.Limits = pro })
	cli(t, cfg, e, sealed, 0, "install", "-")
	for _, name := range names {
		if r := Run(cfg, Request{Args: []string{"check", "--limit", name, "5"}, Env: e.vars()}); r.Exit > 1 {
			t.Fatalf("check --limit %s: %+v", name, r)
		}
	}
	for _, cmd := range []string{"request", "report"} {
		if r := Run(cfg, Request{Args: []string{cmd}, Env: e.vars()}); r.Exit != 0 {
			t.Errorf("after checks of %d limit names of the catalog, `tenure %s` exits %d: %s", len(names), cmd, r.Exit, r.Stderr)
		}
	}
}

// TestAttackReportSequenceAfterCut: a report takes the next sequence and
// records it in its event, but the history's report events do not count
// when the sequence is derived, so a lost facts record write (a power cut
// after the report's event) hands the report's sequence to the next LRF.
func TestAttackReportSequenceAfterCut(t *testing.T) {
	_, cfg, e, lrf := reportingAppliance(t)
	r, _ := reportCutAfterCommit(cfg, e)
	if r.Exit != 0 {
		t.Fatalf("report: %+v", r)
	}
	u := openReport(t, lrf, r.Stdout)
	q, _, err := engine.OpenRequest([]byte(cli(t, cfg, e, "", 0, "request").Stdout))
	if err != nil {
		t.Fatal(err)
	}
	if q.Sequence <= u.Sequence {
		t.Fatalf("the LRF after the report has sequence %d, the report had %d", q.Sequence, u.Sequence)
	}
}

// reportCutAfterCommit runs `tenure report` with the power cut at the facts
// record once the history holds the report's event; committed says the
// event was written.
func reportCutAfterCommit(cfg *Config, e env) (r Response, committed bool) {
	cutPower = func(name, step string) error {
		if name == fileHistory && step == "renamed" {
			committed = true
		}
		if committed && name == fileFacts {
			return errPowerCut
		}
		return nil
	}
	defer func() { cutPower = nil }()
	r = Run(cfg, Request{Args: []string{"report"}, Env: e.vars()})
	return r, committed
}
