package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/tenurehq/tenure/issuer/internal/store"
	"github.com/tenurehq/tenure/shared/engine"
)

// head is entry n of a made-up history named by seed.
func head(seed string, n uint64) engine.Head {
	h := sha256.Sum256(fmt.Appendf(nil, "%s/%d", seed, n))
	return engine.Head{N: n, Hash: hex.EncodeToString(h[:])}
}

// history is an appliance's history that has seen entries 1 to n, with a
// release of IC-1 at entry n.
func history(appliance string, n uint64) *store.History {
	h := &store.History{Appliance: appliance, DeviceKey: appliance + "+00000000+key", Branch: 1, Branches: 1,
		Seen: []store.SeenHead{}, Releases: []store.ReleaseHead{{Contract: "IC-1", Head: head(appliance, n), Branch: 1}}}
	for i := uint64(1); i <= n; i++ {
		h.Seen = append(h.Seen, store.SeenHead{Head: head(appliance, i), Branch: 1})
	}
	b := head(appliance, n)
	h.Baseline = &b
	return h
}

func readHistory(t *testing.T, s store.Store, appliance string) *store.History {
	t.Helper()
	h, err := s.History(ctx, appliance)
	must(t, "History", err)
	return h
}

func sameHistory(t *testing.T, what string, got, want *store.History) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// testHistory: a history round-trips, is written only at the version it
// was read at, with its ledger row or not at all, and is bounded.
func testHistory(t *testing.T, s store.Store) {
	_, err := s.History(ctx, "A-aaaaaa")
	wantErr(t, "History of an unknown appliance", err, store.ErrNotFound)

	h := history("A-aaaaaa", 3)
	must(t, "PutHistory", s.PutHistory(ctx, h, nil))
	if h.Version != 1 {
		t.Fatalf("PutHistory set version %d, want 1", h.Version)
	}
	sameHistory(t, "History after PutHistory", readHistory(t, s, "A-aaaaaa"), h)
	if _, err := s.History(ctx, "A-aaaaa"); err == nil {
		t.Fatal("History of a prefix of an appliance id found its history")
	}

	// A writer that read no history, or an older version, loses.
	create(t, s, "IC-1", 1)
	lost := history("A-aaaaaa", 5)
	e := &store.Entry{At: t0, Contract: "IC-1", Actor: "admin", Action: "reallocation", Outcome: store.Accepted, Status: 200, Appliance: "A-aaaaaa"}
	wantErr(t, "PutHistory of a history read before any was stored", s.PutHistory(ctx, lost, e), store.ErrConflict)
	lost.Version = 2
	wantErr(t, "PutHistory at a version not yet stored", s.PutHistory(ctx, lost, e), store.ErrConflict)
	sameHistory(t, "History after refused writes", readHistory(t, s, "A-aaaaaa"), h)
	if l := ledger(t, s, "IC-1"); len(l) != 1 {
		t.Fatalf("refused PutHistory wrote ledger rows: %+v", l)
	}

	next := history("A-aaaaaa", 5)
	next.Version = 1
	must(t, "PutHistory at the version read", s.PutHistory(ctx, next, e))
	if next.Version != 2 {
		t.Fatalf("PutHistory set version %d, want 2", next.Version)
	}
	sameHistory(t, "History after the second write", readHistory(t, s, "A-aaaaaa"), next)
	if l := ledger(t, s, "IC-1"); len(l) != 2 || l[1].ID != e.ID || l[1].Action != "reallocation" {
		t.Fatalf("PutHistory's ledger row: %+v (ID %q)", l, e.ID)
	}
	h.Version = 1
	wantErr(t, "PutHistory at a version overwritten meanwhile", s.PutHistory(ctx, h, nil), store.ErrConflict)

	// Bounds: the newest MaxSeen seen and MaxReleases release heads, in
	// order of N, once each; the baseline and branches as written.
	big := &store.History{Appliance: "A-bbbbbb", DeviceKey: "A-bbbbbb+00000000+key", Branch: 3, Branches: 4}
	for i := range uint64(store.MaxSeen + 100) {
		hd := head("b", i+1)
		big.Seen = append(big.Seen, store.SeenHead{Head: hd, Branch: i % 4})
		if i%3 == 0 {
			big.Releases = append(big.Releases, store.ReleaseHead{Contract: fmt.Sprintf("IC-%d", i%7), Head: hd, Branch: i % 4})
		}
	}
	wantReleases := slices.Clone(big.Releases[len(big.Releases)-store.MaxReleases:])
	big.Seen = append(big.Seen, big.Seen[len(big.Seen)-1]) // a repeat
	rand.Shuffle(len(big.Seen), func(i, j int) { big.Seen[i], big.Seen[j] = big.Seen[j], big.Seen[i] })
	rand.Shuffle(len(big.Releases), func(i, j int) { big.Releases[i], big.Releases[j] = big.Releases[j], big.Releases[i] })
	top := head("b", store.MaxSeen+100)
	big.Baseline = &top
	must(t, "PutHistory of an unbounded history", s.PutHistory(ctx, big, nil))
	got := readHistory(t, s, "A-bbbbbb")
	if len(got.Seen) != store.MaxSeen || len(got.Releases) != store.MaxReleases {
		t.Fatalf("bounded history keeps %d seen and %d release heads, want %d and %d", len(got.Seen), len(got.Releases), store.MaxSeen, store.MaxReleases)
	}
	for i, sh := range got.Seen {
		if want := uint64(101 + i); sh.N != want || sh.Head != head("b", want) || sh.Branch != (want-1)%4 {
			t.Fatalf("seen head %d is %+v, want entry %d on branch %d", i, sh, want, (want-1)%4)
		}
	}
	if !reflect.DeepEqual(got.Releases, wantReleases) {
		t.Fatalf("bounded release heads from %+v to %+v, want %+v to %+v", got.Releases[0], got.Releases[len(got.Releases)-1], wantReleases[0], wantReleases[len(wantReleases)-1])
	}
	if *got.Baseline != top || got.Branch != 3 || got.Branches != 4 || got.Version != 1 {
		t.Fatalf("bounded history = baseline %+v, branch %d of %d, version %d", got.Baseline, got.Branch, got.Branches, got.Version)
	}
	if h := readHistory(t, s, "A-aaaaaa"); len(h.Seen) != 5 {
		t.Fatalf("another appliance's write changed A-aaaaaa's history: %+v", h)
	}
}

