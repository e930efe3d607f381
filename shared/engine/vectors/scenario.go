package vectors

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tenurehq/tenure/schema"
	"github.com/tenurehq/tenure/shared/engine"
)

// runScenario evaluates an appliance as the validator does after unsealing
// its licenses: verify each against the trust, check its binding, then
// Evaluate.
func runScenario(v *vector) (map[string]any, error) {
	productText := schema.EdgeProduct
	if p, ok := v.get("product"); ok {
		productText = p
	}
	product, err := engine.ParseProduct(productText)
	if err != nil {
		return nil, fmt.Errorf("vector: bad product: %w", err)
	}
	trust, err := v.trust()
	if err != nil {
		return nil, err
	}
	appliance, err := v.needKey("appliance")
	if err != nil {
		return nil, err
	}
	version, err := v.needKey("version")
	if err != nil {
		return nil, err
	}
	rawPlatform, err := v.need("platform")
	if err != nil {
		return nil, err
	}
	var raw map[string]string
	if err := json.Unmarshal(rawPlatform, &raw); err != nil {
		return nil, fmt.Errorf("vector: platform is not a JSON object of strings: %w", err)
	}
	deviceKey, err := v.need("device-key")
	if err != nil {
		return nil, err
	}
	binding := engine.Binding{
		Appliance: appliance,
		Platform:  engine.HashPlatform(product.ID, raw),
		DeviceKey: strings.TrimSpace(string(deviceKey)),
		Product:   product,
		Version:   version,
	}
	in := &engine.Input{Product: product}
	for _, k := range []struct {
		key      string
		to       *time.Time
		required bool
	}{{"trial-start", &in.TrialStart, true}, {"host", &in.Host, true}, {"high-water", &in.HighWater, false}, {"floor", &in.Floor, false}} {
		s, ok := v.header[k.key]
		if !ok {
			if k.required {
				return nil, fmt.Errorf("vector: missing header key %q", k.key)
			}
			continue
		}
		if *k.to, err = engine.ParseInstant(s); err != nil {
			return nil, fmt.Errorf("vector: %s: %w", k.key, err)
		}
	}
	if s, ok := v.header["at"]; ok {
		at, err := engine.ParseInstant(s)
		if err != nil {
			return nil, fmt.Errorf("vector: at: %w", err)
		}
		in.At = &at
	}
	// clock-reset is the mark of a clock reset applied after every license
	// was installed.
	var reset time.Time
	rs, hasReset := v.header["clock-reset"]
	if hasReset {
		if reset, err = engine.ParseInstant(rs); err != nil {
			return nil, fmt.Errorf("vector: clock-reset: %w", err)
		}
	}
	for _, s := range v.sections {
		if s.name != "license" {
			continue
		}
		if len(s.words) == 0 {
			return nil, fmt.Errorf("vector: a license section needs an id: -- license L-000001 --")
		}
		e := engine.Entry{ID: s.words[0]}
		if i := slices.Index(s.words, "released"); i > 0 {
			e.Released = true
			if i+1 < len(s.words) {
				if e.ReleasedAt, err = engine.ParseInstant(s.words[i+1]); err != nil {
					return nil, fmt.Errorf("vector: license %s released: %w", s.words[0], err)
				}
			}
		}
		l, err := engine.VerifyLicense(s.data, trust)
		e.License = l
		switch {
		case err != nil:
			e.Inactive = err.Error()
		case hasReset && engine.IssuedAfter(l, reset):
			e.Inactive = engine.IssuedInFuture
		default:
			if err := binding.Check(l); err != nil {
				e.Inactive = err.Error()
			}
		}
		in.Licenses = append(in.Licenses, e)
	}
	return statusOutcome(engine.Evaluate(in)), nil
}

// statusOutcome keeps the part of a status a vector pins down.
func statusOutcome(s *engine.Status) map[string]any {
	out := map[string]any{
		"state":          s.State,
		"at":             stamp(s.At),
		"features":       s.Features,
		"limits":         s.Limits,
		"config_changes": s.ConfigChanges,
		"warnings":       s.Warnings,
		"rolled_back":    s.Clock.RolledBack,
	}
	if s.Until != nil {
		out["until"] = stamp(*s.Until)
	}
	if s.Grace != nil {
		out["grace"] = map[string]any{"started": stamp(s.Grace.Started), "ends": stamp(s.Grace.Ends)}
	}
	if s.Next != nil {
		out["next"] = map[string]any{"state": s.Next.State, "at": stamp(s.Next.At)}
	}
	licenses := []any{}
	for _, l := range s.Licenses {
		ls := map[string]any{"id": l.ID, "standing": l.Standing}
		if l.Standing == engine.StandingInactive {
			ls["reason"] = l.Reason
		}
		licenses = append(licenses, ls)
	}
	out["licenses"] = licenses
	return out
}
