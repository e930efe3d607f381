// Package vectors runs the engine's test vectors: small text files, one case
// each, that say what the engine must do with an input. The same files run
// through the native engine (go test) and through the validator's wasm module,
// so both builds are held to one set of answers.
//
// # Format
//
// A vector is a header of "key: value" lines, then the expected outcome, then
// its inputs as sections in the style of txtar:
//
//	# An upgrade in grace is refused: the subscription must be renewed first.
//	vector: issuing
//	at: 2026-02-10T09:00:00Z
//	order: 2025-01-05
//	chain: L-000001 2025-01-05..2026-01-05
//	new: upgrade/12
//	expect: error: renew first
//
// Lines starting with # are comments. "vector" names the kind: document,
// scenario or issuing (see [Run] for the keys and sections of each). The
// "expect" key comes last; its value is either "error: TEXT", meaning the
// engine must refuse the input with an error containing TEXT, or a JSON
// object on the lines that follow, which must equal the outcome. In that
// object a string starting with "~" matches any string containing the rest.
//
// A section starts with a line "-- NAME [WORD...] --" and holds the lines up to
// the next one. Two words change the bytes: "crlf" turns every line end into
// CR LF, and "noeol" drops the last line end, for inputs that cannot be
// written as plain lines.
//
// The package reads no clock and no file, so it runs inside the validator's
// wasm module as it does natively.
package vectors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrMismatch is returned by [Match] and [Check] when an outcome differs from
// the vector's expectation.
var ErrMismatch = errors.New("outcome differs from the expectation")

// A vector is one parsed vector file.
type vector struct {
	header   map[string]string
	expect   string
	sections []section
}

type section struct {
	name  string
	words []string
	data  []byte
}

// Run parses one vector file, feeds its inputs to the engine and returns the
// outcome as canonical JSON: compact, object keys sorted. A refusal by the
// engine is an outcome, {"error": "..."}; Run returns an error only when the
// vector itself cannot be read.
//
// Document vectors ("vector: document") name the parser in "document":
//   - armor: "label" and a section "armor"; outcome {ok, bytes, sha256}.
//   - request: a section "request" holding an armored LRF; outcome its
//     fields, with its history trail and usage summary when it carries them.
//   - receipt: a section "receipt" and, optionally, "device-key", the key the
//     issuer pinned for the appliance.
//   - usage: a section "usage" holding an armored usage report and,
//     optionally, "device-key", as for a receipt; outcome the report's
//     fields with every count of its sections.
//   - license: sections "trust" and "license" (a signed note); outcome the
//     license's fields and the names of the trusted keys that signed.
//   - clock: sections "trust" and "clock" (an armored clock reset); outcome
//     the reset's fields.
//   - trust: a section "trust"; outcome the keys' names and not-after dates.
//   - backup: a section "backup" holding a tenure.backup/v1 body.
//   - product: a section "product".
//
// Scenario vectors ("vector: scenario") evaluate an appliance the way the
// validator does once its licenses are unsealed. Keys: appliance, version,
// trial-start, host, and optionally high-water, at, floor, clock-reset (the
// mark of a clock reset applied after the licenses were installed). Sections:
// "platform" (raw components as JSON), "device-key", "trust", optionally
// "product" (default: the example product edge), and one "license ID" per
// installed license (a signed note; the word "released" marks it released,
// optionally followed by the instant it was released).
// The outcome is the part of the status a person acts on.
//
// Issuing vectors ("vector: issuing") run [engine.Decide]. Keys: at, order,
// new ("renewal/12, prolongation/12+3": change/term[+extend months]),
// optionally chain ("L-000001 2025-01-05..2026-01-05, ..."), freed,
// effective, first-use, grace-days. The outcome is the decision.
func Run(file []byte) ([]byte, error) {
	v, err := parse(file)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	switch kind := v.header["vector"]; kind {
	case "document":
		out, err = runDocument(v)
	case "scenario":
		out, err = runScenario(v)
	case "issuing":
		out, err = runIssuing(v)
	default:
		return nil, fmt.Errorf("vector: unknown kind %q; use document, scenario or issuing", kind)
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

// Expected returns a vector's expected outcome as canonical JSON.
func Expected(file []byte) ([]byte, error) {
	v, err := parse(file)
	if err != nil {
		return nil, err
	}
	want, err := v.expected()
	if err != nil {
		return nil, err
	}
	return json.Marshal(want)
}

// Match compares an outcome, from [Run] or from another build of the engine
// running the same vector, with the vector's expectation. The error wraps
// [ErrMismatch] and shows both.
func Match(file, outcome []byte) error {
	v, err := parse(file)
	if err != nil {
		return err
	}
	want, err := v.expected()
	if err != nil {
		return err
	}
	var got any
	if err := json.Unmarshal(outcome, &got); err != nil {
		return fmt.Errorf("vector: outcome is not JSON: %w", err)
	}
	if path, ok := equal(want, got, ""); !ok {
		w, _ := json.MarshalIndent(want, "", "  ")
		return fmt.Errorf("%w at %s\nwant: %s\ngot:  %s", ErrMismatch, orRoot(path), w, outcome)
	}
	return nil
}

// Check runs a vector with [Run] and compares the outcome with [Match].
func Check(file []byte) error {
	out, err := Run(file)
	if err != nil {
		return err
	}
	return Match(file, out)
}

func orRoot(p string) string {
	if p == "" {
		return "the top"
	}
	return p
}

// equal compares an expectation with an outcome, both decoded from JSON. A
// wanted string starting with "~" matches a string that contains the rest.
func equal(want, got any, path string) (string, bool) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return path, false
		}
		keys := map[string]bool{}
		for k := range w {
			keys[k] = true
		}
		for k := range g {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			if p, ok := equal(w[k], g[k], path+"/"+k); !ok {
				return p, false
			}
		}
		return "", true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return path, false
		}
		for i := range w {
			if p, ok := equal(w[i], g[i], fmt.Sprintf("%s/%d", path, i)); !ok {
				return p, false
			}
		}
		return "", true
	case string:
		g, ok := got.(string)
		if sub, fuzzy := strings.CutPrefix(w, "~"); fuzzy {
			return path, ok && strings.Contains(g, sub)
		}
		return path, ok && g == w
	}
	return path, want == got
}

