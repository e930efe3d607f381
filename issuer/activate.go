package issuer

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tenurehq/tenure/issuer/internal/store"
	"github.com/tenurehq/tenure/shared/engine"
)

// activationBody is the body of POST /v1/activations.
type activationBody struct {
	Contract  string  `json:"contract"`
	Request   string  `json:"request"`
	Effective *string `json:"effective,omitempty"`
}

// activationAnswer is the answer: 201 for a new license, 200 for a replay
// with the stored bytes.
type activationAnswer struct {
	ID        string    `json:"id"`
	License   string    `json:"license"`
	Reason    string    `json:"reason"`
	From      time.Time `json:"from"`
	Until     time.Time `json:"until"`
	Appliance string    `json:"appliance"`
	// Detail names the contract's features the license does not carry,
	// because the product version the appliance runs lacks them.
	Detail string `json:"detail,omitempty"`
	// Licenses holds, for a reissue, the stored bytes of the chain's other
	// licenses the LRF does not list as installed.
	Licenses []chainLicense `json:"licenses,omitempty"`
}

// chainLicense is one license of an appliance's chain, as stored.
type chainLicense struct {
	ID      string `json:"id"`
	License string `json:"license"`
}

// FreshnessSlack is how far ahead of the issuer's clock an LRF's created
// time may be: clocks drift, but an LRF from tomorrow is a clock set
// forward (an admin answers it with a clock reset). Age does not matter;
// air-gapped sites are slow. A receipt is accepted whatever its released
// time; one beyond the slack is recorded as clock_ahead.
const FreshnessSlack = 24 * time.Hour

// conflictRetries bounds how often an activation that lost a race (a freed
// seat retaken, the binding changed) is decided again from fresh records,
// with one more for each of the contract's seats, up to maxSeatRetries.
const (
	conflictRetries = 4
	maxSeatRetries  = 64
)

// licenseID returns "L-" and 26 random base32 characters (130 bits).
func licenseID() string { return "L-" + rand.Text() }

// activate is POST /v1/activations: an LRF in, a license sealed to the
// appliance out.
func (s *Server) activate(ctx context.Context, c *call, in *activationBody) (*answer, *store.Entry, error) {
	a, err := s.prepare(ctx, c.who, in)
	if err != nil {
		if a == nil {
			return nil, nil, err
		}
		return nil, &a.entry, err
	}
	// A conflict means a concurrent write changed what this one decided
	// from: another activation retook the freed seat it chose, or the
	// appliance's binding moved. Each is progress of another request, so the
	// retries are bounded by the seats as well: a free seat is never
	// refused because others took the ones this activation chose first.
	for attempt := range conflictRetries + min(a.contract.Appliances, maxSeatRetries) {
		a.attempt = attempt
		ans, replay, err := s.issue(ctx, a, attempt > 0)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, &a.entry, err
		}
		return ans, replay, nil
	}
	return nil, &a.entry, problem(http.StatusConflict, "conflict", "the contract's records kept changing during this activation; send the request again")
}

// activation is a request that passed the checks that need no records of the
// appliance.
type activation struct {
	who       caller
	contract  *store.Contract
	catalog   *catalog
	product   *engine.Product // the version the LRF names, once checkRules found it
	req       *engine.Request
	key       string // SHA-256 of the signed LRF
	effective *time.Time
	given     string // effective as given
	entry     store.Entry
	attempt   int // how many times it was decided before, each lost to a concurrent write
}

