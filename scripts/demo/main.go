// Command demo plays the life of one appliance against a local issuer, with
// the real tenure and tenure-issuer binaries, and checks every step. It is
// what `make demo` runs (scripts/demo.sh builds the binaries first), and what
// the end-to-end test in wasm/e2e replays.
//
//	go run ./scripts/demo --bin DIR --dir DIR [--transcript FILE]
//
// DIR of --bin holds tenure and tenure-issuer; the validator inside tenure
// must trust the signing key in DIR/issuer of --dir (issuer.key, issuer.pass,
// issuer.pub, as `tenure-issuer keygen --dir` writes them). The demo starts
// the issuer on a free port of 127.0.0.1 with its bbolt store in that
// folder, and the appliances' state folders beside it.
//
// Dates are played with TENURE_NOW on both sides: the issuer reads it once
// at start, so the demo restarts it on the same data folder whenever the
// story moves on in time.
//
// It prints one line per step and exits 1 at the first step whose result
// differs from the expected one. --transcript writes every step's JSON (the
// appliance's `status --json`, the issuer's answers) as JSON lines.
package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

const usage = `Usage: demo --bin DIR --dir DIR [--transcript FILE]

Plays the life of an appliance against a local tenure-issuer and checks
every step: trial, first use, activation, licensed, grace, restricted,
renewal, upgrade, migration, backup and restore.

  --bin DIR          holds tenure and tenure-issuer
  --dir DIR          the work folder; DIR/issuer holds the issuer's key
                     (tenure-issuer keygen --dir DIR/issuer) that tenure trusts
  --transcript FILE  write each step's JSON there, one object a line

Example:
  bash scripts/demo.sh      # builds the binaries and runs this
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	bin := fs.String("bin", "", "")
	dir := fs.String("dir", "", "")
	transcript := fs.String("transcript", "", "")
	if err := fs.Parse(args); err != nil || *bin == "" || *dir == "" || fs.NArg() > 0 {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, usage)
			return 2
		}
		fmt.Fprint(stdout, usage)
		return 0
	}
	d := &demo{bin: *bin, dir: *dir, out: stdout, started: time.Now()}
	// The vendor's admin token, for this run only.
	d.issuer.admin = "tna_demo_" + rand.Text()
	if *transcript != "" {
		f, err := os.Create(*transcript)
		if err != nil {
			fmt.Fprintln(stderr, "demo:", err)
			return 2
		}
		defer f.Close()
		d.transcript = json.NewEncoder(f)
	}

	// Ctrl-C stops the issuer before the demo goes.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		d.issuer.stop()
		os.Exit(130)
	}()

	err := d.play()
	d.issuer.stop()
	if err != nil {
		fmt.Fprintf(stdout, "✗ %v\n", err)
		if log := d.issuer.tail(); log != "" {
			fmt.Fprintf(stderr, "\nthe issuer's last log lines:\n%s", log)
		}
		return 1
	}
	fmt.Fprintf(stdout, "\nall %d steps gave the expected result in %.1fs; the issuer is stopped.\n",
		d.steps, time.Since(d.started).Seconds())
	return 0
}

// A demo is one run of the story.
type demo struct {
	bin, dir   string
	out        io.Writer
	transcript *json.Encoder
	issuer     issuer
	now        string // the time both sides run at
	steps      int
	started    time.Time
}

// at moves the story to a new time.
func (d *demo) at(now string) { d.now = now }

// An appliance is one state folder on one platform.
type appliance struct {
	name     string // for the output: edge-01
	state    string
	platform string // the TENURE_PLATFORM object
	id       string // A-..., once made
}

func (d *demo) appliance(name, platform string) *appliance {
	return &appliance{name: name, state: filepath.Join(d.dir, name), platform: platform}
}

// tenure runs the tenure CLI for an appliance at the current time and
// returns its stdout; a non-zero exit is an error unless the caller expects
// it (allow).
func (d *demo) tenure(a *appliance, stdin []byte, allow int, args ...string) (string, int, error) {
	cmd := exec.Command(filepath.Join(d.bin, "tenure"), args...)
	cmd.Env = append(os.Environ(), "TENURE_STATE="+a.state, "TENURE_PLATFORM="+a.platform, "TENURE_NOW="+d.now)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		code = ee.ExitCode()
	} else if err != nil {
		return "", 0, fmt.Errorf("tenure %s: %w", strings.Join(args, " "), err)
	}
	if code != 0 && code != allow {
		return "", code, fmt.Errorf("tenure %s exited %d: %s%s", strings.Join(args, " "), code, out.String(), errb.String())
	}
	return out.String(), code, nil
}

// status is `tenure status --json`, the fields the story checks.
type status struct {
	State         string           `json:"state"`
	At            string           `json:"at"`
	Reason        string           `json:"reason"`
	Until         string           `json:"until"`
	Features      []string         `json:"features"`
	Limits        map[string]int64 `json:"limits"`
	ConfigChanges bool             `json:"config_changes"`
	Trial         *window          `json:"trial"`
	Grace         *window          `json:"grace"`
	Licenses      []license        `json:"licenses"`
	Warnings      []string         `json:"warnings"`
}

type license struct {
	ID       string `json:"id"`
	Contract string `json:"contract"`
	Standing string `json:"standing"`
	Reason   string `json:"reason"`
	From     string `json:"from"`
	Until    string `json:"until"`
}

type window struct {
	Started string `json:"started"`
	Ends    string `json:"ends"`
}

// want is what a status must say.
type want struct {
	state    string
	until    string // "" when the mode does not end
	features []string
	frozen   bool // configuration changes refused
}

var everyFeature = []string{"*"}

func (w want) check(s *status) error {
	var diffs []string
	if s.State != w.state {
		diffs = append(diffs, fmt.Sprintf("state %q, want %q", s.State, w.state))
	}
	if s.Until != w.until {
		diffs = append(diffs, fmt.Sprintf("until %q, want %q", s.Until, w.until))
	}
	if !slices.Equal(s.Features, w.features) {
		diffs = append(diffs, fmt.Sprintf("features %q, want %q", s.Features, w.features))
	}
	if s.ConfigChanges == w.frozen {
		diffs = append(diffs, fmt.Sprintf("config_changes %v, want %v", s.ConfigChanges, !w.frozen))
	}
	if diffs != nil {
		return errors.New(strings.Join(diffs, "; "))
	}
	return nil
}

// show checks an appliance's status (at the current time, or projected to
// at) and prints the step.
func (d *demo) show(step string, a *appliance, at, what string, w want) (*status, error) {
	args := []string{"status", "--json"}
	if at != "" {
		args = append(args, "--at", at)
	}
	out, _, err := d.tenure(a, nil, 0, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", step, err)
	}
	var s status
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		return nil, fmt.Errorf("%s: status --json printed no JSON: %v\n%s", step, err, out)
	}
	d.record(step, a, "status", json.RawMessage(out))
	when := d.now
	if at != "" {
		when = at
	}
	if err := w.check(&s); err != nil {
		return nil, fmt.Errorf("%s: %s at %s: %v\n%s", step, a.name, when, err, out)
	}
	line := s.State + " · " + features(s.Features)
	if s.State == "restricted" || !s.ConfigChanges {
		line += " · configuration frozen"
	}
	if s.Until != "" {
		line += " · until " + short(s.Until)
	}
	d.line(when, a.name, what, line)
	return &s, nil
}

// line prints one step.
func (d *demo) line(when, who, what, detail string) {
	d.steps++
	fmt.Fprintf(d.out, "✓ %-10s  %-8s %-46s %s\n", short(when)[:min(10, len(short(when)))], who, what, detail)
}

// chapter prints a heading.
func (d *demo) chapter(title string) { fmt.Fprintf(d.out, "\n%s\n", title) }

func (d *demo) record(step string, a *appliance, kind string, doc json.RawMessage) {
	if d.transcript == nil {
		return
	}
	rec := struct {
		Step      string          `json:"step"`
		Appliance string          `json:"appliance,omitempty"`
		Now       string          `json:"now"`
		Kind      string          `json:"kind"`
		Doc       json.RawMessage `json:"doc"`
	}{step, "", d.now, kind, bytes.TrimSpace(doc)}
	if a != nil {
		rec.Appliance = a.name
	}
	d.transcript.Encode(rec)
}

func features(f []string) string {
	if slices.Equal(f, everyFeature) {
		return "every feature"
	}
	if len(f) == 0 {
		return "no feature"
	}
	return strings.Join(f, ", ")
}

// short drops a midnight time of day: 2027-01-08T00:00:00Z is 2027-01-08.
func short(t string) string {
	if d, ok := strings.CutSuffix(t, "T00:00:00Z"); ok {
		return d
	}
	return t
}

// An issuer is the tenure-issuer process, restarted whenever the story
// moves on in time.
type issuer struct {
	mu    sync.Mutex
	cmd   *exec.Cmd
	done  chan struct{}
	url   string
	now   string
	admin string
	log   *os.File
	path  string
}

// ensureIssuer runs the issuer at the current time, restarting it if it runs at another time.
func (d *demo) ensureIssuer() error {
	is := &d.issuer
	if is.cmd != nil && is.now == d.now {
		return nil
	}
	is.stop()
	return is.start(d)
}

func (is *issuer) start(d *demo) error {
	is.mu.Lock()
	defer is.mu.Unlock()
	data := filepath.Join(d.dir, "issuer")
	if is.log == nil {
		is.path = filepath.Join(d.dir, "issuer.log")
		f, err := os.Create(is.path)
		if err != nil {
			return err
		}
		is.log = f
	}
	cmd := exec.Command(filepath.Join(d.bin, "tenure-issuer"), "serve", "--addr", "127.0.0.1:0", "--data", data)
	cmd.Env = append(os.Environ(), "TENURE_NOW="+d.now, "TENURE_ADMIN_TOKEN="+is.admin)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("failed to start tenure-issuer: %w", err)
	}
	is.cmd, is.now, is.done = cmd, d.now, make(chan struct{})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			is.log.Write(append(sc.Bytes(), '\n'))
			var l struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "listening" {
				addr <- l.Addr
			}
		}
		cmd.Wait()
		close(is.done)
	}()
	select {
	case is.url = <-addr:
	case <-is.done:
		return fmt.Errorf("tenure-issuer serve exited before it listened")
	case <-time.After(30 * time.Second):
		return fmt.Errorf("tenure-issuer serve did not listen within 30s")
	}
	return nil
}

// stop ends the issuer, if it runs, and waits for it: the next start opens
// the same bbolt file, which one process at a time may hold.
func (is *issuer) stop() {
	is.mu.Lock()
	defer is.mu.Unlock()
	if is.cmd == nil {
		return
	}
	is.cmd.Process.Signal(os.Interrupt)
	select {
	case <-is.done:
	case <-time.After(10 * time.Second):
		is.cmd.Process.Kill()
		<-is.done
	}
	is.cmd = nil
}

// tail is the end of the issuer's log.
func (is *issuer) tail() string {
	if is.path == "" {
		return ""
	}
	b, _ := os.ReadFile(is.path)
	lines := strings.SplitAfter(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-8):], "") + "\n"
}

// call sends one request to the issuer at the current time and decodes the
// answer into out; any status but wantCode is an error that quotes the
// problem's detail.
func (d *demo) call(step, method, path, token string, body any, wantCode int, out any) (json.RawMessage, error) {
	if err := d.ensureIssuer(); err != nil {
		return nil, fmt.Errorf("%s: %w", step, err)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(method, d.issuer.url+path, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %s %s: %w", step, method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: %s %s: %w", step, method, path, err)
	}
	if resp.StatusCode != wantCode {
		return nil, fmt.Errorf("%s: %s %s answered %d, want %d: %s", step, method, path, resp.StatusCode, wantCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, fmt.Errorf("%s: %s %s: %w", step, method, path, err)
		}
	}
	return raw, nil
}
