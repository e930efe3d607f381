//go:build vectors

package validator

import "github.com/tenurehq/tenure/shared/engine/vectors"

// With the build tag vectors, the hidden word `vector` runs one engine test
// vector from stdin and prints the outcome, so the vector suite can hold the
// wasm build to the same answers as the native engine. Only this build knows
// the word: a production host and NeedsStdin never hear of it.
func init() {
	stdinWords["vector"] = true
	commands["vector"] = command{plain: true, run: func(c *call, args []string) int {
		out, err := vectors.Run([]byte(c.req.Stdin))
		if err != nil {
			return c.fail(2, "vector: %v", err)
		}
		c.out.Write(out)
		return 0
	}}
}
