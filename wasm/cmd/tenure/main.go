// Command tenure is Tenure's validator on an appliance: it runs the validator
// module in wazero over the appliance's state directory.
//
//	tenure init --product edge --version 0.40.0
//	tenure request > /media/usb/edge.lrf
//	tenure install /media/usb/L-4k2m9q7x.license
//	tenure check vpn && start-vpn
//
// Run `tenure help` for every command.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/tenurehq/tenure/shared/abi"
	"github.com/tenurehq/tenure/shared/engine"
	"github.com/tenurehq/tenure/wasm"
)

// usage is the module's words (package abi) with the host's own around
// them: its intro, the version command, the options and the variables it
// reads itself.
const usage = abi.UsageLine + `
Tenure decides offline, from signed license files, whether this appliance is
in trial, licensed, grace or restricted mode, and which features and limits
apply.

` + abi.Commands + `                                     (and this tenure's version and the
                                     SHA-256 of the validator module it runs)

` + abi.ExitCodes + `
Options:
  --state DIR       the state directory (default $TENURE_STATE, else
                    /var/lib/tenure)
  --platform FILE   a JSON object of platform component name to raw value,
                    such as {"machine_id":"4c4c4544...","mac:eth0":"52:54:00:12:34:56"};
                    default $TENURE_PLATFORM (the object itself), else this
                    machine's /etc/machine-id, DMI UUID, NIC addresses and
                    the state's disk (tenure platform shows them)

Environment:
  TENURE_STATE      the state directory, when --state is not given
  TENURE_PLATFORM   the platform, when --platform is not given
  TENURE_NOW        the time (RFC 3339 or a date) instead of the system clock;
                    setting it back gains nothing, the clock never goes back
  TENURE_VERSION    the software version, when upgraded since init
  TENURE_MODULE     the validator-reactor.wasm to run, when none is embedded

` + abi.Examples + `  tenure --state /mnt/new --platform new.json restore --passphrase-file /etc/tenure/backup.pass < edge.backup
`

// version is set by the build (-ldflags "-X main.version=v0.40.0"); without
// it the module version from the build info is printed.
var version string

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if os.Getenv(wasm.EnvResident) == "serve" && len(args) == 0 {
		return serveResident(stderr)
	}
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		args = []string{"version"}
	}
	fs := flag.NewFlagSet("tenure", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	state := fs.String("state", "", "")
	platformFile := fs.String("platform", "", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			io.WriteString(stdout, usage)
			return 0
		}
		fmt.Fprintf(stderr, "tenure: %v\nrun `tenure help` for the usage\n", err)
		return 2
	}
	words := fs.Args()
	if len(words) == 0 {
		io.WriteString(stderr, usage)
		return 2
	}
	switch words[0] {
	case "help", "-h", "--help":
		io.WriteString(stdout, usage)
		return 0
	case "version", "--version":
		fmt.Fprintln(stdout, "tenure", buildVersion())
		// The module decides whether a license counts: say which one this
		// build accepts, so an operator can compare it with the file shipped.
		if sum := wasm.ModuleSHA256(); sum != "" {
			fmt.Fprintln(stdout, "validator module sha256", sum)
		} else {
			fmt.Fprintln(stdout, "validator module: any (development build)")
		}
		// The product is built into the module: ask it, in a state of
		// its own, so that no state is needed to say what this build is.
		out, err := moduleVersion()
		if err != nil {
			fmt.Fprintln(stderr, "tenure:", err)
			return 2
		}
		io.WriteString(stdout, out)
		return 0
	}

	// The host reads files the module cannot see (it sees only /state) and
	// passes their contents on stdin.
	words, input, err := hostInput(words, stdin)
	if err != nil {
		fmt.Fprintln(stderr, "tenure:", err)
		return 2
	}

	if *state == "" {
		*state = os.Getenv("TENURE_STATE")
	}
	if *state == "" {
		*state = "/var/lib/tenure"
	}
	platform, sources, err := wasm.Platform(*platformFile, *state)
	if err != nil {
		fmt.Fprintln(stderr, "tenure:", err)
		return 2
	}
	if code, done := viaResident(*state, platform, sources, words, input, stdout, stderr); done {
		return code
	}
	ctx := context.Background()
	v, err := wasm.Open(ctx, wasm.Options{
		State: *state, Platform: platform, Sources: sources,
		Now: os.Getenv(abi.EnvNow), Version: os.Getenv(abi.EnvVersion),
	})
	if err != nil {
		fmt.Fprintln(stderr, "tenure:", err)
		return 2
	}
	defer v.Close()
	r, err := v.Call(ctx, words, input)
	if err != nil {
		fmt.Fprintln(stderr, "tenure:", err)
		return 2
	}
	return reply(r, words, stdout, stderr)
}

