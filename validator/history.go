package validator

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tenurehq/tenure/shared/engine"
)

// The appliance's history is an append-only, hash-chained log of events:
// everything that changes what the appliance may do (its trials, first use,
// the licenses it installed, the ones it released, restores). Evaluation
// derives released, superseded, ever-licensed and the trials from it, never
// from the presence or absence of a file, so deleting a file can hide
// nothing. Frequent facts (the high-water mark, the sequence, recent
// nonces) are not events: they live in the facts record, which names the
// head it was written with.
//
// The file is the line "tenure.history/v1", then one line per event: its
// JSON in one exact encoding, a space, and the hex HMAC-SHA-256 of that JSON
// under the state key. An event's hash is SHA-256 of the type line, a
// newline and its JSON; each event names the hash of the one before, and
// the appliance record names the first.
const historyType = "tenure.history/v1"

// maxHistory bounds the history file: years of events fit in far less,
// because frequent facts are kept apart.
const maxHistory = 1 << 20

// Event kinds.
const (
	eventInit     = "init"      // the appliance was made on a platform; its trial starts
	eventTrial    = "trial"     // a trial started on another platform
	eventFirstUse = "first-use" // the licensed function was first switched on
	eventInstall  = "install"   // a license was installed
	eventRelease  = "release"   // a contract's licenses were released
	eventRestore  = "restore"   // the state was restored from a backup
	eventMigrate  = "migrate"   // a state from before the history was read into one
	eventMark     = "mark"      // the clock passed an instant at which the mode may change
	eventClock    = "clock"     // a clock reset from the vendor brought the high-water mark to its mark
	eventReport   = "report"    // a usage report ended the period: dated at its until
)

// An event is one entry of the history.
type event struct {
	N    uint64    `json:"n"`
	Prev string    `json:"prev,omitempty"` // the hash of event N-1; empty for the first
	At   time.Time `json:"at"`
	Kind string    `json:"kind"`

	Platform engine.Components `json:"platform,omitempty"` // init, trial: the platform (hashed)
	License  *engine.License   `json:"license,omitempty"`  // install: the verified body
	SHA256   string            `json:"sha256,omitempty"`   // install: of the license file's bytes
	Release  *releaseEvent     `json:"release,omitempty"`  // release
	Restore  *restoreEvent     `json:"restore,omitempty"`  // restore
	Clock    *clockEvent       `json:"clock,omitempty"`    // clock: dated at its mark
	Report   *reportEvent      `json:"report,omitempty"`   // report
}

type releaseEvent struct {
	Contract string   `json:"contract"`
	Licenses []string `json:"licenses"`
	Sequence uint64   `json:"sequence"`
	Nonce    string   `json:"nonce"`
	// Receipt is the text of a receipt made before the history (migrated),
	// printed again as it was; a newer receipt is made again from the
	// event, byte for byte, since its signature is deterministic.
	Receipt string `json:"receipt,omitempty"`
}

type restoreEvent struct {
	Appliance string   `json:"appliance"`          // the appliance the backup was of
	Licenses  []string `json:"licenses,omitempty"` // restored from another platform: its licenses, kept on record
}

// clockEvent is a clock reset applied: which request it answered, so it
// applies once, and the mark it set.
type clockEvent struct {
	Mark     time.Time `json:"mark"`
	Nonce    string    `json:"nonce"`
	Sequence uint64    `json:"sequence"`
	Reason   string    `json:"reason"`
	SHA256   string    `json:"sha256"` // of the reset's armored bytes
}

// reportEvent is a usage report made: the period it covered ended at the
// event's time.
type reportEvent struct {
	From     time.Time `json:"from"`
	Sequence uint64    `json:"sequence"`
	Nonce    string    `json:"nonce"`
}

// history is a parsed, verified history file.
type history struct {
	events []*event
	hashes []string // hashes[i] is the hash of events[i]
}

func (h *history) head() engine.Head {
	if len(h.events) == 0 {
		return engine.Head{}
	}
	return engine.Head{N: uint64(len(h.events)), Hash: h.hashes[len(h.hashes)-1]}
}

// last returns the newest event, or nil.
func (h *history) last() *event {
	if len(h.events) == 0 {
		return nil
	}
	return h.events[len(h.events)-1]
}

func eventHash(j []byte) string {
	s := sha256.New()
	s.Write([]byte(historyType + "\n"))
	s.Write(j)
	return hex.EncodeToString(s.Sum(nil))
}

// errHistory marks a history that cannot be trusted: edited, cut, or not
// the one the appliance record names.
var errHistory = errors.New("the history is damaged")

