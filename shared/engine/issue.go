package engine

import (
	"fmt"
	"slices"
	"time"
)

// Contract changes: each PUT of a contract names the revision it makes.
const (
	ChangeOrder         = "order"
	ChangeRenewal       = "renewal"
	ChangeUpgrade       = "upgrade"
	ChangeDowngrade     = "downgrade"
	ChangeProlongation  = "prolongation"
	ChangeSuspension    = "suspension"
	ChangeReinstatement = "reinstatement"
	ChangeCorrection    = "correction"
)

// A Revision is one change of a contract, as the issuer's ledger keeps it.
type Revision struct {
	Number       int    // 1 for the order, then one more for each change
	Change       string // one of the Change constants
	TermMonths   int
	ExtendMonths int // for a prolongation
}

// An Activation is what [Decide] needs to know about one request: the
// issuer's records, never the appliance's word where the issuer has its own.
type Activation struct {
	At    time.Time // when the issuer received the request
	Order time.Time // when the contract was ordered (its first revision)

	// New lists the contract's revisions the appliance has not received yet,
	// oldest first: all of them for a first activation, and those the freed
	// binding had not received when a freed seat is retaken (its until has
	// the others folded in already).
	New []Revision

	// Chain is the appliance's current licenses of this contract: not
	// superseded, not released. Empty for a first activation.
	Chain []*License

	// Freed, when a first activation retakes a seat freed by a release or a
	// reallocation, is the largest until of the freed binding.
	Freed *time.Time

	Effective *time.Time // the date the customer chose, optional
	FirstUse  *time.Time // the LRF's first use, optional
}

// A Decision is the window and case of the license to issue.
type Decision struct {
	Reason     string
	From       time.Time
	Until      time.Time
	Supersedes []string
}

// Decide applies the effective-date rules to one activation. See the package
// documentation for the table; errors wrap [ErrRenewFirst] or [ErrRefused].
func Decide(a Activation) (Decision, error) {
	day := Floor(a.At)
	if len(a.New) == 0 && len(a.Chain) == 0 && a.Freed == nil {
		return Decision{}, fmt.Errorf("%w: the contract has no revision to license", ErrRefused)
	}
	// The order buys its term (as corrected before any renewal), each
	// renewal buys its own, and a prolongation adds its months.
	term, renewed, extend := 0, 0, 0
	renewals := 0
	last := ""
	for _, r := range a.New {
		switch r.Change {
		case ChangeOrder, ChangeCorrection:
			if renewals == 0 {
				term = r.TermMonths
			}
		case ChangeRenewal:
			renewals++
			renewed += r.TermMonths
		case ChangeProlongation:
			extend += r.ExtendMonths
			last = r.Change
		case ChangeUpgrade, ChangeDowngrade:
			last = r.Change
		}
	}
	downgrade := slices.ContainsFunc(a.New, func(r Revision) bool { return r.Change == ChangeDowngrade })

	if len(a.Chain) == 0 {
		if a.Freed != nil {
			until := AddMonths(*a.Freed, renewed+extend)
			if !until.After(day) {
				return Decision{}, fmt.Errorf("%w: the freed seat's coverage ended %s; renew the contract", ErrRenewFirst, formatTime(until))
			}
			return Decision{Reason: ReasonReallocation, From: day, Until: until}, nil
		}
		from, err := initialFrom(a, day)
		if err != nil {
			return Decision{}, err
		}
		until := AddMonths(from, term+renewed+extend)
		return Decision{Reason: ReasonInitial, From: from, Until: until}, nil
	}

	var e time.Time
	latest := a.Chain[0]
	for _, l := range a.Chain {
		if l.Until.After(e) {
			e = l.Until
		}
		if l.Until.After(latest.Until) || (l.Until.Equal(latest.Until) && l.From.After(latest.From)) {
			latest = l
		}
	}
	switch {
	case renewals > 0:
		return Decision{Reason: ReasonRenewal, From: e, Until: AddMonths(e, renewed+extend)}, nil
	case last != "":
		if !day.Before(e) {
			return Decision{}, fmt.Errorf("%w: coverage ended %s and a change (%s) applies only to a running subscription; renew the contract first", ErrRenewFirst, formatTime(e), last)
		}
		d := Decision{Reason: last, From: day, Until: AddMonths(e, extend)}
		if downgrade {
			d.Reason = ReasonDowngrade
			for _, l := range a.Chain {
				if l.Until.After(day) {
					d.Supersedes = append(d.Supersedes, l.ID)
				}
			}
			slices.Sort(d.Supersedes)
		}
		return d, nil
	}
	return Decision{Reason: ReasonReissue, From: latest.From, Until: latest.Until}, nil
}

// initialFrom is the start of a first license: the earlier of the chosen
// effective date and the first use (capped at the activation date, and not
// before the order), floored to its date; the activation date if neither is
// given.
func initialFrom(a Activation, day time.Time) (time.Time, error) {
	var from time.Time
	if a.Effective != nil {
		eff := Floor(*a.Effective)
		if eff.Before(Floor(a.Order)) {
			return time.Time{}, fmt.Errorf("%w: effective date %s is before the order date %s", ErrRefused, formatDate(eff), formatDate(a.Order))
		}
		if eff.After(day.AddDate(1, 0, 0)) {
			return time.Time{}, fmt.Errorf("%w: effective date %s is more than a year ahead", ErrRefused, formatDate(eff))
		}
		from = eff
	}
	if a.FirstUse != nil {
		fu := Floor(*a.FirstUse)
		if fu.After(day) {
			fu = day
		}
		if fu.Before(Floor(a.Order)) {
			fu = Floor(a.Order)
		}
		if from.IsZero() || fu.Before(from) {
			from = fu
		}
	}
	if from.IsZero() {
		from = day
	}
	return from, nil
}
