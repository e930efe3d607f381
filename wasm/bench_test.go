package wasm

import (
	"context"
	"testing"
	"time"

	"github.com/tenurehq/tenure/wasm/internal/guest"
)

// BenchmarkCheck is a feature check on a warm instance of a licensed
// appliance: the number the budget "<= 20 µs p50" is about.
func BenchmarkCheck(b *testing.B) {
	ctx := context.Background()
	v := open(b, b.TempDir(), platformA, "2026-01-05T10:00:00Z")
	if err := v.Init(ctx, "edge", "0.40.0"); err != nil {
		b.Fatal(err)
	}
	lrf, err := v.Request(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := v.Install(ctx, issue(b, lrf, guest.Grant{ID: "L-000001", From: date(b, "2026-01-05"), Until: date(b, "2027-01-05"), Issued: date(b, "2026-01-05T10:00:00Z")})); err != nil {
		b.Fatal(err)
	}
	if ok, err := v.Check(ctx, "vpn"); !ok || err != nil {
		b.Fatalf("check vpn: %v, %v", ok, err)
	}
	b.ResetTimer()
	for b.Loop() {
		if ok, err := v.Check(ctx, "vpn"); !ok || err != nil {
			b.Fatalf("check vpn: %v, %v", ok, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(v.MemorySize())/(1<<20), "MiB-memory")
}

// BenchmarkInstall is verify + open + store of one license in wasm.
func BenchmarkInstall(b *testing.B) {
	ctx := context.Background()
	v := open(b, b.TempDir(), platformA, "2026-01-05T10:00:00Z")
	if err := v.Init(ctx, "edge", "0.40.0"); err != nil {
		b.Fatal(err)
	}
	lrf, err := v.Request(ctx)
	if err != nil {
		b.Fatal(err)
	}
	lic := issue(b, lrf, guest.Grant{ID: "L-000001", From: date(b, "2026-01-05"), Until: date(b, "2027-01-05"), Issued: date(b, "2026-01-05T10:00:00Z")})
	for b.Loop() {
		// Installing the same file again still opens and verifies it.
		if _, err := v.Install(ctx, lic); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoad is Open on a module compiled by an earlier process: the
// on-disk compilation cache, not the in-process one.
func BenchmarkLoad(b *testing.B) {
	reactor := module(b, guest.Reactor)
	// Compile once so the disk cache holds the module.
	open(b, b.TempDir(), platformA, "")
	for b.Loop() {
		b.StopTimer()
		forget()
		b.StartTimer()
		start := time.Now()
		v, err := Open(context.Background(), Options{State: b.TempDir(), Platform: plat(b, platformA), Module: reactor})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms/load")
		v.Close()
	}
}

// forget drops the process's runtime, as a new process starts without one.
func forget() {
	compiler.mu.Lock()
	defer compiler.mu.Unlock()
	if compiler.rt != nil {
		compiler.rt.Close(context.Background())
	}
	compiler.rt, compiler.compiled = nil, nil
}
