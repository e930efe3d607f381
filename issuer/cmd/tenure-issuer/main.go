// Command tenure-issuer runs the Tenure license issuer: a local HTTP server,
// or an AWS Lambda function when AWS_LAMBDA_RUNTIME_API is set.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tenurehq/tenure/issuer"
	"github.com/tenurehq/tenure/issuer/internal/lambdahttp"
	"github.com/tenurehq/tenure/issuer/internal/signer"
	"github.com/tenurehq/tenure/issuer/internal/store"
	"github.com/tenurehq/tenure/issuer/internal/store/bolt"
	"github.com/tenurehq/tenure/schema"
	"github.com/tenurehq/tenure/shared/engine"
)

const usage = `Usage:
    tenure-issuer serve [--addr 127.0.0.1:8080] [--data DIR]
    tenure-issuer keygen --name NAME [--dir DIR]
    tenure-issuer create-table TABLE
    tenure-issuer clock-ack --reason TEXT [--data DIR]
    tenure-issuer version
    tenure-issuer contracts [--json]
    tenure-issuer ledger ID [--json]
    tenure-issuer anomalies [--contract ID] [--json]
    tenure-issuer usage ID [--json]
    tenure-issuer rotate-token ID [--json]
    tenure-issuer contract put ID FILE [--json]

serve runs the issuer locally. On first start it makes, in DIR (default
.tenure/issuer): the database issuer.db, a development signing key named
tenure-dev (issuer.key, age-encrypted; issuer.pass; issuer.pub) and an admin
token in admin.token. Validators built without TRUST trust that key.

keygen makes a signing key: DIR/issuer.key (age-encrypted to a passphrase),
DIR/issuer.pass (a random passphrase, unless TENURE_KEY_PASSPHRASE_FILE names
one) and DIR/issuer.pub (the verifier key for validators' TRUST file). It
never overwrites a key.

create-table makes the DynamoDB table for TENURE_STORE=dynamodb:TABLE and
waits until it is ACTIVE; a table that exists with the right keys is left
as it is. It is for DynamoDB Local (AWS_ENDPOINT_URL_DYNAMODB): on AWS the
SAM template in issuer/deploy makes the table, and the issuer never creates
one itself.

clock-ack accepts the issuer's clock as it is now. While that clock is more
than a day behind the newest license or clock reset the issuer has signed
(it was set back, or ran ahead before), the issuer answers activations and
clock resets 503 clock-behind; once you have checked the clock is right,
clock-ack records that, with your reason, and the issuer signs again from
its next request. It works on TENURE_STORE, or on DIR/issuer.db as serve
does; a local bolt store must not be open in a running serve (stop it
first), a DynamoDB one may be.

contracts, ledger, anomalies, usage, rotate-token and contract put are the
operator's commands: they call a running issuer (--url URL, else
TENURE_ISSUER_URL) with the admin token (--token-file FILE, else
TENURE_ADMIN_TOKEN). contracts lists every contract with its seats used;
ledger ID prints a contract's audit ledger, oldest first; anomalies lists
copied states, sequence regressions, usage gaps and the like, one row per
kind, appliance, contract and day, with a count; usage ID prints a
contract's peaks of usage over every report (the largest value each limit
was checked at, against the effective limit of the appliance that reached
it, over or within) and each appliance's latest usage report (its period,
per limit the largest values allowed and denied, per feature the days it
was checked); rotate-token ID gives a contract
a new token and the old one stops working at once; contract put ID FILE
creates or changes a contract with the JSON in FILE (- for stdin), the
whole contract every time. They print tables, or the API's JSON with
--json, and read every page of a list. A refusal of the issuer is printed
as one line and exits 1.

With AWS_LAMBDA_RUNTIME_API set (on AWS Lambda) it serves the function's
events instead, and needs TENURE_STORE and TENURE_KEY_FILE. There the admin
token may be kept in AWS Secrets Manager or SSM (TENURE_ADMIN_TOKEN_SECRET,
instead of TENURE_ADMIN_TOKEN): it is read on the first request whose token
is no contract's, not at start, and kept; while it cannot be read such
requests are answered 503 admin-token-unavailable and the next one tries
again, and contract tokens keep working.

Environment:
    TENURE_STORE                bolt:PATH or dynamodb:TABLE
    TENURE_KEY_FILE             signing keys, comma-separated: key files or kms:KEY?name=NAME
    TENURE_KEY_PASSPHRASE_FILE  the key files' passphrase (default: the .pass beside each key)
    TENURE_ADMIN_TOKEN          the admin bearer token
    TENURE_ADMIN_TOKEN_SECRET   on Lambda, where the admin token is kept instead: secretsmanager:NAME_OR_ARN
                                (the secret's string) or ssm:NAME_OR_ARN (a SecureString parameter)
    TENURE_PRODUCTS             product files, comma-separated, or directories of *.product
                                (oldest version of a product first); default: the example, edge
    TENURE_ISSUER_URL           the issuer the operator commands call, such as http://127.0.0.1:8080
    TENURE_NOW                  fixes a local server's (and clock-ack's) clock (RFC 3339 or a date); ignored on Lambda
    AWS_ENDPOINT_URL_DYNAMODB   DynamoDB's endpoint, such as DynamoDB Local's; with AWS_REGION
                                and the usual AWS credentials, as the AWS SDK reads them

Examples:
    $ tenure-issuer serve
    $ TOKEN=$(cat .tenure/issuer/admin.token)
    $ curl -X PUT -H "Authorization: Bearer $TOKEN" localhost:8080/v1/contracts/IC-1042 \
        -d '{"customer":"ACME","product":"edge","tier":"pro","kind":"commercial",
             "features":["scion","vpn"],"limits":{"vpn_users":250},"appliances":3,
             "term_months":12,"change":"order","status":"active"}'
    $ tenure-issuer keygen --name tenure-issuer-2026 --dir /secure/keys
    $ eval "$(bash scripts/dynamodb-local.sh start)"
    $ tenure-issuer create-table tenure-issuer
    $ TENURE_STORE=dynamodb:tenure-issuer tenure-issuer serve
    $ export TENURE_ISSUER_URL=http://127.0.0.1:8080 TENURE_ADMIN_TOKEN=$(cat .tenure/issuer/admin.token)
    $ tenure-issuer contract put IC-1042 contract.json
    $ tenure-issuer contracts
    $ tenure-issuer ledger IC-1042
    $ tenure-issuer anomalies --contract IC-1042 --json
    $ tenure-issuer usage IC-1042
    $ tenure-issuer rotate-token IC-1042
    $ tenure-issuer clock-ack --reason "NTP was down for a month; the clock is right again"
`

