package wasm

import (
	"encoding/json"
	"fmt"
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

// Platform picks the platform by the CLI's precedence: the file (if named),
// else $TENURE_PLATFORM, else the machine's own [Facts].
func Platform(file string) (map[string]string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("failed to read the platform file: %w", err)
		}
		m, err := ParsePlatform(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		return m, nil
	}
	if s := os.Getenv(abi.EnvPlatform); strings.TrimSpace(s) != "" {
		m, err := ParsePlatform([]byte(s))
		if err != nil {
			return nil, fmt.Errorf("$%s: %w", abi.EnvPlatform, err)
		}
		return m, nil
	}
	return Facts()
}
