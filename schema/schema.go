// Package schema holds Tenure's JSON Schemas (draft 2020-12), the example
// product and the OpenAPI description of the issuer's API. The schemas are
// embedded and each is compiled once, on the first use of its type; both
// the validator and the issuer check every document against them, so the
// two sides never disagree about a field.
package schema

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

//go:embed *.schema.json
var files embed.FS

// EdgeProduct is the example product, "edge", as a tenure.product/v1 file.
//
//go:embed edge.product
var EdgeProduct []byte

// baseURL prefixes every schema's $id.
const baseURL = "https://tenure.dev/schema/"

// byType maps a document type, or "contract" for the issuer's contract
// record, to its schema file.
var byType = map[string]string{
	"tenure.lrf/v1":     "lrf.schema.json",
	"tenure.license/v1": "license.schema.json",
	"tenure.release/v1": "release.schema.json",
	"tenure.clock/v1":   "clock.schema.json",
	"tenure.usage/v1":   "usage.schema.json",
	"tenure.backup/v1":  "backup.schema.json",
	"tenure.product/v1": "product.schema.json",
	"contract":          "contract.schema.json",
}

// schemas compiles each type's schema on its first use, so a process pays
// only for the types it reads: compiling one costs milliseconds (jsonschema
// checks it against the draft's metaschema first), all of them about 20 ms,
// which a Lambda cold start or a command that reads one document would
// otherwise spend up front.
var schemas = func() map[string]func() (*jsonschema.Schema, error) {
	var mu sync.Mutex // a Compiler is not safe for concurrent use
	var c *jsonschema.Compiler
	var cErr error
	out := make(map[string]func() (*jsonschema.Schema, error), len(byType))
	for typ, name := range byType {
		out[typ] = sync.OnceValues(func() (*jsonschema.Schema, error) {
			mu.Lock()
			defer mu.Unlock()
			if c == nil && cErr == nil {
				c, cErr = newCompiler()
			}
			if cErr != nil {
				return nil, cErr
			}
			s, err := c.Compile(baseURL + name)
			if err != nil {
				return nil, fmt.Errorf("schema %s: %w", name, err)
			}
			return s, nil
		})
	}
	return out
}()

// newCompiler returns a compiler holding every embedded schema file.
func newCompiler() (*jsonschema.Compiler, error) {
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	c.AssertFormat = true
	entries, err := files.ReadDir(".")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		b, err := files.ReadFile(e.Name())
		if err != nil {
			return nil, err
		}
		if err := c.AddResource(baseURL+e.Name(), bytes.NewReader(b)); err != nil {
			return nil, fmt.Errorf("schema %s: %w", e.Name(), err)
		}
	}
	return c, nil
}

// Prepare compiles the schema of each type now, unless that is done, so
// that a process can pay for it while it waits on something else (the
// Lambda function compiles the product schema during its KMS round trip).
// Validate compiles on first use without it.
func Prepare(types ...string) error {
	for _, typ := range types {
		compiled, ok := schemas[typ]
		if !ok {
			return fmt.Errorf("no schema for %q", typ)
		}
		if _, err := compiled(); err != nil {
			return fmt.Errorf("schemas do not compile: %w", err)
		}
	}
	return nil
}

// Types lists the document types that have a schema, sorted.
func Types() []string { return slices.Sorted(maps.Keys(byType)) }

// File returns the text of a schema file by its name, such as
// "license.schema.json".
func File(name string) ([]byte, error) { return files.ReadFile(name) }

// Validate checks the JSON document doc against the schema of typ. The error
// names the JSON path of the first failing value, such as
// "/limits/vpn_users: must be >= 0".
func Validate(typ string, doc []byte) error {
	if err := Prepare(typ); err != nil {
		return err
	}
	s, _ := schemas[typ]()
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("%s: not JSON: %v", typ, err)
	}
	if dec.More() {
		return fmt.Errorf("%s: trailing data after the JSON value", typ)
	}
	if err := s.Validate(v); err != nil {
		return fmt.Errorf("%s: %s", typ, describe(err))
	}
	return nil
}

// describe turns a validation error into one line naming the deepest failing
// JSON path and what is wrong there.
func describe(err error) string {
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return err.Error()
	}
	for len(ve.Causes) > 0 {
		ve = ve.Causes[0]
	}
	path := ve.InstanceLocation
	if path == "" {
		path = "/"
	}
	return path + ": " + strings.TrimSpace(ve.Message)
}
