// Command validator is Tenure's validator as a WASI command module. Any WASI
// runtime runs it with the CLI words as arguments, the state directory
// preopened as /state, and TENURE_PLATFORM, TENURE_NOW and TENURE_VERSION in
// its environment:
//
//	wasmtime run --dir /var/lib/tenure::/state \
//	    --env TENURE_PLATFORM='{"machine_id":"4c4c4544..."}' \
//	    validator.wasm status --json
//
// Build it with scripts/build.sh (make build), which fixes in the trusted
// issuer keys, the product and the clock floor.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/tenurehq/tenure/validator"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cfg, err := validator.BuildConfig()
	if err != nil {
		fmt.Fprintln(stderr, "tenure:", err)
		return 2
	}
	req := validator.Request{Args: args, Env: map[string]string{}}
	for _, k := range []string{validator.EnvNow, validator.EnvPlatform, validator.EnvVersion, validator.EnvPassphrase, validator.EnvPlatformSources} {
		if v, ok := os.LookupEnv(k); ok {
			req.Env[k] = v
		}
	}
	// Stdin is read only by the words that use it, so a command run from a
	// terminal does not wait for input it never needs.
	if validator.NeedsStdin(args) {
		b, err := io.ReadAll(stdin)
		if err != nil {
			fmt.Fprintln(stderr, "tenure: cannot read stdin:", err)
			return 2
		}
		req.Stdin = string(b)
	}
	resp := validator.Run(cfg, req)
	io.WriteString(stdout, resp.Stdout)
	io.WriteString(stderr, resp.Stderr)
	return resp.Exit
}
