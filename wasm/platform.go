package wasm

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tenurehq/tenure/shared/abi"
)

// ParsePlatform reads a platform as the tenure CLI takes it (--platform FILE,
// $TENURE_PLATFORM): a JSON object of component name to raw value.
func ParsePlatform(text []byte) (map[string]string, error) {
	var m map[string]string
	if err := json.Unmarshal(text, &m); err != nil {
		return nil, fmt.Errorf("the platform is not a JSON object of component name to string value, such as {\"machine_id\":\"4c4c4544...\",\"mac:eth0\":\"52:54:00:12:34:56\"}: %w", err)
	}
	if m == nil {
		return nil, fmt.Errorf("the platform is null; give a JSON object such as {\"machine_id\":\"4c4c4544...\"}")
	}
	return m, nil
}

// maxPlatformFile bounds a platform file: 32 components of 64-byte names and
// values fit many times over.
const maxPlatformFile = 64 << 10

// Platform picks the platform by the CLI's precedence: the file (if named),
// else $TENURE_PLATFORM, else the machine's own [Facts] for the state
// directory state. It returns the raw values and where each came from, for
// [Options.Platform] and [Options.Sources].
func Platform(file, state string) (values, sources map[string]string, err error) {
	if file != "" {
		m, err := readPlatformFile(file)
		if err != nil {
			return nil, nil, err
		}
		return m, sourced(m, "--platform "+file), nil
	}
	if s := os.Getenv(abi.EnvPlatform); strings.TrimSpace(s) != "" {
		m, err := ParsePlatform([]byte(s))
		if err != nil {
			return nil, nil, fmt.Errorf("$%s: %w", abi.EnvPlatform, err)
		}
		return m, sourced(m, "$"+abi.EnvPlatform), nil
	}
	return Facts(state)
}

// readPlatformFile reads a platform file, such as a mounted secret (a
// symlink into the secret's current version, which is followed) or a pipe
// (--platform <(...)), at most maxPlatformFile of it.
func readPlatformFile(file string) (map[string]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("failed to read the platform file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPlatformFile+1))
	if err != nil {
		return nil, fmt.Errorf("failed to read the platform file %s: %w", file, err)
	}
	if len(b) > maxPlatformFile {
		return nil, fmt.Errorf("the platform file %s is over %d bytes; it holds one JSON object of component name to raw value", file, maxPlatformFile)
	}
	m, err := ParsePlatform(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return m, nil
}

// sourced says that every component of m came from source.
func sourced(m map[string]string, source string) map[string]string {
	s := make(map[string]string, len(m))
	for name := range m {
		s[name] = source
	}
	return s
}