func (v *vector) expected() (any, error) {
	e := strings.TrimSpace(v.expect)
	if e == "" {
		return nil, errors.New("vector: no expect line; end the header with `expect: error: TEXT` or `expect:` and a JSON object")
	}
	if msg, ok := strings.CutPrefix(e, "error:"); ok {
		return map[string]any{"error": "~" + strings.TrimSpace(msg)}, nil
	}
	var want any
	if err := json.Unmarshal([]byte(e), &want); err != nil {
		return nil, fmt.Errorf("vector: the expectation is neither `error: TEXT` nor JSON: %w", err)
	}
	return want, nil
}

// parse reads a vector file: header lines, the expectation, sections.
func parse(file []byte) (*vector, error) {
	v := &vector{header: map[string]string{}}
	lines := bytes.SplitAfter(file, []byte("\n"))
	i := 0
	inExpect := false
	var expect strings.Builder
	for ; i < len(lines); i++ {
		line := string(lines[i])
		if _, ok := marker(line); ok {
			break
		}
		if inExpect {
			expect.WriteString(line)
			continue
		}
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		key, value, ok := strings.Cut(trimmed, ":")
		if !ok {
			return nil, fmt.Errorf("vector: header line %d is not `key: value`: %q", i+1, trimmed)
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if key == "expect" {
			inExpect = true
			expect.WriteString(value + "\n")
			continue
		}
		if _, dup := v.header[key]; dup {
			return nil, fmt.Errorf("vector: header key %q appears twice", key)
		}
		v.header[key] = value
	}
	v.expect = expect.String()
	var cur *section
	for ; i < len(lines); i++ {
		line := string(lines[i])
		if words, ok := marker(line); ok {
			v.sections = append(v.sections, section{name: words[0], words: words[1:]})
			cur = &v.sections[len(v.sections)-1]
			continue
		}
		cur.data = append(cur.data, line...)
	}
	for i := range v.sections {
		s := &v.sections[i]
		for _, w := range s.words {
			switch w {
			case "crlf":
				s.data = bytes.ReplaceAll(s.data, []byte("\n"), []byte("\r\n"))
			case "noeol":
				s.data = bytes.TrimSuffix(s.data, []byte("\n"))
			}
		}
	}
	return v, nil
}

// marker reports whether line starts a section, and its words.
func marker(line string) ([]string, bool) {
	line = strings.TrimSuffix(line, "\n")
	inner, ok := strings.CutPrefix(line, "-- ")
	if !ok {
		return nil, false
	}
	inner, ok = strings.CutSuffix(inner, " --")
	if !ok {
		return nil, false
	}
	words := strings.Fields(inner)
	return words, len(words) > 0
}

// get returns the data of the one section called name.
func (v *vector) get(name string) ([]byte, bool) {
	for _, s := range v.sections {
		if s.name == name {
			return s.data, true
		}
	}
	return nil, false
}

func (v *vector) need(name string) ([]byte, error) {
	d, ok := v.get(name)
	if !ok {
		return nil, fmt.Errorf("vector: missing section -- %s --", name)
	}
	return d, nil
}

func (v *vector) needKey(key string) (string, error) {
	s, ok := v.header[key]
	if !ok || s == "" {
		return "", fmt.Errorf("vector: missing header key %q", key)
	}
	return s, nil
}

// refused is the outcome of an input the engine refuses.
func refused(err error) map[string]any { return map[string]any{"error": err.Error()} }

// A Section is one named input of a vector file, with its words applied.
type Section struct {
	Name  string
	Words []string
	Data  []byte
}

// Sections returns a vector file's inputs, for tests that feed them to other
// code, such as fuzz targets seeding their corpus.
func Sections(file []byte) ([]Section, error) {
	v, err := parse(file)
	if err != nil {
		return nil, err
	}
	out := make([]Section, 0, len(v.sections))
	for _, s := range v.sections {
		out = append(out, Section{Name: s.name, Words: s.words, Data: s.data})
	}
	return out, nil
}
