// Command validator-reactor is Tenure's validator as a WASI reactor, for hosts
// that embed it (the Go host in package wasm; any language with a WASI
// runtime). Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o validator-reactor.wasm
//
// # ABI (version 1)
//
// The host instantiates the module with /state preopened, calls _initialize,
// then:
//
//   - tenure_abi_version() -> i32 returns 1.
//   - tenure_alloc(size i32) -> i32 returns a buffer of size bytes for the
//     host to write a request into; tenure_free(ptr i32) gives it back.
//   - tenure_call(ptr i32, len i32) -> i64 runs the request in the first len
//     bytes of the buffer at ptr and returns ptr<<32 | len of the response,
//     which stays valid until the next call.
//
// A request is {"args": [CLI words], "env": {"TENURE_NOW": "...",
// "TENURE_PLATFORM": "{...}", "TENURE_VERSION": "..."}, "stdin": "text"}; a
// response is {"exit": 0|1|2, "stdout": "text", "stderr": "text"}, the same
// words, output and exit codes as the command module.
//
// One instance keeps one appliance in memory: it verifies and opens the
// licenses once and re-reads the state only when its generation changes, so
// a feature check does no signature verification and no decryption.
package main

func main() {}
