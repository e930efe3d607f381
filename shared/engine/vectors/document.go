package vectors

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tenurehq/tenure/shared/engine"
)

func runDocument(v *vector) (map[string]any, error) {
	switch doc := v.header["document"]; doc {
	case "armor":
		label, err := v.needKey("label")
		if err != nil {
			return nil, err
		}
		text, err := v.need("armor")
		if err != nil {
			return nil, err
		}
		data, err := engine.Dearmor(label, text)
		if err != nil {
			return refused(err), nil
		}
		sum := sha256.Sum256(data)
		return map[string]any{"ok": true, "bytes": len(data), "sha256": hex.EncodeToString(sum[:])}, nil

	case "request":
		text, err := v.need("request")
		if err != nil {
			return nil, err
		}
		r, _, err := engine.OpenRequest(text)
		if err != nil {
			return refused(err), nil
		}
		out := map[string]any{
			"ok": true, "type": engine.TypeRequest, "appliance": r.Appliance, "product": r.Product,
			"version": r.Version, "mode": r.Mode, "installed": r.Installed, "sequence": r.Sequence,
			"trial_start": stamp(r.TrialStart), "created": stamp(r.Created), "platform": slices.Sorted(maps.Keys(r.Platform)),
		}
		if r.FirstUse != nil {
			out["first_use"] = stamp(*r.FirstUse)
		}
		if r.ProductHash != "" {
			out["product_hash"] = r.ProductHash
		}
		if r.History != nil {
			out["history"] = trailOutcome(r.History)
		}
		if r.Usage != nil {
			out["usage"] = map[string]any{"period": periodOutcome(r.Usage.Period), "contracts": sectionsOutcome(r.Usage.Contracts)}
		}
		return out, nil

	case "receipt":
		text, err := v.need("receipt")
		if err != nil {
			return nil, err
		}
		r, _, err := engine.OpenRelease(text, v.pinnedKey)
		if err != nil {
			return refused(err), nil
		}
		out := map[string]any{
			"ok": true, "type": engine.TypeRelease, "contract": r.Contract, "licenses": r.Licenses,
			"appliance": r.Appliance, "released": stamp(r.Released), "sequence": r.Sequence,
		}
		if r.History != nil {
			out["history"] = trailOutcome(r.History)
		}
		return out, nil

	case "usage":
		text, err := v.need("usage")
		if err != nil {
			return nil, err
		}
		u, _, err := engine.OpenUsage(text, v.pinnedKey)
		if err != nil {
			return refused(err), nil
		}
		out := map[string]any{
			"ok": true, "type": engine.TypeUsage, "appliance": u.Appliance, "product": u.Product,
			"period": periodOutcome(u.Period), "contracts": sectionsOutcome(u.Contracts),
			"sequence": u.Sequence, "created": stamp(u.Created),
		}
		if u.History != nil {
			out["history"] = trailOutcome(u.History)
		}
		return out, nil

	case "clock":
		trust, err := v.trust()
		if err != nil {
			return nil, err
		}
		text, err := v.need("clock")
		if err != nil {
			return nil, err
		}
		c, err := engine.OpenClockReset(text, trust)
		if err != nil {
			return refused(err), nil
		}
		out := map[string]any{
			"ok": true, "type": engine.TypeClock, "appliance": c.Appliance,
			"nonce": c.Nonce, "sequence": c.Sequence, "mark": stamp(c.Mark), "reason": c.Reason, "issued": stamp(c.Issued),
		}
		// The device key is a throwaway one: the outcome says whether the
		// reset is bound to it, not its hash.
		if key, ok := v.get("device-key"); ok {
			out["for_device_key"] = c.DeviceKeyHash == engine.KeyHash(strings.TrimSpace(string(key)))
		}
		return out, nil

	case "license":
		trust, err := v.trust()
		if err != nil {
			return nil, err
		}
		signed, err := v.need("license")
		if err != nil {
			return nil, err
		}
		l, err := engine.VerifyLicense(signed, trust)
		if err != nil {
			return refused(err), nil
		}
		_, sigs, err := engine.OpenNote(signed, trust.Verifiers())
		if err != nil {
			return refused(err), nil
		}
		signers := []string{}
		for _, s := range sigs {
			signers = append(signers, s.Name)
		}
		slices.Sort(signers)
		out := licenseFields(l)
		out["ok"], out["type"], out["signers"] = true, engine.TypeLicense, signers
		return out, nil

	case "trust":
		text, err := v.need("trust")
		if err != nil {
			return nil, err
		}
		t, err := engine.ParseTrust(string(text))
		if err != nil {
			return refused(err), nil
		}
		keys := []any{}
		for _, k := range t.Keys {
			key := map[string]any{"name": k.Name}
			if !k.NotAfter.IsZero() {
				key["not_after"] = stamp(k.NotAfter)
			}
			keys = append(keys, key)
		}
		return map[string]any{"ok": true, "keys": keys}, nil

	case "backup":
		text, err := v.need("backup")
		if err != nil {
			return nil, err
		}
		var b engine.Backup
		if err := engine.Decode(engine.TypeBackup, text, &b); err != nil {
			return refused(err), nil
		}
		return map[string]any{
			"ok": true, "type": engine.TypeBackup, "appliance": b.Appliance, "product": b.Product, "version": b.Version,
			"licenses": slices.Sorted(maps.Keys(b.Licenses)), "trials": len(b.Trials), "sequence": b.Sequence,
			"high_water": stamp(b.HighWater), "created": stamp(b.Created),
		}, nil

	case "product":
		text, err := v.need("product")
		if err != nil {
			return nil, err
		}
		p, err := engine.ParseProduct(text)
		if err != nil {
			return refused(err), nil
		}
		return map[string]any{
			"ok": true, "type": engine.TypeProduct, "id": p.ID, "sha256": p.SHA256, "features": p.Features,
			"tiers": slices.Sorted(maps.Keys(p.Tiers)), "trial_days": p.Trial.Days,
			"grace_days": p.GraceDays, "min_version": p.MinVersion,
		}, nil
	}
	return nil, fmt.Errorf("vector: unknown document %q; use armor, request, receipt, usage, license, clock, trust, backup or product", v.header["document"])
}