// prepare parses the body and the LRF (400, 413) and runs the checks up to
// 403 and the contract's 404, so that nothing is read of an appliance for a
// caller that may not act for its contract. It builds the ledger entry for
// the rest, and returns the activation with an error when the refusal is to
// be recorded.
func (s *Server) prepare(ctx context.Context, who caller, in *activationBody) (*activation, error) {
	if in.Contract == "" || in.Request == "" {
		return nil, problem(http.StatusBadRequest, "malformed", "the body needs \"contract\" and \"request\" (the LRF text `tenure request` prints)")
	}
	if err := checkContractID(in.Contract); err != nil {
		return nil, err
	}
	a := &activation{who: who}
	if in.Effective != nil {
		d, err := engine.ParseDate(*in.Effective)
		if err != nil {
			return nil, problem(http.StatusBadRequest, "malformed", "effective: %v", err)
		}
		a.effective, a.given = &d, *in.Effective
	}
	req, signed, err := engine.OpenRequest([]byte(in.Request))
	if errors.Is(err, engine.ErrTooLarge) {
		return nil, problem(http.StatusRequestEntityTooLarge, "too-large", "%v", err)
	}
	if err != nil {
		return nil, problem(http.StatusBadRequest, "malformed", "%v; send the LRF exactly as `tenure request` printed it", err)
	}
	a.req, a.key = req, hashHex(signed)
	a.entry = store.Entry{Contract: in.Contract, Actor: who.actor(), Action: "activation", Outcome: store.Accepted,
		Appliance: req.Appliance, Request: a.key}
	if err := who.mayAct(in.Contract); err != nil {
		return a, err
	}
	c, err := s.contract(ctx, in.Contract)
	if err != nil {
		return nil, err
	}
	a.contract = c
	if len(s.catalog.byID[c.Product]) == 0 {
		return a, problem(http.StatusUnprocessableEntity, "refused", "contract %s is for product %s, which this issuer no longer licenses (TENURE_PRODUCTS names the product files it loads)", c.ID, c.Product)
	}
	a.catalog = s.catalog
	return a, nil
}

// issue decides and stores one activation, step by step: a replay, the
// issuer's clock, the rules, the identity, the history, the sequence, the
// decision, the license.
// It returns store.ErrConflict when a concurrent write changed the records it
// decided from; retry says this attempt follows one. A replay comes with its
// ledger row; a new license's row is written with it.
func (s *Server) issue(ctx context.Context, a *activation, retry bool) (*answer, *store.Entry, error) {
	now := s.clock()
	a.entry.At, a.entry.Anomaly = now, ""
	// The first attempt decides from the contract prepare has just read; a
	// retry follows a concurrent change and reads it again. Either way the
	// store checks the seats again when it writes.
	c := a.contract
	if retry {
		var err error
		if c, err = s.contract(ctx, c.ID); err != nil {
			return nil, nil, err
		}
	}
	if l, err := s.replay(ctx, a, c); l != nil || err != nil {
		if err != nil {
			return nil, nil, err
		}
		e := a.entry
		e.Status, e.License, e.Reason = http.StatusOK, l.ID, "replay"
		return s.answered(a, http.StatusOK, l), &e, nil
	}
	// A replay signs nothing; anything else is decided at the issuer's
	// clock, which must not be behind what it signed before.
	if err := s.clk.check(ctx, now); err != nil {
		return nil, nil, err
	}
	if err := a.checkRules(c, now); err != nil {
		return nil, nil, err
	}
	b, err := s.checkIdentity(ctx, a, c)
	if err != nil {
		return nil, nil, err
	}
	v, err := s.checkHistory(ctx, a)
	if err != nil {
		return nil, nil, err
	}
	// A restore counts from the sequence of the backup it was restored
	// from; its history, not its sequence, tells it from an old request.
	if v.standing != restore {
		if err := a.checkSequence(b); err != nil {
			return nil, nil, err
		}
	}
	op, d, err := s.decide(ctx, a, c, b, now)
	if err != nil {
		return nil, nil, err
	}
	op.History = v.next
	if l, err := s.storedReissue(ctx, a, c, b, d); l != nil || err != nil {
		if err != nil {
			return nil, nil, err
		}
		ans, err := s.reissue(ctx, a, b, op, l)
		if err != nil {
			return nil, nil, err
		}
		return ans, nil, s.heal(ctx, a, ans)
	}
	l, err := s.commit(ctx, a, c, b, op, d, now)
	if err != nil {
		return nil, nil, err
	}
	s.clk.signed(ctx, now)
	ans := s.answered(a, http.StatusCreated, l)
	if d.Reason == engine.ReasonReissue {
		return ans, nil, s.heal(ctx, a, ans)
	}
	return ans, nil, nil
}