// version is set with -ldflags "-X main.version=v1.2.3".
var version = ""

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runInput(ctx, args, stdin, stdout, stderr)
}

// runContext is run with the context that ends the server, and no input.
func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runInput(ctx, args, strings.NewReader(""), stdout, stderr)
}

// runInput is run with the context that ends the server.
func runInput(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" {
		return lambda(ctx, stderr)
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], stderr)
	case "keygen":
		err = keygen(args[1:], stdout)
	case "create-table":
		err = createTable(ctx, args[1:], stdout)
	case "clock-ack":
		err = clockAck(ctx, args[1:], stdout, stderr)
	case "contracts":
		err = contractsCommand(ctx, args[1:], stdout)
	case "ledger":
		err = ledgerCommand(ctx, args[1:], stdout)
	case "anomalies":
		err = anomaliesCommand(ctx, args[1:], stdout)
	case "usage":
		err = usageCommand(ctx, args[1:], stdout)
	case "rotate-token":
		err = rotateTokenCommand(ctx, args[1:], stdout)
	case "contract":
		err = contractCommand(ctx, args[1:], stdin, stdout)
	case "version":
		fmt.Fprintln(stdout, "tenure-issuer", buildVersion())
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
	default:
		err = usageError{fmt.Errorf("unknown command %q", args[0])}
	}
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage)
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "tenure-issuer: %s; run `tenure-issuer help`\n", oneLine(err.Error()))
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "tenure-issuer: %v\n", err)
		return 1
	}
	return 0
}

// A usageError is a command line the commands do not take: exit 2.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func keygen(args []string, stdout io.Writer) error {
	fs := flags("keygen")
	name := fs.String("name", "", "")
	dir := fs.String("dir", ".", "")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if *name == "" || fs.NArg() > 0 {
		return usageError{errors.New("keygen needs --name NAME, such as tenure-issuer-2026")}
	}
	vkey, err := signer.Generate(*dir, *name, os.Getenv("TENURE_KEY_PASSPHRASE_FILE"))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (age-encrypted) and %s\nverifier key: %s\n",
		filepath.Join(*dir, signer.KeyFile), filepath.Join(*dir, signer.PublicFile), vkey)
	return nil
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flags("serve")
	addr := fs.String("addr", "127.0.0.1:8080", "")
	dir := fs.String("data", ".tenure/issuer", "")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("serve takes no arguments, got %q", fs.Args())}
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return fmt.Errorf("failed to make the data directory: %w", err)
	}

	spec := os.Getenv("TENURE_STORE")
	if spec == "" {
		spec = "bolt:" + filepath.Join(*dir, "issuer.db")
	}
	st, err := openStore(ctx, spec)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := checkStore(ctx, st); err != nil {
		return err
	}

	signers, err := localSigners(ctx, *dir, log)
	if err != nil {
		return err
	}
	admin, err := adminToken(*dir, log)
	if err != nil {
		return err
	}
	now, err := localClock(log)
	if err != nil {
		return err
	}
	products, err := loadProducts(os.Getenv("TENURE_PRODUCTS"), log)
	if err != nil {
		return err
	}
	h, err := issuer.New(issuer.Config{Store: st, Signers: signers, AdminToken: admin, Now: now, Logger: log, Products: products})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("failed to listen on %s (is another server using it? choose one with --addr): %w", *addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	log.Info("listening", "addr", "http://"+ln.Addr().String(), "store", spec, "version", buildVersion())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shut)
}

