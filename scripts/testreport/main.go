// Command testreport reads `go test -json` on stdin and prints what `go
// test` prints without -v (each package's result, and the output of the
// tests that failed), then every skipped test with its reason, so a
// component that was missing does not pass unnoticed. It exits 1 if a test
// or a package failed. scripts/test.sh runs it.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

type skip struct{ name, reason string }

func main() { os.Exit(run(os.Stdin, os.Stdout)) }

func run(in io.Reader, out io.Writer) int {
	outputs := map[string]*strings.Builder{} // package/test -> its output
	var skips []skip
	failed := false
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			// Not an event: a build error printed by go itself.
			fmt.Fprintln(out, sc.Text())
			continue
		}
		key := e.Package + "\x00" + e.Test
		switch e.Action {
		case "output":
			if e.Test == "" {
				// The package's own lines: ok, FAIL, build errors.
				if !strings.HasPrefix(e.Output, "=== ") && !strings.HasPrefix(e.Output, "--- ") && strings.TrimSpace(e.Output) != "PASS" {
					io.WriteString(out, e.Output)
				}
				continue
			}
			b := outputs[key]
			if b == nil {
				b = &strings.Builder{}
				outputs[key] = b
			}
			b.WriteString(e.Output)
		case "fail":
			failed = true
			if e.Test != "" && outputs[key] != nil {
				io.WriteString(out, outputs[key].String())
			}
			delete(outputs, key)
		case "skip":
			if e.Test != "" {
				skips = append(skips, skip{e.Package + " " + e.Test, reason(outputs[key])})
			}
			delete(outputs, key)
		case "pass":
			delete(outputs, key)
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(out, "testreport:", err)
		return 1
	}
	sort.Slice(skips, func(i, j int) bool { return skips[i].name < skips[j].name })
	if len(skips) == 0 {
		fmt.Fprintln(out, "skipped: none")
	} else {
		fmt.Fprintf(out, "skipped: %d\n", len(skips))
		for _, s := range skips {
			fmt.Fprintf(out, "  %s: %s\n", s.name, s.reason)
		}
	}
	if failed {
		return 1
	}
	return 0
}

// reason is the text a skipped test logged (its t.Skip message), without
// the --- SKIP line and file positions.
func reason(b *strings.Builder) string {
	if b == nil {
		return "(no reason given)"
	}
	var lines []string
	for _, l := range strings.Split(b.String(), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- ") {
			continue
		}
		if i := strings.Index(l, ".go:"); i >= 0 {
			if j := strings.Index(l[i:], ": "); j >= 0 {
				l = l[i+j+2:]
			}
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		return "(no reason given)"
	}
	return strings.Join(lines, " ")
}