func (v *vector) trust() (*engine.Trust, error) {
	text, err := v.need("trust")
	if err != nil {
		return nil, err
	}
	t, err := engine.ParseTrust(string(text))
	if err != nil {
		return nil, fmt.Errorf("vector: bad trust section: %w", err)
	}
	return t, nil
}

func licenseFields(l *engine.License) map[string]any {
	out := map[string]any{
		"id": l.ID, "contract": l.Contract, "revision": l.Revision, "appliance": l.Appliance,
		"product": l.Product, "tier": l.Tier, "kind": l.Kind, "features": l.Features, "limits": l.Limits,
		"from": stamp(l.From), "until": stamp(l.Until), "grace_days": l.GraceDays, "reason": l.Reason,
		"issued": stamp(l.Issued),
	}
	if len(l.Supersedes) > 0 {
		out["supersedes"] = l.Supersedes
	}
	return out
}

func stamp(t time.Time) string { return t.UTC().Format(engine.TimeFormat) }

// trailOutcome is the part of a history trail a vector pins down: its head,
// where it starts and how many entries it lists.
func trailOutcome(t *engine.Trail) map[string]any {
	return map[string]any{"n": t.Head.N, "hash": t.Head.Hash, "from": t.From, "entries": len(t.Entries)}
}

func periodOutcome(p engine.Period) map[string]any {
	return map[string]any{"from": stamp(p.From), "until": stamp(p.Until)}
}

// sectionsOutcome is every count of a usage report's sections, as objects
// so that the outcome's keys stay sorted.
func sectionsOutcome(ss []engine.UsageSection) []any {
	out := []any{}
	for _, s := range ss {
		limits := map[string]any{}
		for name, p := range s.Limits {
			limits[name] = map[string]any{"allowed": p.Allowed, "denied": p.Denied}
		}
		features := map[string]any{}
		for name, days := range s.Features {
			features[name] = days
		}
		out = append(out, map[string]any{"contract": s.Contract, "limits": limits, "features": features})
	}
	return out
}

// pinnedKey is the device key the vector pins for an appliance, as the
// issuer pins it at the first activation: what verifies its receipts and
// reports.
func (v *vector) pinnedKey(appliance string) (string, error) {
	pinned, ok := v.get("device-key")
	if !ok {
		return "", fmt.Errorf("no device key is pinned for appliance %s; it was never activated", appliance)
	}
	return strings.TrimSpace(string(pinned)), nil
}
