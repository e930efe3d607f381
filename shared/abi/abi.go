package abi

// Version is the ABI version the guest's tenure_abi_version returns and the
// host requires.
const Version = 1

// The module's exports. The guest's //go:wasmexport directives spell the same
// names (a directive takes no constant); a host refuses a module that lacks
// one of them.
const (
	FuncInitialize = "_initialize"
	FuncVersion    = "tenure_abi_version"
	FuncAlloc      = "tenure_alloc"
	FuncFree       = "tenure_free"
	FuncCall       = "tenure_call"
)

// Environment variables the validator reads: a request's env, or the command
// module's environment.
const (
	EnvNow        = "TENURE_NOW"        // the time, instead of the host clock
	EnvPlatform   = "TENURE_PLATFORM"   // the platform: a JSON object of component name to raw value
	EnvVersion    = "TENURE_VERSION"    // the software version, when upgraded since init
	EnvPassphrase = "TENURE_PASSPHRASE" // the backup passphrase, for hosts that embed the module
	// EnvPlatformSources is optional: a JSON object of component name to
	// where the host read it (a file, a variable), which `platform` shows.
	EnvPlatformSources = "TENURE_PLATFORM_SOURCES"
	// EnvHold, set to "1" by a host that keeps answers, asks the module to
	// say in a check's response how long its answer holds ([Hold]).
	EnvHold = "TENURE_HOLD"
)

// A Request is one invocation: the CLI words, the environment the validator
// reads, and standard input.
type Request struct {
	Args  []string          `json:"args"`
	Env   map[string]string `json:"env,omitempty"`
	Stdin string            `json:"stdin,omitempty"`

	// Vars, when Read, are Env's variables that every call reads, read
	// already ([RequestDecoder] reads them once for each environment it
	// decodes). Otherwise the validator reads them from Env.
	Vars Vars `json:"-"`
}

// Vars are the variables of a request's env that every call reads. In
// wasm a map lookup costs as much as a tenth of a warm check, and a host
// sends the same environment with every call.
type Vars struct {
	Read                         bool
	Now, Platform, Version, Hold string
}

// VarsOf reads the variables of Vars from env.
func VarsOf(env map[string]string) Vars {
	return Vars{Read: true, Now: env[EnvNow], Platform: env[EnvPlatform], Version: env[EnvVersion], Hold: env[EnvHold]}
}

// A Response is what an invocation printed and its exit code: 0 done or
// allowed, 1 refused or denied, 2 error.
type Response struct {
	Exit   int    `json:"exit"`
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
	// Hold is present only when the request's env set [EnvHold]: the
	// module's word that the same check, asked again while it holds, would
	// get the same response and change nothing in the state.
	Hold *Hold `json:"hold,omitempty"`
}

// A Hold is how long a check's answer holds: while the state's generation
// file (the file "generation" in the state directory) still reads Gen and
// the system clock is in [From, Until), in Unix nanoseconds, the same check
// asked again gets the same response and changes nothing, so a host may
// answer it without entering the module. Until is never more than a second
// after From, so the module still sees the clock, and the state, every
// second a host keeps asking.
type Hold struct {
	Gen   string `json:"gen"`
	From  int64  `json:"from"`
	Until int64  `json:"until"`
}