// localClock is the clock of a local command: TENURE_NOW when set, else
// the system's.
func localClock(log *slog.Logger) (func() time.Time, error) {
	s := os.Getenv("TENURE_NOW")
	if s == "" {
		return time.Now, nil
	}
	at, err := engine.ParseInstant(s)
	if err != nil {
		return nil, fmt.Errorf("TENURE_NOW: %w", err)
	}
	log.Warn("clock fixed by TENURE_NOW", "now", at.Format(engine.TimeFormat))
	return func() time.Time { return at }, nil
}

// openStore opens a TENURE_STORE spec.
func openStore(ctx context.Context, spec string) (store.Store, error) {
	kind, arg, _ := strings.Cut(spec, ":")
	switch {
	case kind == "bolt" && arg != "":
		return bolt.Open(arg)
	case kind == "dynamodb" && arg != "":
		return openDynamo(ctx, arg)
	}
	return nil, fmt.Errorf("TENURE_STORE=%q: use bolt:PATH or dynamodb:TABLE", spec)
}

// localSigners loads TENURE_KEY_FILE, or the development key in dir, made
// on first start.
func localSigners(ctx context.Context, dir string, log *slog.Logger) ([]note.Signer, error) {
	pass := os.Getenv("TENURE_KEY_PASSPHRASE_FILE")
	if spec := os.Getenv("TENURE_KEY_FILE"); spec != "" {
		return signer.Open(ctx, spec, pass)
	}
	key := filepath.Join(dir, signer.KeyFile)
	if _, err := os.Stat(key); errors.Is(err, os.ErrNotExist) {
		vkey, err := signer.Generate(dir, "tenure-dev", pass)
		if err != nil {
			return nil, err
		}
		log.Info("made a development signing key", "file", key, "verifier_key", vkey)
	}
	s, err := signer.Load(key, pass)
	if err != nil {
		return nil, err
	}
	return []note.Signer{s}, nil
}

// adminToken returns TENURE_ADMIN_TOKEN, or the token in dir/admin.token,
// made once. Only its path is ever logged.
func adminToken(dir string, log *slog.Logger) (string, error) {
	if t := os.Getenv("TENURE_ADMIN_TOKEN"); t != "" {
		return t, nil
	}
	path := filepath.Join(dir, "admin.token")
	b, err := os.ReadFile(path)
	if err == nil && strings.TrimSpace(string(b)) != "" {
		log.Info("admin token from file", "file", path)
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("failed to read the admin token: %w", err)
	}
	token := "tna_" + rand.Text() + rand.Text()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("failed to write the admin token: %w", err)
	}
	_, err = fmt.Fprintln(f, token)
	if err = errors.Join(err, f.Close()); err != nil {
		return "", fmt.Errorf("failed to write the admin token: %w", err)
	}
	log.Info("made an admin token", "file", path)
	return token, nil
}

// lambda serves Lambda events; Start returns only when the runtime ends.
func lambda(ctx context.Context, stderr io.Writer) int {
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	fail := func(msg string, err error) int {
		log.Error(msg, "error", err.Error())
		return 1
	}
	// Every start reads a product (the vendor's or the example) against its
	// schema; compiling that schema is CPU the start can spend while it
	// waits for DynamoDB's configuration and KMS.
	go schema.Prepare(engine.TypeProduct)
	spec := os.Getenv("TENURE_STORE")
	if spec == "" {
		return fail("no store", errors.New("set TENURE_STORE=dynamodb:TABLE"))
	}
	st, err := openStore(ctx, spec)
	if err != nil {
		return fail("no store", err)
	}
	keys := os.Getenv("TENURE_KEY_FILE")
	if keys == "" {
		return fail("no signing key", errors.New("set TENURE_KEY_FILE to kms:KEY?name=NAME or a key file"))
	}
	signers, err := signer.Open(ctx, keys, os.Getenv("TENURE_KEY_PASSPHRASE_FILE"))
	if err != nil {
		return fail("no signing key", err)
	}
	if os.Getenv("TENURE_NOW") != "" {
		log.Warn("TENURE_NOW is ignored on Lambda: the issuer uses the real clock")
	}
	admin, adminSource, err := lambdaAdmin(log)
	if err != nil {
		return fail("bad admin token configuration", err)
	}
	products, err := loadProducts(os.Getenv("TENURE_PRODUCTS"), log)
	if err != nil {
		return fail("bad product file", err)
	}
	h, err := issuer.New(issuer.Config{Store: st, Signers: signers, AdminToken: admin, AdminTokenSource: adminSource, Logger: log, Products: products})
	if err != nil {
		return fail("bad configuration", err)
	}
	lambdahttp.Start(h)
	return 0
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
