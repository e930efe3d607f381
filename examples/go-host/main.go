// Command go-host embeds the Tenure validator in a Go program, the way an
// appliance's own software would: it runs the validator reactor in wazero
// (package wasm) over the appliance's state directory and asks it whether a
// feature may be used.
//
//	go build ./examples/go-host
//	TENURE_MODULE=bin/validator-reactor.wasm ./go-host /var/lib/tenure vpn
//
// The module decides whether a license counts, so the program runs only a
// pinned one: its SHA-256 from $TENURE_MODULE_SHA256, or from the
// validator-reactor.wasm.sha256 file `make build` writes beside it. The
// platform is $TENURE_PLATFORM (a JSON object of component name to value),
// else this machine's own. Exit 0: allowed; 1: denied; 2: error.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/tenurehq/tenure/wasm"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go-host STATE_DIR FEATURE (with $TENURE_MODULE naming validator-reactor.wasm)")
		return 2
	}
	path := os.Getenv(wasm.EnvModule)
	if path == "" {
		fmt.Fprintf(os.Stderr, "go-host: set $%s to the validator-reactor.wasm to run\n", wasm.EnvModule)
		return 2
	}
	module, err := wasm.PinnedModule(path, os.Getenv(wasm.EnvModuleSHA256))
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-host:", err)
		return 2
	}
	var platform map[string]string // nil: this machine's own facts
	if raw := os.Getenv("TENURE_PLATFORM"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &platform); err != nil {
			fmt.Fprintln(os.Stderr, "go-host: TENURE_PLATFORM is not a JSON object of strings:", err)
			return 2
		}
	}
	ctx := context.Background()
	v, err := wasm.Open(ctx, wasm.Options{State: args[0], Platform: platform, Module: module, Now: os.Getenv("TENURE_NOW")})
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-host:", err)
		return 2
	}
	defer v.Close()
	st, err := v.Status(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-host:", err)
		return 2
	}
	ok, err := v.Check(ctx, args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-host:", err)
		return 2
	}
	verdict := "denied"
	if ok {
		verdict = "allowed"
	}
	fmt.Printf("%s: %s (%s: %s)\n", args[1], verdict, st.State, st.Reason)
	if !ok {
		return 1
	}
	return 0
}
