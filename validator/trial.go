package validator

import (
	"time"

	"github.com/tenurehq/tenure/shared/engine"
)

// trialFor returns when this platform's trial started: the earliest trial
// in the history whose platform matches under the product's binding rule,
// so a replaced NIC keeps its trial and another machine gets its own. The
// appliance's own platform counts from the appliance's creation whatever
// else the history says.
func (a *Appliance) trialFor(s *snapshot, plat engine.Components) (time.Time, bool) {
	var start time.Time
	found := false
	if engine.MatchPlatform(s.app.Platform, plat, a.cfg.Product.Binding.MinMatch).OK() {
		start, found = s.app.Created, true
	}
	for _, tr := range s.trials {
		if engine.MatchPlatform(tr.platform, plat, a.cfg.Product.Binding.MinMatch).OK() {
			if !found || tr.started.Before(start) {
				start, found = tr.started, true
			}
		}
	}
	return start, found
}

// cachedTrial is trialFor, remembered per platform until the trial records
// change.
func (a *Appliance) cachedTrial(s *snapshot, plat engine.Components, platKey string) (time.Time, bool) {
	if s.trialKey != platKey {
		s.trial, s.trialOK = a.trialFor(s, plat)
		s.trialKey = platKey
	}
	return s.trial, s.trialOK
}
