// Package guest builds the validator's wasm modules for the host's tests and
// plays the issuer's side for them: a throwaway issuer key the modules trust,
// and licenses signed with it.
//
// Tests build the modules once per test binary, in TestMain, trusting keys
// made on the spot; nothing built or secret is ever written to the source
// tree.
package guest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tenurehq/tenure/shared/engine"
)

// Key names the test issuers sign with.
const (
	KeyName    = "tenure-issuer-test"
	OldKeyName = "tenure-issuer-retired"
)

// OldKeyNotAfter is the not-after date of the retired key: licenses it
// issued after that date are inactive.
const OldKeyNotAfter = "2026-03-01"

// A Kind is one of the modules the tests need.
type Kind int

const (
	Reactor        Kind = iota // validator-reactor.wasm
	Command                    // validator.wasm
	VectorsReactor             // the reactor built with -tags vectors
)

var kinds = map[Kind]struct {
	file string
	args []string
}{
	Reactor:        {"validator-reactor.wasm", []string{"-buildmode=c-shared", "./validator/cmd/validator-reactor"}},
	Command:        {"validator.wasm", []string{"./validator/cmd/validator"}},
	VectorsReactor: {"validator-reactor-vectors.wasm", []string{"-buildmode=c-shared", "-tags", "vectors", "./validator/cmd/validator-reactor"}},
}

// A Set is the modules built for one test binary and the issuer keys they
// trust.
type Set struct {
	Dir    string
	Paths  map[Kind]string
	Trust  string // the trust file built in
	Signer note.Signer
	Old    note.Signer // trusted only for licenses issued before OldKeyNotAfter
}

// Build makes the issuer keys and builds the modules into dir, in parallel.
func Build(dir string, want ...Kind) (*Set, error) {
	s := &Set{Dir: dir, Paths: map[Kind]string{}}
	var vkeys []string
	for _, name := range []string{KeyName, OldKeyName} {
		skey, vkey, err := engine.GenerateKey(rand.Reader, name)
		if err != nil {
			return nil, err
		}
		signer, err := note.NewSigner(skey)
		if err != nil {
			return nil, err
		}
		if name == KeyName {
			s.Signer = signer
		} else {
			s.Old = signer
			vkey += " not-after=" + OldKeyNotAfter
		}
		vkeys = append(vkeys, vkey)
	}
	s.Trust = strings.Join(vkeys, "\n") + "\n"
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	ldflags := "-X github.com/tenurehq/tenure/validator.buildTrust=" + base64.StdEncoding.EncodeToString([]byte(s.Trust)) +
		" -X github.com/tenurehq/tenure/validator.buildProduct="
	var wg sync.WaitGroup
	errs := make([]error, len(want))
	for i, k := range want {
		out := filepath.Join(dir, kinds[k].file)
		s.Paths[k] = out
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := append([]string{"build", "-trimpath", "-ldflags", ldflags, "-o", out}, kinds[k].args...)
			cmd := exec.Command("go", args...)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
			if b, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("failed to build %s: %v\n%s", kinds[k].file, err, b)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("failed to find the module root with `go env GOMOD`: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside the tenure module")
	}
	return filepath.Dir(gomod), nil
}

// Read returns the bytes of a built module.
func (s *Set) Read(k Kind) ([]byte, error) { return os.ReadFile(s.Paths[k]) }

// A Grant is what a test license grants; zero fields take the defaults of
// [Set.License].
type Grant struct {
	ID, Contract, Tier, Kind, Reason string
	Features                         []string
	Limits                           map[string]int64
	From, Until, Issued              time.Time
	MinVersion, MaxVersion           string
	Old                              bool // sign with the retired key
	Tamper                           bool // change the body after signing
}

// License issues a license for the appliance that made lrf, sealed to it.
func (s *Set) License(lrf []byte, g Grant) ([]byte, error) {
	req, _, err := engine.OpenRequest(lrf)
	if err != nil {
		return nil, fmt.Errorf("the LRF does not open: %w", err)
	}
	l := &engine.License{
		ID: g.ID, Contract: g.Contract, Revision: 1, Customer: "ACME Networks",
		Product: req.Product, Tier: g.Tier, Kind: g.Kind, Appliance: req.Appliance,
		Platform: req.Platform, DeviceKeyHash: engine.KeyHash(req.DeviceKey),
		Features: g.Features, Limits: g.Limits, From: g.From, Until: g.Until,
		GraceDays: 90, MinVersion: g.MinVersion, MaxVersion: g.MaxVersion,
		Reason: g.Reason, Issued: g.Issued,
	}
	if l.Contract == "" {
		l.Contract = "IC-1042"
	}
	if l.Tier == "" {
		l.Tier = "pro"
	}
	if l.Kind == "" {
		l.Kind = engine.KindCommercial
	}
	if l.Reason == "" {
		l.Reason = engine.ReasonInitial
	}
	if l.Features == nil {
		l.Features = []string{"scion", "vpn"}
	}
	if l.Limits == nil {
		l.Limits = map[string]int64{"vpn_users": 250}
	}
	if l.Issued.IsZero() {
		l.Issued = l.From
	}
	signer := s.Signer
	if g.Old {
		signer = s.Old
	}
	signed, err := engine.SignLicense(l, signer)
	if err != nil {
		return nil, err
	}
	if g.Tamper {
		// Raise a limit after signing: the bytes no longer match the
		// signature.
		i := bytes.Index(signed, []byte(`"vpn_users":`))
		if i < 0 {
			return nil, fmt.Errorf("nothing to tamper with in the license")
		}
		signed = append(signed[:i:i], bytes.Replace(signed[i:], []byte(`"vpn_users":`), []byte(`"vpn_users":9`), 1)...)
	}
	return engine.Seal(signed, req.Recipient)
}