// parseHistory reads and verifies a history file: the type line, every
// event's MAC under key, their numbers and chain, and that the first is the
// one the appliance record names (first; "" for a backup's, which only its
// chain and MACs hold together).
func parseHistory(data []byte, key []byte, first string) (*history, error) {
	if len(data) > maxHistory {
		return nil, fmt.Errorf("%w: it is over %d bytes", errHistory, maxHistory)
	}
	rest, ok := bytes.CutPrefix(data, []byte(historyType+"\n"))
	if !ok {
		return nil, fmt.Errorf("%w: it does not start with %s", errHistory, historyType)
	}
	h := &history{}
	for len(rest) > 0 {
		line, after, ok := bytes.Cut(rest, []byte("\n"))
		if !ok {
			return nil, fmt.Errorf("%w: event %d is cut short", errHistory, len(h.events)+1)
		}
		rest = after
		e, hash, err := parseEvent(line, key, uint64(len(h.events))+1)
		if err != nil {
			return nil, err
		}
		if n := len(h.hashes); n > 0 && e.Prev != h.hashes[n-1] || n == 0 && e.Prev != "" {
			return nil, fmt.Errorf("%w: event %d does not follow event %d", errHistory, e.N, e.N-1)
		}
		h.events, h.hashes = append(h.events, e), append(h.hashes, hash)
	}
	if len(h.events) == 0 {
		return nil, fmt.Errorf("%w: it holds no event", errHistory)
	}
	if first != "" && h.hashes[0] != first {
		return nil, fmt.Errorf("%w: its first event is not the one the appliance record names", errHistory)
	}
	return h, nil
}

// parseEvent reads one line of the history: the event's JSON in its one
// exact encoding and its MAC.
func parseEvent(line, key []byte, n uint64) (*event, string, error) {
	i := bytes.LastIndexByte(line, ' ')
	if i < 0 {
		return nil, "", fmt.Errorf("%w: event %d has no MAC", errHistory, n)
	}
	j, sum := line[:i], line[i+1:]
	want := mac(key, fileHistory, j)
	got, err := hex.DecodeString(string(sum))
	if err != nil || !hmac.Equal(got, want) {
		return nil, "", fmt.Errorf("%w: event %d failed its integrity check (edited by hand or damaged)", errHistory, n)
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	var e event
	if err := dec.Decode(&e); err != nil {
		return nil, "", fmt.Errorf("%w: event %d: %v", errHistory, n, err)
	}
	if again, err := json.Marshal(&e); err != nil || !bytes.Equal(again, j) {
		return nil, "", fmt.Errorf("%w: event %d is not in its one encoding", errHistory, n)
	}
	if e.N != n {
		return nil, "", fmt.Errorf("%w: event %d is numbered %d", errHistory, n, e.N)
	}
	return &e, eventHash(j), nil
}

// appendEvents returns the history file with evs appended, numbered and
// chained, and the new history. h may be empty (a new appliance).
func appendEvents(h *history, key []byte, evs ...*event) ([]byte, *history, error) {
	out := &history{events: append([]*event(nil), h.events...), hashes: append([]string(nil), h.hashes...)}
	for _, e := range evs {
		e.N = uint64(len(out.events)) + 1
		e.Prev = ""
		if n := len(out.hashes); n > 0 {
			e.Prev = out.hashes[n-1]
		}
		e.At = engine.Normalize(e.At)
		j, err := json.Marshal(e)
		if err != nil {
			return nil, nil, fmt.Errorf("failed to encode history event: %w", err)
		}
		out.events, out.hashes = append(out.events, e), append(out.hashes, eventHash(j))
	}
	data, err := out.encode(key)
	if err != nil {
		return nil, nil, err
	}
	if len(data) > maxHistory {
		return nil, nil, fmt.Errorf("the history would be over %d bytes; back up the state and ask the vendor", maxHistory)
	}
	return data, out, nil
}

// encode writes the history file.
func (h *history) encode(key []byte) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(historyType + "\n")
	for _, e := range h.events {
		j, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("failed to encode history event: %w", err)
		}
		b.Write(j)
		b.WriteByte(' ')
		b.WriteString(hex.EncodeToString(mac(key, fileHistory, j)))
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// trail is what a document made now carries of the history up to event n
// (the whole history when n is its length): the head and the entries since
// the head the newest license installed by then names.
func (h *history) trail(n int) *engine.Trail {
	var since uint64
	for _, e := range h.events[:n] {
		if e.Kind == eventInstall && e.License != nil && e.License.Head != nil && e.License.Head.N > since {
			since = e.License.Head.N
		}
	}
	return engine.NewTrail(h.hashes[:n], since)
}