// reply prints the module's response. Output that cannot be written (a
// full disk behind a redirection, a closed pipe) is exit 2, never success:
// a request, receipt or report that was made but not written must be made
// again.
func reply(r wasm.Response, words []string, stdout, stderr io.Writer) int {
	_, err := io.WriteString(stdout, r.Stdout)
	io.WriteString(stderr, r.Stderr)
	if err != nil && r.Stdout != "" {
		fmt.Fprintf(stderr, "tenure: %s ran, but its output could not be written: %v\n", words[0], err)
		return 2
	}
	return r.Exit
}

// maxInput bounds what the host reads for the module: a backup is the
// largest input, and the validator refuses backups over 16 MiB.
const maxInput = 16<<20 + 4096

// hostInput rewrites the words that name host files into their stdin form:
// install FILE becomes install - with the file on stdin, and
// --passphrase-file F becomes --passphrase-file - with F's first line
// leading stdin (for restore, the backup follows it).
func hostInput(words []string, stdin io.Reader) ([]string, string, error) {
	words = append([]string(nil), words...)
	readStdin := func() (string, error) {
		b, err := io.ReadAll(io.LimitReader(stdin, maxInput+1))
		if err != nil {
			return "", fmt.Errorf("failed to read stdin: %w", err)
		}
		if len(b) > maxInput {
			return "", fmt.Errorf("stdin is over %d bytes; no license or backup is that large", maxInput)
		}
		return string(b), nil
	}
	switch words[0] {
	case "install":
		if len(words) != 2 {
			return words, "", nil // the module explains the usage
		}
		if words[1] == "-" {
			s, err := readStdin()
			return words, s, err
		}
		b, err := readFile(words[1], engine.MaxDocument)
		if err != nil {
			return nil, "", err
		}
		words[1] = "-"
		return words, string(b), nil
	case "backup", "restore":
		pass, fromStdin := "", false
		for i := 1; i < len(words); i++ {
			name, inline := "", false
			switch {
			case words[i] == "--passphrase-file" || words[i] == "-passphrase-file":
				if i+1 < len(words) {
					name = words[i+1]
					words[i+1] = "-"
				}
			case strings.HasPrefix(words[i], "--passphrase-file="), strings.HasPrefix(words[i], "-passphrase-file="):
				_, name, _ = strings.Cut(words[i], "=")
				inline = true
			default:
				continue
			}
			if name == "-" || name == "" {
				fromStdin = true
				continue
			}
			b, err := readFile(name, 4096)
			if err != nil {
				return nil, "", fmt.Errorf("passphrase file: %w", err)
			}
			pass, _, _ = strings.Cut(string(b), "\n")
			if strings.TrimSuffix(pass, "\r") == "" {
				return nil, "", fmt.Errorf("the first line of %s is empty; put the backup passphrase there", name)
			}
			if inline {
				words[i] = "--passphrase-file=-"
			}
		}
		rest := ""
		if words[0] == "restore" || fromStdin {
			s, err := readStdin()
			if err != nil {
				return nil, "", err
			}
			rest = s
		}
		if fromStdin || pass == "" {
			return words, rest, nil
		}
		return words, pass + "\n" + rest, nil
	}
	return words, "", nil
}

