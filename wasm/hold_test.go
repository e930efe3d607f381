package wasm

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/tenurehq/tenure/shared/engine"
	"github.com/tenurehq/tenure/wasm/internal/guest"
)

// TestHeldAnswers is the differential test of the answers the host keeps:
// random checks asked of a Validator that answers from holds and, at once,
// of one that enters the module every time, over one state on the real
// clock, while the mode changes under them (a license becomes valid two
// seconds in) and other commands change the state. Every answer the host
// gave from a hold is the module's, unless the mode changed between the two
// questions.
func TestHeldAnswers(t *testing.T) {
	ctx := context.Background()
	state := t.TempDir()
	now := engine.Normalize(time.Now())
	starts := now.Add(3 * time.Second)
	held := open(t, state, platformA, "")
	if err := held.Init(ctx, "edge", "0.40.0"); err != nil {
		t.Fatal(err)
	}
	lrf, err := held.Request(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Pending for three seconds (the trial answers: vpn_users 10), then
	// licensed (vpn_users 250).
	lic := issue(t, lrf, guest.Grant{ID: "L-000001", From: starts, Until: now.Add(365 * engine.Day), Issued: now.Add(-time.Minute),
		Features: []string{"scion", "vpn"}, Limits: map[string]int64{"vpn_users": 250}})
	if _, err := held.Install(ctx, lic); err != nil {
		t.Fatal(err)
	}
	module := open(t, state, platformA, "")
	module.noHold = true
	other := open(t, state, platformA, "")
	other.noHold = true

	rnd := rand.New(rand.NewPCG(1, 2))
	questions := func() []string {
		switch rnd.IntN(4) {
		case 0:
			return []string{"check", []string{"scion", "vpn", "peering", "monitoring"}[rnd.IntN(4)]}
		case 1:
			return []string{"check", "--config-change"}
		default:
			return []string{"check", "--limit", []string{"vpn_users", "peering_tunnels"}[rnd.IntN(2)], strconv.Itoa([]int{0, 5, 10, 11, 100, 250, 251}[rnd.IntN(7)])}
		}
	}
	var asked, compared int
	deadline := time.Now().Add(6 * time.Second)
	for i := 0; time.Now().Before(deadline) && i < 2_000_000; i++ {
		if i%5_000 == 4_999 {
			// Another process changes the state: a request writes the facts
			// record and moves the generation.
			if _, err := other.Request(ctx); err != nil {
				t.Fatal(err)
			}
		}
		q := questions()
		before := time.Now()
		hits := held.heldHits
		got, err := held.check(ctx, q...)
		if err != nil {
			t.Fatalf("%v: %v", q, err)
		}
		asked++
		if held.heldHits == hits {
			continue // the module answered: nothing to compare
		}
		want, err := module.check(ctx, q...)
		if err != nil {
			t.Fatalf("%v: %v", q, err)
		}
		after := time.Now()
		if before.Before(starts) && !after.Before(starts) {
			continue // the license became valid between the two questions
		}
		compared++
		if got != want {
			t.Fatalf("at %v the host answered %v to %v from a hold, the module %v", before.Format(time.RFC3339Nano), got, q, want)
		}
	}
	if held.heldHits == 0 || compared == 0 {
		t.Fatalf("no answer came from a hold in %d checks", asked)
	}
	t.Logf("%d checks, %d answered from holds, %d compared with the module", asked, held.heldHits, compared)

	// The answers changed with the mode, and the clock kept moving: the
	// high-water mark the module keeps is the last second asked.
	if ok, _ := held.CheckLimit(ctx, "vpn_users", 100); !ok {
		t.Fatal("vpn_users 100 is denied once the license is valid")
	}
	st, err := module.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != engine.ModeLicensed || time.Since(st.Clock.HighWater) > 2*time.Second {
		t.Fatalf("after the checks: %s, high-water mark %v", st.State, st.Clock.HighWater)
	}
}

// TestHeldAnswersFollowChanges: a change another process makes to the state
// is seen by the next check, held answers or not.
func TestHeldAnswersFollowChanges(t *testing.T) {
	ctx := context.Background()
	state := t.TempDir()
	v, _ := installed(t, state, "", grant(0))
	for range 3 {
		if ok, err := v.Check(ctx, "vpn"); !ok || err != nil {
			t.Fatalf("check vpn: %v, %v", ok, err)
		}
	}
	if v.heldHits == 0 {
		t.Fatal("a repeated check was not answered from its hold")
	}
	other := open(t, state, platformA, "")
	if _, err := other.Release(ctx, "L-000001"); err != nil {
		t.Fatal(err)
	}
	if ok, err := v.Check(ctx, "vpn"); ok || err != nil {
		t.Fatalf("check vpn after another process released the license: %v, %v", ok, err)
	}
}