// heal adds to a reissue's answer the stored bytes of every license of the
// appliance's chain (neither superseded nor released) the LRF does not list
// as installed, the answer's own aside (DESIGN.md, "Issuing", case 3): an
// appliance that asks again because an older license file was damaged or
// lost gets it back as it was issued, and no license is minted for it.
func (s *Server) heal(ctx context.Context, a *activation, ans *answer) error {
	out := ans.body.(*activationAnswer)
	lics, err := s.store.ApplianceLicenses(ctx, a.contract.ID, a.req.Appliance)
	if err != nil {
		return err
	}
	for _, l := range lics {
		// Only licenses sealed to the LRF's recipient: an appliance with a
		// new age identity cannot open the others.
		if l.ID != out.ID && l.SupersededBy == "" && l.Released == nil && len(l.Sealed) > 0 && !slices.Contains(a.req.Installed, l.ID) &&
			(l.Recipient == "" || l.Recipient == a.req.Recipient) {
			out.Licenses = append(out.Licenses, chainLicense{ID: l.ID, License: string(l.Sealed)})
		}
	}
	return nil
}

// answered logs an activation's license and answers it.
func (s *Server) answered(a *activation, status int, l *store.License) *answer {
	s.log.Info("activation", "contract", a.contract.ID, "appliance", a.req.Appliance, "license", l.ID, "reason", l.Reason, "status", status)
	ans := &activationAnswer{ID: l.ID, License: string(l.Sealed), Reason: l.Reason, From: l.From, Until: l.Until, Appliance: l.Appliance}
	if a.product != nil {
		if _, lacks := licensed(a.product, a.contract.Features); len(lacks) > 0 {
			ans.Detail = fmt.Sprintf("the license leaves out %s: the version of product %s the appliance runs (sha256 %s) does not have them; upgrade its validator to a newer product file, then make a new request",
				strings.Join(lacks, ", "), a.product.ID, a.product.SHA256)
		}
	}
	return &answer{status, ans}
}