func readFile(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("failed to open %s: %w", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("failed to read %s: %w", name, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is over %d bytes; is it the right file?", name, limit)
	}
	return b, nil
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "(devel)"
}

// moduleVersion runs the module's version word on a throwaway state.
func moduleVersion() (string, error) {
	dir, err := os.MkdirTemp("", "tenure-version-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	v, err := wasm.Open(ctx, wasm.Options{State: dir, Platform: map[string]string{"machine_id": "version"}})
	if err != nil {
		return "", err
	}
	defer v.Close()
	r, err := v.Call(ctx, []string{"version"}, "")
	if err != nil {
		return "", err
	}
	if r.Exit != 0 {
		return "", fmt.Errorf("the validator module does not say its product: %s", strings.TrimSpace(r.Stderr))
	}
	return r.Stdout, nil
}

// viaResident runs the command in the resident host (wasm.CallResident),
// starting one when none listens; done is false when the command is to run
// in this process: the resident host is off, cannot be reached, or refused
// it before running it, or failed during a command that writes nothing.
func viaResident(state string, platform, sources map[string]string, words []string, input string, stdout, stderr io.Writer) (code int, done bool) {
	mode := os.Getenv(wasm.EnvResident)
	if mode == "off" || !wasm.InResident(words) {
		return 0, false
	}
	env, err := residentEnv(platform, sources, words)
	if err == nil {
		err = os.MkdirAll(state, 0o700)
	}
	var r wasm.Response
	if err == nil {
		r, err = wasm.CallResident(state, env, words, input)
	}
	switch {
	case err == nil:
		return reply(r, words, stdout, stderr), true
	case mode == "require":
		fmt.Fprintf(stderr, "tenure: %v (%s=require)\n", err, wasm.EnvResident)
		return 2, true
	case errors.Is(err, wasm.ErrResidentDown):
		wasm.StartResident(wasm.ResidentSocket()) // for the next call; this one runs here
		return 0, false
	case errors.Is(err, wasm.ErrNoResident), readOnly[words[0]]:
		return 0, false
	}
	fmt.Fprintf(stderr, "tenure: %v; the command may have run: see `tenure status` before running it again\n", err)
	return 2, true
}

// readOnly are the commands safe to run again in this process when the
// resident host failed during one: they change nothing a second run would
// repeat.
var readOnly = map[string]bool{"check": true, "status": true, "platform": true, "help": true}

// residentEnv is the environment a command sends the resident host: what
// the module would read in this process.
func residentEnv(platform, sources map[string]string, words []string) (map[string]string, error) {
	pj, err := json.Marshal(platform)
	if err != nil {
		return nil, err
	}
	env := map[string]string{abi.EnvPlatform: string(pj)}
	for _, name := range []string{abi.EnvNow, abi.EnvVersion} {
		if v := os.Getenv(name); v != "" {
			env[name] = v
		}
	}
	if words[0] == "platform" && len(sources) > 0 {
		sj, err := json.Marshal(sources)
		if err != nil {
			return nil, err
		}
		env[abi.EnvPlatformSources] = string(sj)
	}
	return env, nil
}

// serveResident is the resident host (wasm.Resident): started by a tenure
// call with TENURE_RESIDENT=serve and no words, it serves until idle. It
// exits 0 when another one already runs.
func serveResident(stderr io.Writer) int {
	idle := wasm.ResidentIdle
	if s := os.Getenv(wasm.EnvResidentIdle); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			fmt.Fprintf(stderr, "tenure: %s=%q is not a duration such as 10m\n", wasm.EnvResidentIdle, s)
			return 2
		}
		idle = d
	}
	var r *wasm.Resident
	ln, closeLn, err := wasm.ListenResident(wasm.ResidentSocket(), func() (err error) {
		r, err = wasm.NewResident(nil, idle)
		return err
	})
	if err != nil {
		fmt.Fprintln(stderr, "tenure: resident host:", err)
		return 0
	}
	defer closeLn()
	// A long-lived host that allocates little per request: collect early,
	// so it stays small.
	debug.SetGCPercent(25)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := r.Serve(ctx, ln); err != nil {
		fmt.Fprintln(stderr, "tenure: resident host:", err)
		return 1
	}
	return 0
}
