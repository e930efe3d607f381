package wasm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"testing"

	"github.com/tenurehq/tenure/wasm/internal/guest"
)

// guests are the modules built for this test binary, or the reason they
// could not be built.
var (
	guests   *guest.Set
	buildErr error
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "tenure-wasm-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// Each run trusts new keys, so each run's module is new: keep its
	// compiled code out of the user's cache.
	os.Setenv("XDG_CACHE_HOME", dir+"/cache")
	guests, buildErr = guest.Build(dir, guest.Reactor, guest.Command, guest.VectorsReactor)
	return m.Run()
}

// module returns a built module, failing the test when the build failed: the
// modules are what these tests are about, so a failed build never skips.
func module(t testing.TB, k guest.Kind) []byte {
	t.Helper()
	if buildErr != nil {
		t.Fatalf("the validator modules did not build: %v", buildErr)
	}
	b, err := guests.Read(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const (
	platformA = `{"machine_id":"m-aaaa","dmi_uuid":"u-aaaa","mac:eth0":"52:54:00:00:00:0a"}`
	platformB = `{"machine_id":"m-bbbb","dmi_uuid":"u-bbbb","mac:eth0":"52:54:00:00:00:0b"}`
)

func plat(t testing.TB, s string) map[string]string {
	t.Helper()
	m, err := ParsePlatform([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// open opens a Validator on the reactor at the time now, closed when the
// test ends.
func open(t testing.TB, state, platform, now string) *Validator {
	t.Helper()
	v, err := Open(context.Background(), Options{State: state, Platform: plat(t, platform), Now: now, Module: module(t, guest.Reactor)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

func sha(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// day1 is the first day of the tests' appliances.
const day1 = "2026-01-05T10:00:00Z"

// firstYear is a license valid for a year from day1.
func firstYear(t testing.TB) guest.Grant {
	return guest.Grant{ID: "L-000001", From: date(t, "2026-01-05"), Until: date(t, "2027-01-05"), Issued: date(t, day1)}
}

// installed opens a Validator over state at now (see [open]), makes the
// appliance and installs a license of g; it returns the Validator and the
// LRF the license was made for.
func installed(t testing.TB, state, now string, g guest.Grant) (*Validator, []byte) {
	t.Helper()
	ctx := context.Background()
	v := open(t, state, platformA, now)
	if err := v.Init(ctx, "edge", "0.40.0"); err != nil {
		t.Fatal(err)
	}
	lrf, err := v.Request(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Install(ctx, issue(t, lrf, g)); err != nil {
		t.Fatal(err)
	}
	return v, lrf
}
