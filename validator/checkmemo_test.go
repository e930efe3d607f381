package validator

import (
	"strings"
	"testing"
	"unsafe"

	"github.com/tenurehq/tenure/shared/engine"
)

// TestCheckMemo holds a warm appliance's remembered check answers to the
// answers it computes without them: for different questions, with the time
// crossing a mode's transition, the host clock set back, and a license
// installed by another process; and it holds the clock record to its rule
// while answers come from the memo.
func TestCheckMemo(t *testing.T) {
	is, cfg, e, lrf := newAppliance(t)
	_, sealed := is.license(t, lrf, "IC-1", "2026-01-10", "2026-03-01", "2026-01-05T10:00:00Z", nil)
	cli(t, cfg, e, sealed, 0, "install", "-")

	a := New(cfg)
	defer a.Close()
	questions := [][]string{
		{"check", "vpn"}, {"check", "peering"}, {"check", "--limit", "vpn_users", "5"},
		{"check", "--limit", "vpn_users", "500"}, {"check", "--config-change"}, {"check", "nosuch"},
		{"check", "-limit", "vpn_users", "x"}, {"check", "--limit=vpn_users", "5"},
	}
	// ask runs q at now, then again with the memo emptied, and fails unless
	// both print the same; it returns the first answer and whether it came
	// from the memo.
	ask := func(now string, q ...string) (Response, bool) {
		t.Helper()
		req := Request{Args: q, Env: env{now: now, platform: platformA}.vars()}
		var before *byte
		for _, an := range a.memo.answers {
			if equalWords(an.args, q[1:]) {
				before = unsafe.StringData(an.out)
			}
		}
		got := a.Run(req)
		hit := before != nil && before == unsafe.StringData(got.Stdout)
		saved := a.memo
		a.memo = checkMemo{}
		want := a.Run(req)
		a.memo = saved
		if got != want {
			t.Fatalf("%s at %s: remembered %+v, computed %+v", strings.Join(q, " "), now, got, want)
		}
		return got, hit
	}
	askAll := func(now string, wantHits bool) {
		t.Helper()
		for _, q := range questions {
			r, hit := ask(now, q...)
			if want := wantHits && r.Exit <= 1 && (len(q) < 3 || q[1] != "--limit=vpn_users"); hit != want {
				t.Fatalf("%s at %s: from the memo %v, want %v (%+v)", strings.Join(q, " "), now, hit, want, r)
			}
		}
	}
	askAll("2026-01-06T10:00:00Z", false)
	askAll("2026-01-06T10:00:00Z", true)
	askAll("2026-01-06T10:30:00Z", true)

	// The license starts counting at its from: the trial's answers end there.
	if r, _ := ask("2026-01-09T23:59:59Z", "check", "vpn"); !strings.Contains(r.Stdout, "(trial)") {
		t.Fatalf("before the license's from: %+v", r)
	}
	if r, hit := ask("2026-01-10T00:00:00Z", "check", "vpn"); !strings.Contains(r.Stdout, "(licensed)") || hit {
		t.Fatalf("at the license's from: %+v, from the memo %v", r, hit)
	}
	if r, hit := ask("2026-01-10T00:30:00Z", "check", "vpn"); !strings.Contains(r.Stdout, "(licensed)") || !hit {
		t.Fatalf("after the license's from: %+v, from the memo %v", r, hit)
	}

	// Answers from the memo still move the high-water mark, in memory and,
	// an hour on, on disk.
	if _, hit := ask("2026-01-10T05:00:00Z", "check", "vpn"); !hit {
		t.Fatal("a check five hours on did not come from the memo")
	}
	var clock factsRecord
	if _, err := a.st.getRecord(fileFacts, &clock); err != nil || !clock.HighWater.Equal(day(t, "2026-01-10T05:00:00Z")) {
		t.Fatalf("facts record %v, %v; want 2026-01-10T05:00:00Z", clock.HighWater, err)
	}
	if _, hit := ask("2026-01-10T05:30:00Z", "check", "vpn"); !hit {
		t.Fatal("a check half an hour on did not come from the memo")
	}
	if _, err := a.st.getRecord(fileFacts, &clock); err != nil || !clock.HighWater.Equal(day(t, "2026-01-10T05:00:00Z")) {
		t.Fatalf("facts record %v, %v; want it kept at 2026-01-10T05:00:00Z", clock.HighWater, err)
	}
	if !a.hw.Equal(day(t, "2026-01-10T05:30:00Z")) {
		t.Fatalf("high-water mark in memory %v", a.hw)
	}

	// A clock set back gains nothing: the answer is the one at the mark.
	if r, _ := ask("2026-01-06T10:00:00Z", "check", "vpn"); !strings.Contains(r.Stdout, "(licensed)") {
		t.Fatalf("clock set back: %+v", r)
	}

	// Past the license's until: the grace period's answers, not the memo's.
	if r, hit := ask("2026-03-01T00:00:00Z", "check", "vpn"); strings.Contains(r.Stdout, "(licensed)") || hit {
		t.Fatalf("at the license's until: %+v, from the memo %v", r, hit)
	}

	// Another process installs an addon: the warm appliance's next answer
	// sees it.
	now := "2026-03-02T00:00:00Z"
	if r, _ := ask(now, "check", "--limit", "vpn_users", "500"); r.Exit != 1 {
		t.Fatalf("500 VPN users before the addon: %+v", r)
	}
	if _, hit := ask(now, "check", "--limit", "vpn_users", "500"); !hit {
		t.Fatal("the same check again did not come from the memo")
	}
	_, base := is.license(t, lrf, "IC-1", "2026-03-01", "2027-03-01", "2026-03-01T12:00:00Z", nil)
	_, addon := is.license(t, lrf, "IC-2", "2026-03-01", "2027-03-01", "2026-03-01T12:00:00Z", func(l *engine.License) {
		l.Kind, l.Features, l.Limits = engine.KindAddon, []string{"peering"}, map[string]int64{"vpn_users": 1000}
	})
	other := New(cfg)
	for _, lic := range []string{base, addon} {
		if r := other.Run(Request{Args: []string{"install", "-"}, Env: env{now: now, platform: platformA}.vars(), Stdin: lic}); r.Exit != 0 {
			t.Fatalf("install by another process: %+v", r)
		}
	}
	other.Close()
	if r, hit := ask(now, "check", "--limit", "vpn_users", "500"); r.Exit != 0 || hit {
		t.Fatalf("500 VPN users after another process installed the addon: %+v, from the memo %v", r, hit)
	}
	if r, _ := ask(now, "check", "peering"); r.Exit != 0 {
		t.Fatalf("peering after the addon: %+v", r)
	}
}
