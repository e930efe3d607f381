// Package abi is the validator reactor's ABI: what the guest
// (validator-reactor.wasm, built from validator/cmd/validator-reactor) and a
// host (the Go host in package wasm) must agree on, in one place, as wazero's
// api package is for its runtime. It builds for GOOS=wasip1 and imports
// nothing but the standard library.
//
// # The module's exports (version 1)
//
// The host instantiates the module with the state directory preopened as
// /state, the real clock and real randomness, calls _initialize, then:
//
//   - tenure_abi_version() -> i32 returns [Version].
//   - tenure_alloc(size i32) -> i32 returns a buffer of size bytes for the
//     host to write a request into; tenure_free(ptr i32) gives it back.
//   - tenure_call(ptr i32, len i32) -> i64 runs the request in the first len
//     bytes of the buffer at ptr and returns ptr<<32 | len of the response,
//     which stays valid until the next call.
//
// A host serialises calls on one state directory: WASI has no file locks.
//
// # Requests and responses
//
// A [Request] is JSON:
//
//	{"args": ["check", "vpn"], "env": {"TENURE_NOW": "2026-01-05T10:00:00Z",
//	 "TENURE_PLATFORM": "{\"machine_id\":\"4c4c4544...\"}", "TENURE_VERSION": "0.41.0"},
//	 "stdin": ""}
//
// args are the words of the tenure CLI (see [Usage]), env the variables of
// [EnvNow], [EnvPlatform], [EnvVersion] and [EnvPassphrase] (and, for
// `platform` only, the optional [EnvPlatformSources]), stdin the command's
// standard input. A [Response] is
//
//	{"exit": 0, "stdout": "allowed: feature vpn (licensed)\n", "stderr": ""}
//
// with exit 0 done or allowed, 1 refused or denied, 2 error: the same words,
// exit codes and output as the command module validator.wasm, so one test
// suite serves both.
//
// # The codec
//
// Both sides write and read these few bytes by hand ([AppendRequest] and
// [DecodeResponse] on the host, [RequestDecoder] and [AppendResponse] in the
// guest): a warm feature check is a few microseconds, and encoding/json's
// reflection and byte-by-byte scanner cost more than the check itself inside
// wasm. What they write is byte for byte what encoding/json writes, and what
// the readers do not recognise goes to encoding/json, so the accepted
// documents and the error messages stay exactly encoding/json's and a host in
// another language may use any JSON library.
package abi
