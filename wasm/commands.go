package wasm

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tenurehq/tenure/shared/abi"
	"github.com/tenurehq/tenure/shared/engine"
)

// The Go API: one method a command of the tenure CLI.

// A Response is what the module printed and its exit code: 0 done or
// allowed, 1 refused or denied, 2 error.
type Response = abi.Response

// An Error is a command the module refused (exit 1) or could not run
// (exit 2); Message is what it said.
type Error struct {
	Command string
	Exit    int
	Message string
}

func (e *Error) Error() string { return e.Message }

// Call runs one command, as the tenure CLI words (without the global
// flags), with stdin as its standard input. A refusal or a denial is a
// Response with exit 1, not an error; the error is for a host failure (a
// module that trapped, a state directory that cannot be locked).
//
// backup and restore run in a throwaway instance, closed afterwards: age's
// scrypt needs 256 MiB at its default work factor, and the live instance
// would keep that memory for good.
func (v *Validator) Call(ctx context.Context, args []string, stdin string) (Response, error) {
	return v.call(ctx, args, stdin, nil)
}

func (v *Validator) call(ctx context.Context, args []string, stdin string, extra map[string]string) (Response, error) {
	if len(args) > 0 && args[0] == "platform" && v.sources != nil {
		// Only `platform` shows where the components came from: the other
		// commands' requests stay as short as ever.
		extra = v.sources
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	out, err := v.exchange(ctx, args, stdin, extra)
	if err != nil {
		return Response{}, err
	}
	return decodeResponse(out)
}

// decodeResponse reads the module's answer.
func decodeResponse(out []byte) (Response, error) {
	r, err := abi.DecodeResponse(out)
	if err != nil {
		return Response{}, fmt.Errorf("the validator module answered something other than a response: %w", err)
	}
	return r, nil
}

// run calls the module and turns an exit other than 0 into an [*Error].
func (v *Validator) run(ctx context.Context, stdin string, extra map[string]string, args ...string) (string, error) {
	r, err := v.call(ctx, args, stdin, extra)
	if err != nil {
		return "", err
	}
	if r.Exit != 0 {
		return r.Stdout, moduleError(args[0], r)
	}
	return r.Stdout, nil
}

func moduleError(cmd string, r Response) *Error {
	msg := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(r.Stderr), "tenure: "))
	if msg == "" {
		msg = fmt.Sprintf("tenure %s exited %d", cmd, r.Exit)
	}
	return &Error{Command: cmd, Exit: r.Exit, Message: msg}
}

// Init makes the appliance (id, device key, age identity) and starts its
// trial.
func (v *Validator) Init(ctx context.Context, product, version string) error {
	_, err := v.run(ctx, "", nil, "init", "--product", product, "--version", version)
	return err
}

// FirstUse records that the licensed function was first switched on.
func (v *Validator) FirstUse(ctx context.Context) error {
	_, err := v.run(ctx, "", nil, "first-use")
	return err
}

// Request returns a new license request (LRF), armored.
func (v *Validator) Request(ctx context.Context) ([]byte, error) {
	out, err := v.run(ctx, "", nil, "request")
	return []byte(out), err
}

// Install opens, verifies and stores a license; it returns what the module
// said. A refused license is an [*Error] with Exit 1 saying why.
func (v *Validator) Install(ctx context.Context, license []byte) (string, error) {
	return v.run(ctx, string(license), nil, "install", "-")
}

// Status evaluates the appliance now.
func (v *Validator) Status(ctx context.Context) (*engine.Status, error) {
	return v.status(ctx, "status", "--json")
}

// StatusAt evaluates the appliance at exactly t, read-only and with no clock
// floors: a projection ("what happens on 1 February?").
func (v *Validator) StatusAt(ctx context.Context, t time.Time) (*engine.Status, error) {
	return v.status(ctx, "status", "--json", "--at", t.UTC().Format(engine.TimeFormat))
}

func (v *Validator) status(ctx context.Context, args ...string) (*engine.Status, error) {
	out, err := v.run(ctx, "", nil, args...)
	if err != nil {
		return nil, err
	}
	var s engine.Status
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		return nil, fmt.Errorf("the validator module printed a status that does not parse: %w", err)
	}
	return &s, nil
}

// Platform reports the platform components the host supplies (name, where
// each came from, hash) and how each installed license matches them, as
// `tenure platform --json` prints it.
func (v *Validator) Platform(ctx context.Context) (*engine.PlatformReport, error) {
	out, err := v.run(ctx, "", nil, "platform", "--json")
	if err != nil {
		return nil, err
	}
	var r engine.PlatformReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return nil, fmt.Errorf("the validator module printed a platform report that does not parse: %w", err)
	}
	return &r, nil
}

// Check reports whether feature may be used now.
func (v *Validator) Check(ctx context.Context, feature string) (bool, error) {
	return v.check(ctx, "check", feature)
}

// CheckLimit reports whether n is within the limit name now.
func (v *Validator) CheckLimit(ctx context.Context, name string, n int64) (bool, error) {
	return v.check(ctx, "check", "--limit", name, strconv.FormatInt(n, 10))
}

// CheckConfigChange reports whether the configuration may change now: not
// in restricted mode.
func (v *Validator) CheckConfigChange(ctx context.Context) (bool, error) {
	return v.check(ctx, "check", "--config-change")
}

// check answers from the exit code alone when it can: an allowed or denied
// check needs nothing else of the response.
func (v *Validator) check(ctx context.Context, args ...string) (bool, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if exit, ok := v.held(args); ok {
		return exit == 0, nil
	}
	out, err := v.exchange(ctx, args, "", nil)
	if err != nil {
		return false, err
	}
	switch exit := abi.ResponseExit(out); exit {
	case 0, 1:
		v.keepHeld(args, exit, out)
		return exit == 0, nil
	}
	r, err := decodeResponse(out)
	if err != nil {
		return false, err
	}
	switch r.Exit {
	case 0:
		return true, nil
	case 1:
		return false, nil
	}
	return false, moduleError("check", r)
}

// Release drops the license id and every other license of its contract on
// this appliance and returns the signed release receipt for the vendor.
func (v *Validator) Release(ctx context.Context, id string) ([]byte, error) {
	out, err := v.run(ctx, "", nil, "release", id)
	return []byte(out), err
}

// Report ends the usage period and returns the signed usage report for the
// vendor: per contract the peaks each limit was checked at and the days each
// feature was.
func (v *Validator) Report(ctx context.Context) ([]byte, error) {
	out, err := v.run(ctx, "", nil, "report")
	return []byte(out), err
}

// Backup exports the state, age-encrypted to passphrase, armored.
func (v *Validator) Backup(ctx context.Context, passphrase string) ([]byte, error) {
	out, err := v.run(ctx, "", map[string]string{abi.EnvPassphrase: passphrase}, "backup")
	return []byte(out), err
}

// Restore imports a backup made by [Validator.Backup]. Onto another platform
// it makes a new appliance whose trial starts now; the old licenses stay on
// record as inactive.
func (v *Validator) Restore(ctx context.Context, passphrase string, backup []byte) (string, error) {
	return v.run(ctx, string(backup), map[string]string{abi.EnvPassphrase: passphrase}, "restore")
}
