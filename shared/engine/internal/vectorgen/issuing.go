package main

import "github.com/tenurehq/tenure/schema"

func edgeProduct() []byte { return schema.EdgeProduct }

// issuing writes the vectors of the effective-date rules. Contract IC-1042 was
// ordered on 2026-01-05 for 12 months; where a chain exists, its license runs
// [2026-01-05, 2027-01-05), so E is 2027-01-05.
func (g *gen) issuing() {
	const chain = "L-000001 2026-01-05..2027-01-05"
	is := func(name, about string, expect string, keys ...kv) {
		hdr := append([]kv{{"vector", "issuing"}, {"order", "2026-01-05"}}, keys...)
		g.write("issue-"+name, about, hdr, expect)
	}
	window := func(reason, from, until string) string {
		return `{"reason":"` + reason + `","from":"` + from + `T00:00:00Z","until":"` + until + `T00:00:00Z"}`
	}

	// Initial.
	is("initial", "A first activation with neither an effective date nor a first use: from the activation date, floored.",
		window("initial", "2026-01-20", "2027-01-20"), kv{"at", "2026-01-20T14:30:00Z"}, kv{"new", "order/12"})
	is("initial-effective", "A first activation with an effective date chosen by the customer.",
		window("initial", "2026-02-01", "2027-02-01"), kv{"at", "2026-01-20T14:30:00Z"}, kv{"new", "order/12"}, kv{"effective", "2026-02-01"})
	is("initial-first-use-earlier", "First use before the effective date: the earlier of the two, floored to its date.",
		window("initial", "2026-01-10", "2027-01-10"), kv{"at", "2026-01-20T14:30:00Z"}, kv{"new", "order/12"},
		kv{"effective", "2026-02-01"}, kv{"first-use", "2026-01-10T13:00:00Z"})
	is("initial-first-use", "First use alone: the license starts the day the function was first switched on.",
		window("initial", "2026-01-10", "2027-01-10"), kv{"at", "2026-01-20T14:30:00Z"}, kv{"new", "order/12"}, kv{"first-use", "2026-01-10T13:00:00Z"})
	is("initial-first-use-before-order", "A first use before the order (a trial used in earnest) counts from the order date.",
		window("initial", "2026-01-05", "2027-01-05"), kv{"at", "2026-01-20T14:30:00Z"}, kv{"new", "order/12"}, kv{"first-use", "2025-12-01T10:00:00Z"})
	is("initial-first-use-ahead", "A first use the appliance dates after the activation is capped at the activation date.",
		window("initial", "2026-01-20", "2027-01-20"), kv{"at", "2026-01-20T14:30:00Z"}, kv{"new", "order/12"}, kv{"first-use", "2026-03-01T10:00:00Z"})
	is("initial-effective-before-order", "An effective date before the contract's order date is refused.",
		"error: effective date 2026-01-01 is before the order date 2026-01-05", kv{"at", "2026-01-20T14:30:00Z"}, kv{"new", "order/12"}, kv{"effective", "2026-01-01"})
	is("initial-effective-year-ahead", "An effective date exactly a year ahead is accepted.",
		window("initial", "2027-01-20", "2028-01-20"), kv{"at", "2026-01-20T14:30:00Z"}, kv{"new", "order/12"}, kv{"effective", "2027-01-20"})
	is("initial-effective-too-far", "An effective date more than a year ahead is refused.",
		"error: effective date 2027-01-21 is more than a year ahead", kv{"at", "2026-01-20T14:30:00Z"}, kv{"new", "order/12"}, kv{"effective", "2027-01-21"})
	is("initial-month-end", "Adding months clamps to the month's end: Jan 31 + 1 month is Feb 28.",
		window("initial", "2026-01-31", "2026-02-28"), kv{"at", "2026-01-31T18:00:00Z"}, kv{"new", "order/1"})
	is("initial-leap-year", "Jan 31 + 1 month in a leap year is Feb 29.",
		window("initial", "2028-01-31", "2028-02-29"), kv{"at", "2028-01-31T18:00:00Z"}, kv{"new", "order/1"})
	is("initial-with-renewal", "A renewal ordered before the first activation buys a second term.",
		window("initial", "2026-01-20", "2028-01-20"), kv{"at", "2026-01-20T14:30:00Z"}, kv{"new", "order/12, renewal/12"})

	is("initial-with-longer-renewal", "Each renewal buys its own term: ordered for 12 months and renewed for 24 before the first activation is 36 months.",
		window("initial", "2026-01-20", "2029-01-20"), kv{"at", "2026-01-20T14:30:00Z"}, kv{"new", "order/12, renewal/24"})
	is("initial-corrected-term", "A correction of the term before the first activation changes what the order buys; the renewal adds its own.",
		window("initial", "2026-01-20", "2028-07-20"), kv{"at", "2026-01-20T14:30:00Z"}, kv{"new", "order/12, correction/18, renewal/12"})

	// Renewal: from E, early, on time or late.
	for _, c := range []struct{ name, about, at string }{
		{"renewal-early", "A renewal activated before the end date runs from the end date E.", "2026-11-20T09:00:00Z"},
		{"renewal-on-time", "A renewal activated on the end date runs from E.", "2027-01-05T10:00:00Z"},
		{"renewal-late", "A renewal activated in grace runs from E, so it covers the grace period from its start.", "2027-02-10T09:00:00Z"},
	} {
		is(c.name, c.about, window("renewal", "2027-01-05", "2028-01-05"), kv{"at", c.at}, kv{"chain", chain}, kv{"new", "renewal/12"})
	}
	is("renewal-with-prolongation", "A renewal and a prolongation folded into one license: E + term + extend months, reason renewal.",
		window("renewal", "2027-01-05", "2028-04-05"), kv{"at", "2026-11-20T09:00:00Z"}, kv{"chain", chain}, kv{"new", "renewal/12, prolongation/12+3"})
	is("renewal-with-upgrade", "A renewal and an upgrade folded into one license are dated as the renewal.",
		window("renewal", "2027-01-05", "2028-01-05"), kv{"at", "2026-11-20T09:00:00Z"}, kv{"chain", chain}, kv{"new", "upgrade/12, renewal/12"})
	is("renewal-differing-terms", "Two renewals of 12 and 36 months folded into one license: E + 48 months.",
		window("renewal", "2027-01-05", "2031-01-05"), kv{"at", "2026-11-20T09:00:00Z"}, kv{"chain", chain}, kv{"new", "renewal/12, renewal/36"})
	is("renewal-two-licenses-chain", "E is the latest until of the chain.",
		window("renewal", "2027-01-05", "2028-01-05"), kv{"at", "2026-11-20T09:00:00Z"},
		kv{"chain", "L-000001 2026-01-05..2027-01-05, L-000002 2026-06-15..2027-01-05"}, kv{"new", "renewal/12"})

	// Upgrade, prolongation, downgrade.
	is("upgrade", "An upgrade runs from the activation date to E.",
		window("upgrade", "2026-06-15", "2027-01-05"), kv{"at", "2026-06-15T11:00:00Z"}, kv{"chain", chain}, kv{"new", "upgrade/12"})
	is("prolongation", "A prolongation runs from the activation date to E + its months.",
		window("prolongation", "2026-06-15", "2027-04-05"), kv{"at", "2026-06-15T11:00:00Z"}, kv{"chain", chain}, kv{"new", "prolongation/12+3"})
	is("downgrade", "A downgrade runs from the activation date to E and supersedes the chain's current licenses.",
		`{"reason":"downgrade","from":"2026-09-01T00:00:00Z","until":"2027-01-05T00:00:00Z","supersedes":["L-000001","L-000002"]}`,
		kv{"at", "2026-09-01T08:00:00Z"}, kv{"chain", "L-000001 2026-01-05..2027-01-05, L-000002 2026-06-15..2027-01-05"}, kv{"new", "downgrade/12"})
	is("upgrade-then-downgrade", "An upgrade and a later downgrade folded together are a downgrade.",
		`{"reason":"downgrade","from":"2026-09-01T00:00:00Z","until":"2027-01-05T00:00:00Z","supersedes":["L-000001"]}`,
		kv{"at", "2026-09-01T08:00:00Z"}, kv{"chain", chain}, kv{"new", "upgrade/12, downgrade/12"})
	for _, change := range []string{"upgrade", "downgrade", "prolongation"} {
		is(change+"-in-grace", "An "+change+" while the appliance is in grace is refused: renew first.",
			"error: renew first", kv{"at", "2027-02-10T09:00:00Z"}, kv{"chain", chain}, kv{"new", change + "/12+3"})
	}
	is("upgrade-on-end-date", "On the end date itself coverage has ended: an upgrade is refused.",
		"error: renew first", kv{"at", "2027-01-05T09:00:00Z"}, kv{"chain", chain}, kv{"new", "upgrade/12"})

	// Reissue and reallocation.
	is("reissue", "Nothing new since the last license: the same window again, for a lost file.",
		window("reissue", "2026-01-05", "2027-01-05"), kv{"at", "2026-03-01T09:00:00Z"}, kv{"chain", chain})
	is("reissue-correction", "A correction (a typo fixed) makes no new license case: a reissue of the same window.",
		window("reissue", "2026-01-05", "2027-01-05"), kv{"at", "2026-03-01T09:00:00Z"}, kv{"chain", chain}, kv{"new", "correction/12"})
	is("reallocation", "A seat freed by a release: from the activation date to the freed binding's until, never extended.",
		window("reallocation", "2026-06-01", "2027-01-05"), kv{"at", "2026-06-01T10:00:00Z"}, kv{"freed", "2027-01-05T00:00:00Z"},
		kv{"effective", "2026-02-01"})
	is("reallocation-after-renewal", "A freed binding that had received the renewal: its until holds the renewal already, counted once.",
		window("reallocation", "2027-03-01", "2028-01-05"), kv{"at", "2027-03-01T10:00:00Z"}, kv{"freed", "2028-01-05T00:00:00Z"})
	is("reallocation-renewal-since", "A renewal ordered after the seat was freed extends the freed coverage by its term.",
		window("reallocation", "2026-11-01", "2028-01-05"), kv{"at", "2026-11-01T10:00:00Z"}, kv{"new", "renewal/12"}, kv{"freed", "2027-01-05T00:00:00Z"})
	is("reallocation-renewals-differing-terms", "Renewals of 12 and 24 months ordered after the seat was freed extend it by 36.",
		window("reallocation", "2026-11-01", "2030-01-05"), kv{"at", "2026-11-01T10:00:00Z"}, kv{"new", "renewal/12, renewal/24"}, kv{"freed", "2027-01-05T00:00:00Z"})
	is("reallocation-expired", "A freed seat whose coverage has ended cannot be retaken without a renewal.",
		"error: renew the contract", kv{"at", "2027-02-01T10:00:00Z"}, kv{"freed", "2027-01-05T00:00:00Z"})
	is("nothing-to-license", "No revision and no chain: nothing to license.",
		"error: no revision to license", kv{"at", "2026-06-01T10:00:00Z"})
}
