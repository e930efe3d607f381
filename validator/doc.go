// Package validator is Tenure's appliance side: the logic that decides, from
// signed files alone and without a network, whether an appliance is in trial,
// licensed, grace or restricted mode. It runs over a state directory — /state
// inside the wasm module, any directory natively — and is built twice from the
// same code (see the commands in cmd/): validator.wasm, a WASI command, and
// validator-reactor.wasm, a reactor that hosts embed.
//
// # Running it
//
// One invocation is a [Request]: the CLI words, the environment and stdin.
// [Run] answers it with a [Response]: exit code, stdout and stderr. A host that
// keeps the validator warm makes one [Appliance] with [New] and calls
// [Appliance.Run] for each request:
//
//	a := validator.New(cfg)
//	r := a.Run(validator.Request{
//		Args: []string{"check", "vpn"},
//		Env:  map[string]string{"TENURE_PLATFORM": `{"machine_id":"4c4c4544..."}`},
//	})
//	// r.Exit: 0 allowed, 1 denied, 2 error
//
// The words, output and exit codes are those of `tenure` (run `tenure help`).
// The host passes the platform as TENURE_PLATFORM, a JSON object of component
// name to raw value; the validator hashes each value with the product, so no
// serial number is stored or sent. TENURE_NOW sets the time (tests, demos)
// and TENURE_VERSION the software version when it was upgraded since init.
//
// # Configuration
//
// [Config] holds the trusted issuer keys, the product policy and the clock
// floor. The wasm builds take them from -ldflags -X variables that
// scripts/build.sh sets from make's TRUST, PRODUCT and FLOOR ([BuildConfig]);
// native callers fill a Config directly. A validator built without a trusted
// key treats every license as inactive, "signed by an unknown key".
//
// # The state directory
//
//	appliance        id, device key, age identity, product, version, home
//	                 platform, and the hash of the history's first event
//	history          the hash-chained history of events (see below)
//	facts            the frequent facts, bound to the history's head
//	licenses/ID      each license as received, sealed to this appliance
//	previous/ID      the appliance a backup from another platform came from
//	generation       changes with every write, so warm instances re-read
//
// The history is an append-only log of events, each naming the hash of the
// one before and carrying a MAC: the appliance's making, a trial starting on
// a platform, first use, a license installed (its verified body and the
// SHA-256 of its file), a release, a restore, a migration, a clock reset, a
// usage report made (which ends the usage period). Released,
// superseded, ever-licensed, the trials and first use are derived from it
// and never from whether a file is there, so deleting or editing any file
// never makes the status better. The facts record holds what changes often
// and is no event (the clock's high-water mark, the sequence, the last
// requests, the usage counters of the open period); its MAC covers the history head it was written with, so an
// older history or an older record put back alone is seen. A history that
// is missing, cut, edited or not the one the appliance record names is
// "state damaged" with nothing proven: restricted, no feature, until a
// backup is restored. A facts record that is missing, edited or older than
// the history is "state tampered": restricted until a clock reset from the
// vendor re-establishes the clock. A license file missing or altered while its
// license is active or pending is "state damaged" (configuration frozen,
// the features the history proves) until the same file is installed again;
// once the license no longer counts it is a warning. Anything in the state
// that is not a regular file or directory (a symlink, a socket) is refused
// by every command, each path component checked, and every read is bounded.
//
// Records are a line of JSON and a line "mac HEX", an HMAC-SHA-256 under a key
// derived from the device key and bound to the file name. Every write goes to
// a temp file in the same directory, is synced, and is renamed over the old
// file; the history is written before the facts record, and a record one
// event behind its history is a power cut between the two, not damage. A
// state written before the history (its appliance record names no first
// event, beside clock, sequence, first-use, trials/ and receipts/ records)
// is migrated into a history once, keeping its licenses, releases, trials and
// clock. WASI has no file locks: the host serialises writers.
//
// LRFs and receipts carry the history's head and the hashes of the entries
// since the head the newest license names (at most 256), so the issuer can
// tell a continuation of what it has seen from a stale document, a restore
// and a fork.
//
// # Time
//
// Every invocation evaluates at the latest of the host time, the high-water
// mark, the newest issue time of a valid license and the build floor; the
// mark follows the host clock in memory on every call and is written when
// the state changes, and at most hourly otherwise. A host clock more than a
// day behind the mark is reported (clock.rolled_back). `status --at T`
// evaluates at exactly T and changes nothing.
//
// A mark poisoned by a clock that once ran far ahead comes back only with a
// clock reset (tenure.clock/v1, armored TENURE CLOCK), which the vendor's
// issuer signs in answer to an LRF and `install` applies: once (its nonce
// is a history event), only while it answers the newest request, and as the
// command's last write. The mark becomes the reset's, backwards if need be;
// a trial start or first use stamped after it is capped at it; a tampered
// clock record is re-established; and a license installed before it whose
// issue time is more than a day after the mark is inactive ("issued in the
// future") and floors the clock no more.
//
// # Platforms, backup and restore
//
// Each platform the state runs on gets its own trial event; licenses count
// only on the platform they were issued for (by default every class of its
// components but one, and at least two, so a replaced NIC keeps them; see
// engine.MatchPlatform). `platform` shows the components the host passes
// and how each license matches them, and writes nothing. `backup` prints the whole state
// encrypted with age to a passphrase (scrypt); `restore` on a matching platform
// resumes the appliance, and on another platform makes a new appliance (id,
// device key, age identity) whose trial starts then, keeping the old licenses
// listed as inactive, "bound to another platform". In the module, where only
// /state is visible, `--passphrase-file -` takes the passphrase from the first
// line of stdin (for restore, the backup follows it); embedding hosts may set
// TENURE_PASSPHRASE instead.
//
// # Warm instances
//
// An [Appliance] opens and verifies each license and receipt once, then keeps
// the result; a call compares the generation file with the one it last read
// and re-reads the directory only when it changed, reusing every license it
// has opened before. A feature check therefore does no signature verification
// and no decryption; [Appliance.CryptoOps] counts those that were done. Nor
// does it evaluate the licenses again until the next instant at which the
// mode can change (a license starting or ending, a grace period or the trial
// ending): the mode found is kept until then, for the state, platform and
// version it was found for.
package validator