// replay returns the license this LRF already got from the contract, if it
// got one. A replay answers before any rule: the appliance lost the answer,
// not the right to it. It is refused only when that license was released,
// or when the request now asks for another effective date.
func (s *Server) replay(ctx context.Context, a *activation, c *store.Contract) (*store.License, error) {
	idem, err := s.store.Idempotent(ctx, c.ID, a.key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	l, err := s.store.License(ctx, idem.License)
	if err != nil {
		return nil, fmt.Errorf("license %s of an idempotency record: %w", idem.License, err)
	}
	if l.Released != nil {
		return nil, problem(http.StatusConflict, "conflict", "this request was answered with license %s, released %s; make a new request with `tenure request`", l.ID, l.Released.Format(engine.TimeFormat))
	}
	if idem.Effective != a.given {
		return nil, problem(http.StatusConflict, "conflict", "this request was answered with license %s for effective date %q; send it with the same effective date, or make a new request", l.ID, idem.Effective)
	}
	return l, nil
}

// checkRules is the 422 of a request the contract's rules refuse, checked
// before any seat or identity so that a refusal says what the vendor must
// change, not what the appliance must.
func (a *activation) checkRules(c *store.Contract, now time.Time) error {
	req := a.req
	switch {
	case c.Status != "active":
		return problem(http.StatusUnprocessableEntity, "refused", "contract %s is %s; it issues no licenses until it is reinstated", c.ID, c.Status)
	case req.Product != c.Product:
		return problem(http.StatusUnprocessableEntity, "refused", "the request is for product %s, contract %s is for %s; send it to a contract for %s", req.Product, c.ID, c.Product, req.Product)
	}
	// The rules are those of the product version the appliance runs.
	p, err := a.catalog.version(c.Product, req)
	if err != nil {
		return err
	}
	a.product = p
	if _, ok := p.Tiers[c.Tier]; !ok {
		return problem(http.StatusUnprocessableEntity, "refused", "contract %s is for tier %s, which the version of product %s the appliance runs (sha256 %s) does not have; upgrade the appliance's validator to a product file with that tier", c.ID, c.Tier, p.ID, p.SHA256)
	}
	switch {
	case p.MinVersion != "" && engine.CompareVersions(req.Version, p.MinVersion) < 0:
		return problem(http.StatusUnprocessableEntity, "refused", "the appliance runs %s %s; licenses need %s or later: upgrade the software, then make a new request", p.ID, req.Version, p.MinVersion)
	case req.Created.After(now.Add(FreshnessSlack)):
		return clockAhead(req, now)
	}
	return nil
}

// checkIdentity returns the appliance's binding (nil for a new appliance)
// after the 409s of identity: the first activation pinned the device key and
// the platform, so a copied state cannot take a second seat. A released seat
// pins nothing until it is taken again. Each refusal carries its anomaly for
// the ledger, as does an LRF that still lists released licenses.
func (s *Server) checkIdentity(ctx context.Context, a *activation, c *store.Contract) (*store.Binding, error) {
	req := a.req
	b, err := s.store.Binding(ctx, c.ID, req.Appliance)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	a.entry.Anomaly = s.releasedInstalled(ctx, c.ID, req.Appliance, req.Installed)
	switch {
	case b == nil:
		return nil, nil
	case b.Released != nil:
		return b, nil
	case b.DeviceKey != req.DeviceKey:
		return nil, a.refuse("identity", anomaly(anomalyIdentity, "device key changed"),
			"appliance %s is pinned to another device key since %s; this request comes from a copy or a re-initialized appliance. Release the seat (or ask the vendor for a reallocation), then request again", req.Appliance, b.Bound.Format(engine.TimeFormat))
	}
	if m := engine.MatchPlatform(b.Platform, req.Platform, a.product.Binding.MinMatch); !m.OK() {
		return nil, a.refuse("identity", anomaly(anomalyIdentity, "platform changed: %s", m),
			"appliance %s was pinned to another platform (%s); a state copied to another machine needs a release of the old seat, or a reallocation by the vendor", req.Appliance, m)
	}
	return b, nil
}

// checkHistory judges the request's history against what the issuer has seen
// of the appliance's, after the identity (only a document signed by the
// pinned key from the pinned platform may move it) and before the sequence,
// so that a state put back is recognised as one, not as a sequence
// regression. Its verdict holds the history to write with the license: a
// stale request is 409 (a replay of it was answered before), a fork that
// abandons an accepted release 409 with its anomaly, a restore is accepted
// with its anomaly.
func (s *Server) checkHistory(ctx context.Context, a *activation) (*verdict, error) {
	req := a.req
	v, err := s.judgeHistory(ctx, req.Appliance, req.DeviceKey, req.History)
	if err != nil {
		return nil, err
	}
	switch v.standing {
	case stale:
		return nil, problem(http.StatusConflict, "stale",
			"this request shows appliance %s's history at entry %d, which an earlier document already showed: it was made before the last request the issuer accepted from it (entry %d). Make a new request with `tenure request` and send that one",
			req.Appliance, req.History.Head.N, v.was.Baseline.N)
	case forked:
		e := v.forkRefusal(req.Appliance, req.History)
		e.Anomaly = join(a.entry.Anomaly, e.Anomaly)
		return nil, e
	case restore:
		a.entry.Anomaly = join(a.entry.Anomaly, v.restoreAnomaly(req.History))
	}
	return &v, nil
}

// checkSequence is the 409 of a request that is not newer than the last one
// accepted from the appliance on this contract (the receipt's, after a
// release), so a restored state cannot replay an old request.
func (a *activation) checkSequence(b *store.Binding) error {
	req := a.req
	switch {
	case b == nil:
		return nil
	case b.Released != nil:
		if req.Sequence <= b.ReleasedSequence {
			return a.refuse("sequence", anomaly(anomalySequence, "request from before the release: sequence %d, released at %d", req.Sequence, b.ReleasedSequence),
				"appliance %s released its seat at sequence %d; this request (sequence %d) is older. Make a new request with `tenure request`", req.Appliance, b.ReleasedSequence, req.Sequence)
		}
	case req.Sequence <= b.Sequence:
		return a.refuse("sequence", anomaly(anomalySequence, "sequence %d after %d", req.Sequence, b.Sequence),
			"the request's sequence %d is not above %d, the last one accepted from appliance %s; make a new request with `tenure request`", req.Sequence, b.Sequence, req.Appliance)
	}
	return nil
}

// refuse is a 409 whose ledger row records found (an [anomaly]), beside the
// ones already seen.
func (a *activation) refuse(slug, found, format string, args ...any) error {
	e := problem(http.StatusConflict, slug, format, args...)
	e.Anomaly = join(a.entry.Anomaly, found)
	return e
}

// decide applies the effective-date rules ([engine.Decide], 422) to what the
// appliance holds: a bound appliance's current licenses and the revisions
// they have not received; a new one, the first freed seat's coverage, so a
// reallocation never extends what the freed binding had. It returns the
// writes to make so far, and 409 when the activation needs a seat and none
// is free.
func (s *Server) decide(ctx context.Context, a *activation, c *store.Contract, b *store.Binding, now time.Time) (*store.Issue, *engine.Decision, error) {
	revs, err := s.store.Revisions(ctx, c.ID)
	if err != nil {
		return nil, nil, err
	}
	if len(revs) == 0 {
		return nil, nil, fmt.Errorf("contract %s has no revision", c.ID)
	}
	bound := b != nil && b.Released == nil
	act := engine.Activation{At: now, Order: c.Ordered, Effective: a.effective, FirstUse: a.req.FirstUse}
	op := &store.Issue{Seat: !bound}
	if b != nil {
		op.Sequence = b.Sequence
	}
	received := 0 // the revisions up to it are in what the appliance holds
	if bound {
		lics, err := s.store.ApplianceLicenses(ctx, c.ID, a.req.Appliance)
		if err != nil {
			return nil, nil, err
		}
		for _, l := range lics {
			if l.SupersededBy == "" && l.Released == nil {
				act.Chain = append(act.Chain, &engine.License{ID: l.ID, From: l.From, Until: l.Until, Revision: l.Revision})
				received = max(received, l.Revision)
			}
		}
	} else {
		freed, err := s.store.FreedSeats(ctx, c.ID)
		if err != nil {
			return nil, nil, err
		}
		if len(freed) > 0 {
			// Freed seats go first, with their coverage; the revisions
			// folded into its until are not counted again.
			f := freed[pickFreed(a, len(freed))]
			op.Freed, act.Freed = f.ID, &f.Until
			received = f.Revision
		}
	}
	for _, r := range revs {
		if r.Number > received {
			act.New = append(act.New, r.Engine())
		}
	}
	d, err := engine.Decide(act)
	if errors.Is(err, engine.ErrRenewFirst) {
		return nil, nil, problem(http.StatusUnprocessableEntity, "renew-first", "renew first: %v", err)
	}
	if err != nil {
		return nil, nil, problem(http.StatusUnprocessableEntity, "refused", "%v", err)
	}
	if op.Seat && c.Used >= c.Appliances {
		return nil, nil, noSeat(c)
	}
	return op, &d, nil
}

// commit signs the decided license, seals it to the request's recipient and
// stores it with the binding, the idempotency record, the ledger row and the
// appliance's history, in one atomic write: the license is issued only if
// the seat is still there, and the history moves only if it is issued. The
// license carries the request's history head, only when the request carried
// one (validators from before the history refuse a field they do not know).
func (s *Server) commit(ctx context.Context, a *activation, c *store.Contract, b *store.Binding, op *store.Issue, d *engine.Decision, now time.Time) (*store.License, error) {
	req, p := a.req, a.product
	// A license carries the features the version the appliance runs has.
	features, _ := licensed(p, c.Features)
	platform := pinnedPlatform(b, req.Platform)
	l := &engine.License{
		ID: s.randomIDs(), Contract: c.ID, Revision: c.Revision, Customer: c.Customer, Product: c.Product,
		Tier: c.Tier, Kind: c.Kind, Appliance: req.Appliance, Platform: platform,
		DeviceKeyHash: engine.KeyHash(req.DeviceKey), Features: features, Limits: c.Limits,
		From: d.From, Until: d.Until, GraceDays: p.GracePeriodDays(), MinVersion: p.MinVersion,
		Reason: d.Reason, Supersedes: d.Supersedes, Issued: now, Head: req.History.LicenseHead(),
	}
	signed, err := engine.SignLicense(l, s.signers...)
	if err != nil {
		return nil, fmt.Errorf("failed to sign license %s: %w", l.ID, err)
	}
	sealed, err := engine.Seal(signed, req.Recipient)
	if err != nil {
		return nil, problem(http.StatusBadRequest, "malformed", "cannot seal the license to the request's recipient: %v", err)
	}
	op.License = store.License{ID: l.ID, Contract: c.ID, Appliance: req.Appliance, Revision: l.Revision, Reason: d.Reason,
		From: d.From, Until: d.Until, Issued: now, Supersedes: d.Supersedes, Recipient: req.Recipient, Platform: platform,
		Head: l.Head, Signed: signed, Sealed: sealed}
	op.Binding = store.Binding{Contract: c.ID, Appliance: req.Appliance, DeviceKey: req.DeviceKey, Platform: req.Platform, Bound: now, Sequence: req.Sequence}
	if !op.Seat {
		// A bound appliance keeps its seat and device key; its platform is
		// re-pinned to the components of the license it now gets (a
		// reissue from a changed machine, DESIGN.md "Issuing" case 3), so
		// that the next request is matched against what it last licensed.
		op.Binding = *b
		op.Binding.Sequence, op.Binding.Platform = req.Sequence, platform
	}
	op.Idempotency = store.Idempotency{Contract: c.ID, Key: a.key, License: l.ID, Appliance: req.Appliance, Effective: a.given}
	op.Entry = a.entry
	op.Entry.Status, op.Entry.License, op.Entry.Reason = http.StatusCreated, l.ID, d.Reason
	err = s.store.Issue(ctx, op)
	var full *store.NoSeatError
	if errors.As(err, &full) {
		// The count as the write found it, not as this request read it.
		at := *c
		at.Used, at.Appliances = full.Used, full.Appliances
		return nil, noSeat(&at)
	}
	if err != nil {
		return nil, err
	}
	s.noteAnomalies(ctx, &op.Entry)
	return &op.License, nil
}

// releasedInstalled names the released licenses of a contract an LRF still
// lists as installed: a restored old state, or a release that was not one.
// Only the appliance's own licenses count: an LRF naming another
// appliance's (any caller can make up an appliance id) proves nothing, and
// must not be a way to fill the anomalies.
func (s *Server) releasedInstalled(ctx context.Context, contract, appliance string, installed []string) string {
	var found []string
	for _, id := range installed {
		l, err := s.store.License(ctx, id)
		if err == nil && l.Contract == contract && l.Appliance == appliance && l.Released != nil {
			found = append(found, id)
		}
	}
	if len(found) == 0 {
		return ""
	}
	slices.Sort(found)
	return anomaly(anomalyReleased, "%s", strings.Join(found, ", "))
}

func noSeat(c *store.Contract) error {
	return problem(http.StatusConflict, "no-seat", "contract %s has no free seat (%d of %d taken); release an appliance's licenses with `tenure release`, or raise the contract's appliances", c.ID, c.Used, c.Appliances)
}

// pinnedPlatform is the platform a license for an appliance bound as b
// carries, and b is re-pinned to: the request's components, and the pinned
// ones of every class the request lacks (DMI unreadable without root, no
// NIC in a private network namespace). Re-pinning to the request alone
// would let a run with fewer classes shrink the binding, until a clone
// matches it.
func pinnedPlatform(b *store.Binding, current engine.Components) engine.Components {
	if b == nil || b.Released != nil {
		return current
	}
	has := map[string]bool{}
	for name := range current {
		has[engine.ComponentClass(name)] = true
	}
	out := current
	for name, h := range b.Platform {
		// A license carries at most 32 components.
		if has[engine.ComponentClass(name)] || len(out) >= 32 {
			continue
		}
		if len(out) == len(current) {
			out = maps.Clone(current)
		}
		out[name] = h
	}
	return out
}
