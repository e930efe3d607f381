package wasm

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ModuleFile is the name of the validator reactor, embedded from the folder
// module/ or found beside the executable.
const ModuleFile = "validator-reactor.wasm"

// EnvModule names a reactor file to load when none is embedded.
const EnvModule = "TENURE_MODULE"

// embedded holds module/: only a README in the source tree; the build copies
// the reactor in before it builds tenure.
//
//go:embed module
var embedded embed.FS

// moduleSHA256 is the hex SHA-256 of the reactor this host was built with,
// set by the build:
//
//	-ldflags "-X github.com/tenurehq/tenure/wasm.moduleSHA256=HEX"
//
// When set, every module is checked against it, embedded or loaded: the
// module decides whether a license counts, so swapping the file beside the
// executable must not be a way to unlock an appliance. Empty in development
// builds (go run, go test), which accept any module.
var moduleSHA256 string

// ModuleSHA256 returns the SHA-256 (hex) of the reactor this host was built
// with, or "" for a development build that accepts any module.
func ModuleSHA256() string { return moduleSHA256 }

// LoadModule returns the validator reactor this host runs and where it came
// from: the embedded module, else the file $TENURE_MODULE names, else
// validator-reactor.wasm beside the executable. It refuses a module whose
// SHA-256 differs from the one the build recorded.
func LoadModule() (module []byte, source string, err error) {
	module, source, err = findModule()
	if err != nil {
		return nil, "", err
	}
	if err := verifyModule(module, source); err != nil {
		return nil, "", err
	}
	return module, source, nil
}

func findModule() ([]byte, string, error) {
	if b, err := fs.ReadFile(embedded, "module/"+ModuleFile); err == nil {
		return b, "embedded " + ModuleFile, nil
	}
	if name := os.Getenv(EnvModule); name != "" {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, "", fmt.Errorf("failed to read the validator module named by $%s: %w", EnvModule, err)
		}
		return b, name, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, "", fmt.Errorf("no validator module is embedded and the executable's folder is unknown (%v); set $%s to validator-reactor.wasm", err, EnvModule)
	}
	name := filepath.Join(filepath.Dir(exe), ModuleFile)
	b, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("no validator module: none is embedded, $%s is not set and %s does not exist; build with `make build` or set $%s to validator-reactor.wasm", EnvModule, name, EnvModule)
	}
	if err != nil {
		return nil, "", fmt.Errorf("failed to read the validator module: %w", err)
	}
	return b, name, nil
}

// verifyModule refuses a module that is not the one the build recorded.
func verifyModule(module []byte, source string) error {
	if moduleSHA256 == "" {
		return nil
	}
	sum := sha256.Sum256(module)
	if got := hex.EncodeToString(sum[:]); got != moduleSHA256 {
		return fmt.Errorf("refusing the validator module %s: its SHA-256 is %s, but this tenure was built with %s; install the validator-reactor.wasm that came with this tenure, or rebuild both with `make build`", source, got, moduleSHA256)
	}
	return nil
}

// EnvModuleSHA256 is the pin of the module $TENURE_MODULE names, for hosts
// that load it from a file ([PinnedModule]).
const EnvModuleSHA256 = "TENURE_MODULE_SHA256"

// PinnedModule reads the validator reactor at path and checks it against
// sum, the hex SHA-256 it must have; with sum empty, against the file
// path+".sha256" that `make build` writes beside the module. A module with
// no pin is refused: whoever can replace the file could otherwise unlock
// the appliance with a module of their own. Pass the result as
// [Options.Module].
func PinnedModule(path, sum string) ([]byte, error) {
	if sum == "" {
		b, err := os.ReadFile(path + ".sha256")
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("refusing the validator module %s: it is not pinned; set $%s to its SHA-256, or keep the %s.sha256 file `make build` writes beside it", path, EnvModuleSHA256, filepath.Base(path))
		}
		if err != nil {
			return nil, fmt.Errorf("failed to read the pin of the validator module: %w", err)
		}
		sum = strings.TrimSpace(string(b))
	}
	if len(sum) != 64 || strings.Trim(sum, "0123456789abcdef") != "" {
		return nil, fmt.Errorf("the pin of the validator module %s is not a SHA-256 in lower-case hex: %q", path, sum)
	}
	module, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("failed to read the validator module: %w", err)
	}
	got := sha256.Sum256(module)
	if hex.EncodeToString(got[:]) != sum {
		return nil, fmt.Errorf("refusing the validator module %s: its SHA-256 is %x, and it is pinned to %s", path, got, sum)
	}
	return module, nil
}
