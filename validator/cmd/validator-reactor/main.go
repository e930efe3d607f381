// Command validator-reactor is Tenure's validator as a WASI reactor, for hosts
// that embed it (the Go host in package wasm; any language with a WASI
// runtime). Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o validator-reactor.wasm
//
// It speaks the ABI of package [github.com/tenurehq/tenure/shared/abi]
// (version 1): the host calls _initialize, checks tenure_abi_version, writes
// a JSON request ({"args": [CLI words], "env": {...}, "stdin": "text"}) into
// a buffer from tenure_alloc, and tenure_call returns ptr<<32 | len of the
// JSON response ({"exit": 0|1|2, "stdout": "text", "stderr": "text"}): the
// same words, output and exit codes as the command module.
//
// One instance keeps one appliance in memory: it verifies and opens the
// licenses once and re-reads the state only when its generation changes, so
// a feature check does no signature verification and no decryption.
package main

func main() {}
