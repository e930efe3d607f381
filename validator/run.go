package validator

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/tenurehq/tenure/shared/abi"
	"github.com/tenurehq/tenure/shared/engine"
)

// A Request is one invocation: the CLI words, the environment the validator
// reads, and standard input. Its JSON form is the reactor's request.
type Request = abi.Request

// A Response is what an invocation printed and its exit code: 0 done or
// allowed, 1 refused or denied, 2 error. Its JSON form is the reactor's
// response.
type Response = abi.Response

// Environment variables the validator reads.
const (
	EnvNow        = abi.EnvNow        // the time, instead of the host clock
	EnvPlatform   = abi.EnvPlatform   // the platform: a JSON object of component name to raw value
	EnvVersion    = abi.EnvVersion    // the software version, when upgraded since init
	EnvPassphrase = abi.EnvPassphrase // the backup passphrase, for hosts that embed the module
)

// Run runs one invocation on a fresh [Appliance]: what the command module
// does once per process.
func Run(cfg *Config, req Request) Response {
	a := New(cfg)
	defer a.Close()
	return a.Run(req)
}

// NeedsStdin reports whether the words read standard input, so a command
// host reads it only then.
func NeedsStdin(args []string) bool {
	if len(args) == 0 {
		return false
	}
	if args[0] == "install" {
		return len(args) > 1 && args[len(args)-1] == "-"
	}
	return stdinWords[args[0]]
}

// stdinWords are the commands that always read standard input. A build that
// adds such a command (the test build's vector) adds its word.
var stdinWords = map[string]bool{"backup": true, "restore": true}

// call is one invocation in progress.
type call struct {
	a        *Appliance
	req      Request
	out      strings.Builder
	errOut   strings.Builder
	host     time.Time
	plat     engine.Components
	platKey  string
	version  string
	changed  bool // the history or a file was written: the snapshot is read again
	wrote    bool // the facts record was written: the snapshot holds what it says
	crossed  bool // the check path's mode moved to a new span
	readOnly bool // status --at: the high-water mark stays where it is
	final    bool // a clock reset was applied: the command writes nothing after it
	counted  bool // a check changed the usage counters: the facts record is written
	holdable bool // a check answered at the host's time: its answer may hold (hold)
	reply    string
	replied  bool // reply, not out, is what the call printed
}

type command struct {
	run   func(c *call, args []string) int
	plain bool // runs without an initialised state and platform (help)
}

var commands = map[string]command{}

func init() {
	commands["init"] = command{run: (*call).init}
	commands["first-use"] = command{run: (*call).firstUse}
	commands["request"] = command{run: (*call).request}
	commands["install"] = command{run: (*call).install}
	commands["status"] = command{run: (*call).status}
	commands["check"] = command{run: (*call).check}
	commands["release"] = command{run: (*call).release}
	commands["report"] = command{run: (*call).report}
	commands["backup"] = command{run: (*call).backup}
	commands["restore"] = command{run: (*call).restore}
	commands["help"] = command{run: (*call).help, plain: true}
	commands["version"] = command{run: (*call).buildVersion, plain: true}
}

// Run runs one invocation. Calls are serialised; the host serialises writers
// across processes (the Go host takes a flock on the state directory).
func (a *Appliance) Run(req Request) Response {
	a.mu.Lock()
	defer a.mu.Unlock()
	// The call lives in the appliance, not on the heap: in wasm an
	// allocation costs about a microsecond, a good part of a warm check.
	if !req.Vars.Read {
		req.Vars = abi.VarsOf(req.Env)
	}
	a.cur = call{a: a, req: req}
	c := &a.cur
	code := c.run()
	stdout := c.out.String()
	if c.replied {
		stdout = c.reply
	}
	return Response{Exit: code, Stdout: stdout, Stderr: c.errOut.String(), Hold: c.hold()}
}

func (c *call) run() int {
	args := c.req.Args
	if len(args) == 0 {
		c.errOut.WriteString(usage)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "-help":
		return c.help(nil)
	}
	cmd, ok := commands[args[0]]
	if !ok {
		return c.fail(2, "unknown command %q; run `tenure help` for the list", args[0])
	}
	if cmd.plain {
		return cmd.run(c, args[1:])
	}
	if err := c.prepare(); err != nil {
		return c.fail(2, "%v", err)
	}
	code := cmd.run(c, args[1:])
	if err := c.finish(); err != nil {
		// A failed write after the command's own work: the exit code says
		// the state may not hold what was printed.
		c.fail(2, "%v", err)
		return 2
	}
	return code
}

