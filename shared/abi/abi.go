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
)

// A Request is one invocation: the CLI words, the environment the validator
// reads, and standard input.
type Request struct {
	Args  []string          `json:"args"`
	Env   map[string]string `json:"env,omitempty"`
	Stdin string            `json:"stdin,omitempty"`
}

// A Response is what an invocation printed and its exit code: 0 done or
// allowed, 1 refused or denied, 2 error.
type Response struct {
	Exit   int    `json:"exit"`
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
}
