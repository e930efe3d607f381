// Package wasm runs Tenure's validator in a Go program: it loads the
// validator reactor (validator-reactor.wasm) into wazero, gives it the
// appliance's state directory, the platform and the clock, and answers the
// same questions as the tenure CLI.
//
//	v, err := wasm.Open(ctx, wasm.Options{State: "/var/lib/tenure"})
//	if err != nil {
//		return err
//	}
//	defer v.Close()
//	if ok, err := v.Check(ctx, "vpn"); err == nil && ok {
//		startVPN()
//	}
//
// # The module
//
// The reactor is embedded in the tenure binary by `make build`, which also
// records its SHA-256 in the binary; a host built that way refuses any other
// module (see [LoadModule]). Without an embedded module the host loads the
// file $TENURE_MODULE names, else validator-reactor.wasm beside the
// executable. [Options.Module] hands over the bytes directly. The host and
// the module speak the ABI of package
// [github.com/tenurehq/tenure/shared/abi], which other hosts speak too.
//
// Compiling the module takes seconds, so it happens once per process, shared
// by every [Validator], and the compiled code is kept on disk under
// [CacheDir] (the user cache directory): a later process loads it in a
// fraction of a second.
//
// # Instances
//
// A [Validator] keeps one live instance of the reactor. The reactor verifies
// and opens the licenses once and answers later checks from memory, so a
// feature check costs microseconds. Calls are serialised: within the process
// by a mutex, and across processes by an flock on the state directory, since
// WASI has no locks of its own. A module that traps is closed and a fresh
// instance starts on the next call.
//
// backup and restore run in a throwaway instance, closed as soon as they
// finish: age's scrypt needs 256 MiB at its default work factor, which the
// live instance would otherwise keep for good.
//
// The module sees the real clock ([Options.Now] or $TENURE_NOW may replace
// it; the module's rollback guard applies either way), real randomness, and
// nothing of the file system but the state directory, mounted as /state.
//
// # The platform
//
// A license is bound to the platform's components, matched class by class:
// a class (the part of a component's name before its first ':' or '_')
// matches when any of its components does, and a license holds when every
// class it carries but one matches, and at least two. [Options.Platform]
// gives the components; when nil, [Facts] reads the machine's own on Linux,
// as independent of each other as the machine allows:
//
//   - machine_id (class machine): /etc/machine-id;
//   - dmi_uuid (dmi, the board): the DMI product UUID, root only;
//   - mac:ADDRESS (mac, the network): every NIC with a device and its own
//     address (addr_assign_type 0), named by that address, so a renamed NIC
//     is the same NIC; read from sysfs, so a private network namespace that
//     keeps the machine's sysfs still sees it;
//   - mac:IFNAME (mac): the names hosts used before Revision 2, so that the
//     licenses they were issued keep matching;
//   - disk:wwid and disk:serial (disk): the disk that holds the state, when
//     it is not the disk /etc/machine-id is on (there it would count the
//     same evidence twice, and a moved disk would keep its license).
//
// With three or more classes a replaced NIC, a NIC in a namespace of its
// own, a replaced disk and a moved VM keep the license and a clone or a
// moved disk does not; with fewer (a VM without readable DMI, a container),
// those look alike, and the operator supplies a stable identity instead.
// Every read is bounded (regular files only, a page each), so odd sysfs
// contents never hang the host. The tenure CLI's precedence is --platform
// FILE, then $TENURE_PLATFORM, then [Facts] (see [Platform]);
// [Options.Sources] says where each component came from, which
// [Validator.Platform] (`tenure platform`) reports.
//
// # Exit codes
//
// [Validator.Call] returns the module's [Response] as it is: exit 0 done or
// allowed, 1 refused or denied, 2 error. The typed methods turn a refusal
// into an [*Error] carrying the module's message, which says what to do
// next; [Validator.Check] and its kin answer false for a denial.
package wasm
