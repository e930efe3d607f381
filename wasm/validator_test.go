package wasm

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenurehq/tenure/shared/engine"
	"github.com/tenurehq/tenure/wasm/internal/guest"
)

func date(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := engine.ParseInstant(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestAPI runs an appliance's life through the Go API and the reactor in
// wazero.
func TestAPI(t *testing.T) {
	ctx := context.Background()
	state := t.TempDir()
	v := open(t, state, platformA, "2026-01-05T10:00:00Z")

	if err := v.Init(ctx, "edge", "0.40.0"); err != nil {
		t.Fatal(err)
	}
	var e *Error
	if err := v.Init(ctx, "edge", "0.40.0"); !errors.As(err, &e) || e.Exit != 2 || !strings.Contains(e.Message, "already") {
		t.Fatalf("a second init: %v, want an exit-2 error saying the appliance already exists", err)
	}
	s, err := v.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.State != engine.ModeTrial || !slices.Equal(s.Features, []string{"*"}) || s.Limits["vpn_users"] != 10 {
		t.Fatalf("after init: %+v", s)
	}
	checks := []struct {
		what string
		ok   func() (bool, error)
		want bool
	}{
		{"check peering in trial", func() (bool, error) { return v.Check(ctx, "peering") }, true},
		{"check --limit vpn_users 10", func() (bool, error) { return v.CheckLimit(ctx, "vpn_users", 10) }, true},
		{"check --limit vpn_users 11", func() (bool, error) { return v.CheckLimit(ctx, "vpn_users", 11) }, false},
		{"check --config-change", func() (bool, error) { return v.CheckConfigChange(ctx) }, true},
	}
	for _, c := range checks {
		if ok, err := c.ok(); err != nil || ok != c.want {
			t.Errorf("%s: %v, %v; want %v", c.what, ok, err, c.want)
		}
	}
	if _, err := v.Check(ctx, "teleport"); !errors.As(err, &e) || e.Exit != 2 {
		t.Errorf("check of an unknown feature: %v, want an exit-2 error", err)
	}

	lrf, err := v.Request(ctx)
	if err != nil {
		t.Fatal(err)
	}
	req, _, err := engine.OpenRequest(lrf)
	if err != nil {
		t.Fatalf("the LRF does not open: %v\n%s", err, lrf)
	}
	if req.Product != "edge" || req.Version != "0.40.0" || req.Mode != engine.ModeTrial {
		t.Fatalf("LRF: %+v", req)
	}
	if err := v.FirstUse(ctx); err != nil {
		t.Fatal(err)
	}

	lic := issue(t, lrf, guest.Grant{ID: "L-000001", From: date(t, "2026-01-07"), Until: date(t, "2027-01-07"), Issued: date(t, "2026-01-05T10:30:00Z")})
	out, err := v.Install(ctx, lic)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "installed license L-000001") {
		t.Errorf("install said %q", out)
	}
	s, err = v.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The license starts on the 7th: on the 5th it is pending.
	if s.State != engine.ModeTrial || len(s.Licenses) != 1 || s.Licenses[0].Standing != engine.StandingPending {
		t.Fatalf("before the license's from: %+v", s)
	}
	s, err = v.StatusAt(ctx, date(t, "2026-06-01"))
	if err != nil {
		t.Fatal(err)
	}
	if s.State != engine.ModeLicensed || !slices.Equal(s.Features, []string{"scion", "vpn"}) || s.Until == nil || !s.Until.Equal(date(t, "2027-01-07")) {
		t.Fatalf("at 2026-06-01: %+v", s)
	}
	s, err = v.StatusAt(ctx, date(t, "2027-02-01"))
	if err != nil {
		t.Fatal(err)
	}
	if s.State != engine.ModeGrace || s.Grace == nil || !s.Grace.Started.Equal(date(t, "2027-01-07")) {
		t.Fatalf("at 2027-02-01: %+v", s)
	}

	// Licensed, a week later: the same Validator, a new time.
	later := open(t, state, platformA, "2026-01-12T00:00:00Z")
	if ok, err := later.Check(ctx, "peering"); err != nil || ok {
		t.Errorf("check peering with a license granting scion and vpn: %v, %v; want denied", ok, err)
	}
	if ok, err := later.Check(ctx, "vpn"); err != nil || !ok {
		t.Errorf("check vpn: %v, %v; want allowed", ok, err)
	}
	if ok, err := later.CheckLimit(ctx, "vpn_users", 250); err != nil || !ok {
		t.Errorf("check --limit vpn_users 250: %v, %v; want allowed", ok, err)
	}
	for range 50 {
		if _, err := later.Check(ctx, "vpn"); err != nil {
			t.Fatal(err)
		}
	}
	mem := later.MemorySize()
	t.Logf("live instance memory after %d calls: %.1f MiB", 54, float64(mem)/(1<<20))
	if mem > 64<<20 {
		t.Errorf("the live instance holds %d MiB; checks should not grow it", mem>>20)
	}

	receipt, err := later.Release(ctx, "L-000001")
	if err != nil {
		t.Fatal(err)
	}
	rel, _, err := engine.OpenRelease(receipt, func(string) (string, error) { return req.DeviceKey, nil })
	if err != nil {
		t.Fatalf("the receipt does not open: %v\n%s", err, receipt)
	}
	if rel.Contract != "IC-1042" || !slices.Equal(rel.Licenses, []string{"L-000001"}) || rel.Appliance != req.Appliance {
		t.Fatalf("receipt: %+v", rel)
	}
	if _, err := later.Install(ctx, lic); !errors.As(err, &e) || e.Exit != 1 || !strings.Contains(e.Message, "released") {
		t.Fatalf("installing a released license: %v, want refused as released", err)
	}
}

// TestBackupRestore backs up in a throwaway instance and restores onto
// another platform: a new appliance whose old licenses are inactive.
func TestBackupRestore(t *testing.T) {
	ctx := context.Background()
	v, _ := installed(t, t.TempDir(), day1, firstYear(t))
	before := v.MemorySize()
	start := time.Now()
	backup, err := v.Backup(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("backup took %v", time.Since(start))
	if !strings.Contains(string(backup), "BEGIN AGE ENCRYPTED FILE") {
		t.Fatalf("the backup is not an armored age file:\n%.200s", backup)
	}
	if after := v.MemorySize(); after != before {
		t.Errorf("backup grew the live instance from %d to %d bytes; it must run in a throwaway instance", before, after)
	}

	other := open(t, t.TempDir(), platformB, "2026-03-01T00:00:00Z")
	if _, err := other.Restore(ctx, "correct horse", backup); err != nil {
		t.Fatal(err)
	}
	s, err := other.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.State != engine.ModeTrial || !s.Trial.Started.Equal(date(t, "2026-03-01")) {
		t.Fatalf("restored on another platform: %+v", s)
	}
	if len(s.Licenses) != 1 || s.Licenses[0].Standing != engine.StandingInactive || !strings.Contains(s.Licenses[0].Reason, "another platform") {
		t.Fatalf("the old license after restore: %+v", s.Licenses)
	}
}

// TestLock holds the state directory's lock from another descriptor: a call
// waits for it, as a second tenure process would.
func TestLock(t *testing.T) {
	ctx := context.Background()
	state := t.TempDir()
	v := open(t, state, platformA, "2026-01-05T10:00:00Z")
	other, err := openLock(state)
	if err != nil {
		t.Fatal(err)
	}
	defer other.close()
	if err := other.lock(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- v.Init(ctx, "edge", "0.40.0") }()
	select {
	case err := <-done:
		t.Fatalf("init ran while another process held the state: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	other.unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestModuleIntegrity: a host built with a module's SHA-256 refuses any other
// module, loaded or given.
func TestModuleIntegrity(t *testing.T) {
	reactor := module(t, guest.Reactor)
	t.Setenv(EnvModule, guests.Paths[guest.Reactor])
	defer func(old string) { moduleSHA256 = old }(moduleSHA256)

	moduleSHA256 = strings.Repeat("0", 64)
	_, _, err := LoadModule()
	if err == nil || !strings.Contains(err.Error(), "refusing the validator module") || !strings.Contains(err.Error(), guests.Paths[guest.Reactor]) {
		t.Fatalf("a module that does not match: %v", err)
	}
	if _, err := Open(context.Background(), Options{State: t.TempDir(), Platform: plat(t, platformA), Module: module(t, guest.Command)}); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("Open with a module that does not match: %v", err)
	}

	moduleSHA256 = sha(reactor)
	b, source, err := LoadModule()
	if err != nil || source != guests.Paths[guest.Reactor] || len(b) != len(reactor) {
		t.Fatalf("the matching module: %v (from %s)", err, source)
	}
}

// TestNotAReactor: a module without the reactor's exports is refused before
// it runs.
func TestNotAReactor(t *testing.T) {
	empty := []byte("\x00asm\x01\x00\x00\x00")
	_, err := Open(context.Background(), Options{State: t.TempDir(), Platform: plat(t, platformA), Module: empty})
	if err == nil || !strings.Contains(err.Error(), "validator-reactor.wasm") {
		t.Fatalf("an empty module: %v", err)
	}
}

func issue(t testing.TB, lrf []byte, g guest.Grant) []byte {
	t.Helper()
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	b, err := guests.License(lrf, g)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