// prepare reads the environment and brings the state up to date.
func (c *call) prepare() error {
	// One reading of the clock serves the host time and the generation
	// file's age: in wasm each is a call out to the host.
	clock := time.Now()
	switch s := c.req.Vars.Now; {
	case s == "":
		c.host = engine.Normalize(c.a.cfg.now(clock))
	case s == c.a.nowRaw:
		c.host = c.a.nowVal
	default:
		t, err := engine.ParseInstant(s)
		if err != nil {
			return fmt.Errorf("%s: %w", EnvNow, err)
		}
		c.host = engine.Normalize(t)
		c.a.nowRaw, c.a.nowVal = s, c.host
	}
	raw := c.req.Vars.Platform
	if raw == "" {
		return fmt.Errorf("no platform: the host must pass %s, a JSON object of platform component name to raw value, such as {\"machine_id\":\"4c4c4544...\",\"dmi_uuid\":\"...\",\"mac:eth0\":\"52:54:00:12:34:56\"}", EnvPlatform)
	}
	if raw != c.a.platRaw {
		plat, err := parsePlatform(c.a.cfg.Product.ID, raw)
		if err != nil {
			return err
		}
		c.a.platRaw, c.a.platHash = raw, plat
	}
	c.plat, c.platKey = c.a.platHash, c.a.platRaw
	if err := c.a.refresh(clock); err != nil {
		return err
	}
	c.version = c.req.Vars.Version
	if c.version != "" && !engine.ValidVersion(c.version) {
		return fmt.Errorf("%s=%q is not a version like 0.40.0", EnvVersion, c.version)
	}
	if c.version == "" && c.a.snap.app != nil {
		c.version = c.a.snap.app.Version
	}
	return nil
}

// parsePlatform reads the platform object the host passes and hashes its
// components for product.
func parsePlatform(product, raw string) (engine.Components, error) {
	var m map[string]string
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, fmt.Errorf("%s is not a JSON object of component name to string value: %v", EnvPlatform, err)
	}
	for name := range m {
		if !engine.ValidComponentName(name) {
			return nil, fmt.Errorf("%s: component name %q must be lower-case letters, digits and _.:- (such as mac:eth0), at most 64", EnvPlatform, name)
		}
	}
	c := engine.HashPlatform(product, m)
	if len(c) == 0 {
		return nil, fmt.Errorf("%s names no component with a value; the host must pass at least one, such as machine_id", EnvPlatform)
	}
	if len(c) > 32 {
		return nil, fmt.Errorf("%s names %d components; at most 32", EnvPlatform, len(c))
	}
	return c, nil
}

// finish keeps the high-water mark: in memory always, on disk when the
// state changed or an hour has passed since it was written. A clock record
// that failed its check is left for an install to replace.
func (c *call) finish() error {
	a := c.a
	if !c.readOnly && !c.final {
		// After a clock reset the mark is the reset's until the next call:
		// a warm instance holds what a new one would read.
		c.seen()
	}
	if s := a.snap; s != nil && s.app != nil && s.broken == "" && !c.readOnly && !c.final {
		due := s.migrated || c.counted || a.hw.After(s.facts.HighWater) && (c.changed || a.hw.Sub(s.facts.HighWater) >= time.Hour)
		var err error
		if c.crossed || due {
			err = c.markPassed(s)
		}
		if err == nil && due && !c.wrote {
			err = c.writeFacts(s)
		}
		if err != nil {
			// The state cannot be written (a full or read-only disk): the
			// command did its job, and the mark stays in memory.
			c.warnWrite(err)
		}
	}
	if !c.changed && !c.wrote {
		return nil
	}
	g, err := a.bumpGeneration()
	if err != nil {
		c.warnWrite(err)
	}
	if c.changed || a.snap == nil {
		a.snap = nil // re-read on the next call; opened licenses stay cached
	} else {
		a.snap.gen, a.snap.stamps = g, a.st.stamps()
	}
	return nil
}

// warnWrite says that a write the command did not need failed: it keeps
// answering from memory.
func (c *call) warnWrite(err error) {
	fmt.Fprintf(&c.errOut, "tenure: warning: %v; answering from memory until the state directory can be written\n", err)
}

// seen moves the in-memory high-water mark to the host time.
func (c *call) seen() {
	if c.host.After(c.a.hw) {
		c.a.hw = c.host
	}
}

func (c *call) fail(code int, format string, args ...any) int {
	fmt.Fprintf(&c.errOut, "tenure: "+format+"\n", args...)
	return code
}

func (c *call) printf(format string, args ...any) { fmt.Fprintf(&c.out, format, args...) }

// initialised returns the snapshot, or an error saying to run init.
func (c *call) initialised() (*snapshot, error) {
	s := c.a.snap
	if s.app == nil {
		return nil, fmt.Errorf("this appliance is not initialised; run `tenure init --product %s --version VERSION` (or `tenure restore` a backup)", c.a.cfg.Product.ID)
	}
	if s.app.Product != c.a.cfg.Product.ID {
		return nil, fmt.Errorf("the state belongs to product %s, but this validator is built for %s; use the validator built for %s", s.app.Product, c.a.cfg.Product.ID, s.app.Product)
	}
	return s, nil
}

