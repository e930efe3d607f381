package vectors

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tenurehq/tenure/shared/engine"
)

func runIssuing(v *vector) (map[string]any, error) {
	var a engine.Activation
	var err error
	if a.At, err = instantKey(v, "at"); err != nil {
		return nil, err
	}
	if a.Order, err = instantKey(v, "order"); err != nil {
		return nil, err
	}
	for _, k := range []struct {
		key string
		to  **time.Time
	}{{"freed", &a.Freed}, {"effective", &a.Effective}, {"first-use", &a.FirstUse}} {
		if _, ok := v.header[k.key]; !ok {
			continue
		}
		t, err := instantKey(v, k.key)
		if err != nil {
			return nil, err
		}
		*k.to = &t
	}
	if a.New, err = parseRevisions(v.header["new"]); err != nil {
		return nil, err
	}
	if a.Chain, err = parseChain(v.header["chain"]); err != nil {
		return nil, err
	}
	d, err := engine.Decide(a)
	if err != nil {
		return refused(err), nil
	}
	out := map[string]any{"reason": d.Reason, "from": stamp(d.From), "until": stamp(d.Until)}
	if len(d.Supersedes) > 0 {
		out["supersedes"] = d.Supersedes
	}
	return out, nil
}

func instantKey(v *vector, key string) (time.Time, error) {
	s, err := v.needKey(key)
	if err != nil {
		return time.Time{}, err
	}
	t, err := engine.ParseInstant(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("vector: %s: %w", key, err)
	}
	return t, nil
}

// parseRevisions reads "order/12, renewal/12, prolongation/12+3": each a
// change, its term in months and, after +, the months a prolongation adds.
func parseRevisions(s string) ([]engine.Revision, error) {
	var revs []engine.Revision
	for i, item := range splitList(s) {
		change, rest, ok := strings.Cut(item, "/")
		if !ok {
			return nil, fmt.Errorf("vector: revision %q is not change/term[+extend]", item)
		}
		term, extend, _ := strings.Cut(rest, "+")
		r := engine.Revision{Number: i + 1, Change: change}
		var err error
		if r.TermMonths, err = strconv.Atoi(term); err != nil {
			return nil, fmt.Errorf("vector: revision %q: %w", item, err)
		}
		if extend != "" {
			if r.ExtendMonths, err = strconv.Atoi(extend); err != nil {
				return nil, fmt.Errorf("vector: revision %q: %w", item, err)
			}
		}
		revs = append(revs, r)
	}
	return revs, nil
}

// parseChain reads "L-000001 2025-01-05..2026-01-05, ...": the appliance's
// current licenses of the contract with their windows.
func parseChain(s string) ([]*engine.License, error) {
	var chain []*engine.License
	for _, item := range splitList(s) {
		id, window, ok := strings.Cut(item, " ")
		from, until, ok2 := strings.Cut(strings.TrimSpace(window), "..")
		if !ok || !ok2 {
			return nil, fmt.Errorf("vector: chain item %q is not `ID FROM..UNTIL`", item)
		}
		l := &engine.License{ID: id}
		var err error
		if l.From, err = engine.ParseInstant(from); err != nil {
			return nil, fmt.Errorf("vector: chain %s: %w", id, err)
		}
		if l.Until, err = engine.ParseInstant(until); err != nil {
			return nil, fmt.Errorf("vector: chain %s: %w", id, err)
		}
		chain = append(chain, l)
	}
	return chain, nil
}

func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
