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