// writable returns the snapshot for a command that writes to the state: one
// that is initialised and whose history can be trusted.
func (c *call) writable() (*snapshot, error) {
	s, err := c.initialised()
	if err != nil {
		return nil, err
	}
	if s.broken != "" {
		return nil, fmt.Errorf("state damaged: %s; restore a backup with `tenure restore`, or move the state directory away and ask the vendor to reallocate this appliance's seat", s.broken)
	}
	return s, nil
}

// evalTime is the time the clock rule gives, without the licenses' issue
// times: what new records (trials, first use, receipts) are dated with.
func (c *call) evalTime() time.Time {
	return engine.ClockAt(c.host, c.a.hw, c.a.cfg.Floor, time.Time{})
}

// ensureTrial starts this platform's trial when it has none: a state copied
// onto another machine gets that machine's trial, nothing more.
func (c *call) ensureTrial(s *snapshot) error {
	if _, ok := c.a.cachedTrial(s, c.plat, c.platKey); ok || s.broken != "" {
		return nil
	}
	started := c.evalTime()
	err := c.commit(&event{At: started, Kind: eventTrial, Platform: c.plat})
	if err != nil {
		// A trial that cannot be recorded is no trial: were it to start
		// now on every run, a read-only copy of the state would be a trial
		// for ever. The platform is judged from the appliance's creation.
		started = s.app.Created
	}
	s.trials = append(s.trials, trialFact{platform: c.plat, started: started})
	s.trialKey, s.mode = "", nil
	return err
}

// answerTrial is ensureTrial for the commands that answer from memory when
// the state cannot be written (status, check): a failed write is a warning.
func (c *call) answerTrial(s *snapshot) {
	if err := c.ensureTrial(s); err != nil {
		c.warnWrite(err)
	}
}

// input builds the engine's input; at is nil except for status --at.
func (c *call) input(s *snapshot, at *time.Time) *engine.Input {
	in := new(engine.Input)
	c.fillInput(in, s, at)
	return in
}

// fillInput sets in to the engine's input; at is nil except for status --at.
func (c *call) fillInput(in *engine.Input, s *snapshot, at *time.Time) {
	*in = engine.Input{
		Product:   c.a.cfg.Product,
		Host:      c.host,
		At:        at,
		HighWater: c.a.hw,
		Floor:     c.a.cfg.Floor,
		Licenses:  c.a.entries(s, c.plat, c.platKey, c.version),
		Tampered:  s.tampered,
		Broken:    s.broken,
		Warnings:  s.warnings,
	}
	if start, ok := c.a.cachedTrial(s, c.plat, c.platKey); ok {
		in.TrialStart = start
	} else {
		in.TrialStart = c.evalTime() // status --at on a platform not seen yet
	}
}

// readInput reads a document named on the command line: "-" is stdin; any
// other name is a file the host made visible (inside the module, under
// /state).
func (c *call) readInput(name string) ([]byte, error) {
	if name == "-" {
		if len(c.req.Stdin) > engine.MaxDocument {
			return nil, fmt.Errorf("%w: %d bytes on stdin, the limit is %d", engine.ErrTooLarge, len(c.req.Stdin), engine.MaxDocument)
		}
		return []byte(c.req.Stdin), nil
	}
	if c.a.cfg.Dir == StateDir && name != StateDir && !strings.HasPrefix(path.Clean(name), StateDir+"/") {
		return nil, fmt.Errorf("cannot open %s: the module sees only %s; pass the file on stdin: `install -`", name, StateDir)
	}
	// A file inside the state is held to the state's rules (no symlink on
	// the way); any file must be a regular one, never a pipe that blocks.
	if rel, ok := strings.CutPrefix(path.Clean(name), path.Clean(c.a.cfg.Dir)+"/"); ok {
		if err := c.a.st.contained(rel); err != nil {
			return nil, err
		}
	}
	if fi, err := os.Stat(name); err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("cannot read %s: it is %s, not a file; pass the file on stdin: `install -`", name, kindOf(fi.Mode()))
	}
	f, err := os.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("cannot open %s: no such file; pass the file on stdin with `install -`", name)
		}
		return nil, fmt.Errorf("cannot open %s: %w", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, engine.MaxDocument+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", name, err)
	}
	if len(b) > engine.MaxDocument {
		return nil, fmt.Errorf("%w: %s is over %d bytes", engine.ErrTooLarge, name, engine.MaxDocument)
	}
	return b, nil
}

func (c *call) nonce() (string, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(c.a.cfg.rand(), b); err != nil {
		return "", fmt.Errorf("failed to read randomness: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// buildVersion prints the product this validator was built with and the
// SHA-256 of its file, which LRFs carry and the issuer's GET /v1/products
// lists, so both sides can be seen to agree.
func (c *call) buildVersion(args []string) int {
	if len(args) > 0 {
		return c.usageError("version", errors.New("no arguments"))
	}
	p := c.a.cfg.Product
	c.printf("product %s (%s) sha256 %s\n", p.ID, p.Name, p.SHA256)
	return 0
}

func (c *call) help([]string) int {
	c.out.WriteString(usage)
	return 0
}
