package validator

import (
	"testing"

	"github.com/tenurehq/tenure/validator/tampertest"
)

// TestTamperMatrix edits the state of appliances in every mode in every way
// the matrix knows (package tampertest) and holds the status to what it was
// before the edit: never better. The host's tests run the same matrix
// through the wasm module.
func TestTamperMatrix(t *testing.T) {
	is := newIssuer(t, "tenure-issuer-test")
	trust := is.trust(t, "")
	run := func(dir string, args []string, env map[string]string, stdin string) tampertest.Result {
		r := Run(&Config{Dir: dir, Trust: trust, Product: edge(t), ScryptWorkFactor: 10}, Request{Args: args, Env: env, Stdin: stdin})
		return tampertest.Result{Exit: r.Exit, Stdout: r.Stdout, Stderr: r.Stderr}
	}
	scenarios := tampertest.Scenarios(t, run, is.signer, t.TempDir())
	n := tampertest.Run(t, run, scenarios)
	t.Logf("%d edits tried over %d scenarios", n, len(scenarios)-1)
}
