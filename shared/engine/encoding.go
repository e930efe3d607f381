package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tenurehq/tenure/schema"
)

// Encode returns the body of a document: its type on the first line, then its
// one exact JSON encoding on the second.
func Encode(typ string, v any) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("failed to encode %s: %w", typ, err)
	}
	if c, ok := v.(interface{ consistent() error }); ok {
		if err := c.consistent(); err != nil {
			return nil, fmt.Errorf("failed to encode %s: %w", typ, err)
		}
	}
	body := make([]byte, 0, len(typ)+len(j)+2)
	body = append(body, typ...)
	body = append(body, '\n')
	body = append(body, j...)
	body = append(body, '\n')
	if err := schema.Validate(typ, j); err != nil {
		return nil, fmt.Errorf("failed to encode %s: %w", typ, err)
	}
	return body, nil
}

// Decode parses a body made by [Encode] into v. It accepts only the exact
// encoding: the type line, JSON valid against the type's schema with no
// unknown fields, and bytes equal to v's re-encoding.
func Decode(typ string, body []byte, v any) error {
	j, ok := bytes.CutPrefix(body, []byte(typ+"\n"))
	if !ok {
		first, _, _ := strings.Cut(string(body), "\n")
		if len(first) > 40 {
			first = first[:40] + "…"
		}
		return fmt.Errorf("%w: expected a %s document, found %q", ErrMalformed, typ, first)
	}
	j, ok = bytes.CutSuffix(j, []byte("\n"))
	if !ok || bytes.IndexByte(j, '\n') >= 0 {
		return fmt.Errorf("%w: %s body must be one line of JSON", ErrMalformed, typ)
	}
	if err := schema.Validate(typ, j); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrMalformed, typ, err)
	}
	if c, ok := v.(interface{ consistent() error }); ok {
		if err := c.consistent(); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrMalformed, typ, err)
		}
	}
	again, err := json.Marshal(v)
	if err != nil || !bytes.Equal(again, j) {
		return fmt.Errorf("%w: %s is not in its one exact encoding (compact JSON, fields in order, sorted lists)", ErrMalformed, typ)
	}
	return nil
}

// consistent checks what a schema cannot: the lists whose order carries no
// meaning are sorted and free of repeats (so a document has one encoding),
// and a history trail lists exactly the entries up to its head.
func (l *License) consistent() error {
	return errors.Join(sortedSet("features", l.Features), sortedSet("supersedes", l.Supersedes))
}

func (r *Request) consistent() error {
	var u error
	if r.Usage != nil {
		u = r.Usage.consistent()
	}
	return errors.Join(sortedSet("installed", r.Installed), r.History.Check(), u)
}

func (r *Release) consistent() error {
	return errors.Join(sortedSet("licenses", r.Licenses), r.History.Check())
}

func sortedSet(field string, list []string) error {
	for i := 1; i < len(list); i++ {
		if list[i-1] >= list[i] {
			return fmt.Errorf("%s must be sorted without repeats", field)
		}
	}
	return nil
}
