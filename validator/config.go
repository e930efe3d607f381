package validator

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tenurehq/tenure/schema"
	"github.com/tenurehq/tenure/shared/engine"
)

// Build-time settings, fixed in with
//
//	go build -ldflags "-X github.com/tenurehq/tenure/validator.buildTrust=BASE64 ..."
//
// They are base64 (standard encoding) because -X takes one word and a trust
// file has several lines. scripts/build.sh sets them from make's TRUST,
// PRODUCT and FLOOR.
var (
	// buildTrust is a trust file: issuer verifier keys, one a line, each
	// optionally followed by " not-after=DATE". Empty: no key is trusted and
	// every license is inactive.
	buildTrust string
	// buildProduct is a tenure.product/v1 file. Empty: the example product
	// "edge" from package schema.
	buildProduct string
	// buildFloor is an RFC 3339 instant the clock never goes below. Empty: off,
	// so tests and demos can play any date.
	buildFloor string
)

// StateDir is where the state lives inside the module: the directory the
// host preopens. The module never reaches outside it.
const StateDir = "/state"

// Config is what an appliance is built with, and where its state lives.
type Config struct {
	// Dir is the state directory: [StateDir] inside the module, any
	// directory natively.
	Dir string
	// Trust is the issuer keys licenses must be signed with. Nil trusts no
	// key: every license is inactive, "signed by an unknown key".
	Trust *engine.Trust
	// Product is the product policy the appliance enforces.
	Product *engine.Product
	// Floor is the build floor of the clock; zero when off.
	Floor time.Time
	// Now reads the host clock; nil means time.Now. TENURE_NOW overrides it.
	Now func() time.Time
	// Rand is the source of keys and nonces; nil means crypto/rand.
	Rand io.Reader
	// ScryptWorkFactor is log2 of the scrypt work factor of backups; 0 is
	// age's default (18: about a second and 256 MiB), which is what a backup
	// should cost an attacker. Tests lower it.
	ScryptWorkFactor int
}

// BuildConfig returns the configuration fixed in at build time, over
// [StateDir].
func BuildConfig() (*Config, error) {
	return ParseBuild(buildTrust, buildProduct, buildFloor)
}

// ParseBuild reads build settings in the form the -X variables hold them:
// base64 of a trust file, base64 of a product file (empty: the example
// product), and an RFC 3339 floor (empty: off).
func ParseBuild(trust64, product64, floor string) (*Config, error) {
	cfg := &Config{Dir: StateDir}
	if strings.TrimSpace(trust64) != "" {
		text, err := base64.StdEncoding.DecodeString(strings.TrimSpace(trust64))
		if err != nil {
			return nil, fmt.Errorf("build trust is not base64: %w; rebuild with `make build TRUST=FILE`", err)
		}
		if cfg.Trust, err = engine.ParseTrust(string(text)); err != nil {
			return nil, fmt.Errorf("build trust: %w; rebuild with `make build TRUST=FILE`", err)
		}
	}
	productText := schema.EdgeProduct
	if strings.TrimSpace(product64) != "" {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(product64))
		if err != nil {
			return nil, fmt.Errorf("build product is not base64: %w; rebuild with `make build PRODUCT=FILE`", err)
		}
		productText = b
	}
	p, err := engine.ParseProduct(productText)
	if err != nil {
		return nil, fmt.Errorf("build product: %w; rebuild with `make build PRODUCT=FILE`", err)
	}
	cfg.Product = p
	if floor != "" {
		t, err := time.Parse(time.RFC3339, floor)
		if err != nil {
			return nil, fmt.Errorf("build floor %q is not RFC 3339: %w; rebuild with `make build FLOOR=2026-01-01T00:00:00Z`", floor, err)
		}
		cfg.Floor = engine.Normalize(t)
	}
	return cfg, nil
}

// now is the host time: Now when set, else clock, the system clock as
// the caller read it.
func (c *Config) now(clock time.Time) time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return clock
}

func (c *Config) rand() io.Reader {
	if c.Rand != nil {
		return c.Rand
	}
	return rand.Reader
}
