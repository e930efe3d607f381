package wasm

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/tenurehq/tenure/shared/abi"
)

// TestFacts reads this machine's facts: what it finds must be what the files
// say, under names the validator accepts.
func TestFacts(t *testing.T) {
	if runtime.GOOS != "linux" {
		if _, err := Facts(); err == nil || !strings.Contains(err.Error(), "--platform") {
			t.Fatalf("Facts off Linux: %v", err)
		}
		return
	}
	m, err := Facts()
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile("/etc/machine-id"); err == nil && strings.TrimSpace(string(b)) != "" {
		if m["machine_id"] != strings.TrimSpace(string(b)) {
			t.Errorf("machine_id is %q; /etc/machine-id says %q", m["machine_id"], b)
		}
	}
	if _, err := os.ReadFile("/sys/class/dmi/id/product_uuid"); err != nil {
		if _, ok := m["dmi_uuid"]; ok {
			t.Errorf("dmi_uuid %q without a readable product_uuid", m["dmi_uuid"])
		}
	}
	for name, value := range m {
		if !componentName(name) || value == "" {
			t.Errorf("component %q = %q", name, value)
		}
		if name == "mac:lo" {
			t.Errorf("the loopback interface counted")
		}
	}
	t.Logf("facts: %v", m)
}

// TestPlatformPrecedence: --platform FILE, then $TENURE_PLATFORM, then the
// machine.
func TestPlatformPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "p.json")
	if err := os.WriteFile(file, []byte(`{"machine_id":"from-file"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(abi.EnvPlatform, `{"machine_id":"from-env"}`)
	if m, err := Platform(file); err != nil || m["machine_id"] != "from-file" {
		t.Errorf("with a file: %v, %v", m, err)
	}
	if m, err := Platform(""); err != nil || m["machine_id"] != "from-env" {
		t.Errorf("with $TENURE_PLATFORM: %v, %v", m, err)
	}
	t.Setenv(abi.EnvPlatform, `["not", "an", "object"]`)
	if _, err := Platform(""); err == nil || !strings.Contains(err.Error(), "$TENURE_PLATFORM") {
		t.Errorf("a $TENURE_PLATFORM that is not an object: %v", err)
	}
	if runtime.GOOS == "linux" {
		t.Setenv(abi.EnvPlatform, "")
		want, _ := Facts()
		if m, err := Platform(""); err != nil || len(m) != len(want) {
			t.Errorf("without either: %v, %v; want the facts %v", m, err, want)
		}
	}
}