// testHistoryWrites: Issue and Free write the history they carry in the
// same atomic write, only at the version it was read at.
func testHistoryWrites(t *testing.T, s store.Store) {
	create(t, s, "IC-1", 1)
	op := issue("IC-1", "A-aaaaaa", "L-aaaaaa1", 1, 0, true)
	op.History = history("A-aaaaaa", 2)
	op.History.Releases = []store.ReleaseHead{}
	must(t, "Issue with a history", s.Issue(ctx, op))
	if op.History.Version != 1 {
		t.Fatalf("Issue set the history's version %d, want 1", op.History.Version)
	}
	sameHistory(t, "History after Issue", readHistory(t, s, "A-aaaaaa"), op.History)

	// An activation decided from an older history is refused whole.
	lost := issue("IC-1", "A-aaaaaa", "L-aaaaaa2", 2, 1, false)
	lost.History = history("A-aaaaaa", 4)
	wantErr(t, "Issue with a history read before any was stored", s.Issue(ctx, lost), store.ErrConflict)
	if _, err := s.License(ctx, "L-aaaaaa2"); err == nil {
		t.Fatal("an Issue refused for its history stored its license")
	}
	if b, _ := s.Binding(ctx, "IC-1", "A-aaaaaa"); b.Sequence != 1 {
		t.Fatalf("an Issue refused for its history moved the binding to sequence %d", b.Sequence)
	}
	if l := ledger(t, s, "IC-1"); len(l) != 2 {
		t.Fatalf("an Issue refused for its history wrote a ledger row: %+v", l)
	}
	sameHistory(t, "History after a refused Issue", readHistory(t, s, "A-aaaaaa"), op.History)
	lost.History.Version = 1
	must(t, "Issue at the history's version", s.Issue(ctx, lost))
	if h := readHistory(t, s, "A-aaaaaa"); h.Version != 2 || h.Baseline.N != 4 {
		t.Fatalf("History after the second Issue: %+v", h)
	}
	// An Issue without a history leaves it as it is.
	must(t, "Issue without a history", s.Issue(ctx, issue("IC-1", "A-aaaaaa", "L-aaaaaa3", 3, 2, false)))
	if h := readHistory(t, s, "A-aaaaaa"); h.Version != 2 {
		t.Fatalf("an Issue without a history changed it to version %d", h.Version)
	}

	free := &store.Free{Contract: "IC-1", Appliance: "A-aaaaaa", At: t0, Sequence: 4, Receipt: "receipt-hash",
		Licenses: []string{"L-aaaaaa1", "L-aaaaaa2", "L-aaaaaa3"}, Until: op.License.Until, Revision: 1,
		Entry: store.Entry{At: t0, Contract: "IC-1", Actor: "contract", Action: "release", Outcome: store.Accepted, Status: 200}, History: history("A-aaaaaa", 5)}
	free.History.Version = 1
	wantErr(t, "Free with a history overwritten meanwhile", s.Free(ctx, free), store.ErrConflict)
	if b, _ := s.Binding(ctx, "IC-1", "A-aaaaaa"); b.Released != nil {
		t.Fatal("a Free refused for its history released the seat")
	}
	if l, _ := s.License(ctx, "L-aaaaaa1"); l.Released != nil {
		t.Fatal("a Free refused for its history released a license")
	}
	free.History.Version = 2
	must(t, "Free at the history's version", s.Free(ctx, free))
	if free.History.Version != 3 {
		t.Fatalf("Free set the history's version %d, want 3", free.History.Version)
	}
	sameHistory(t, "History after Free", readHistory(t, s, "A-aaaaaa"), free.History)
	if b, _ := s.Binding(ctx, "IC-1", "A-aaaaaa"); b.Released == nil {
		t.Fatal("Free with a history did not release the seat")
	}
}
