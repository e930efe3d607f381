// Package store is the issuer's memory: contracts and their revisions, seats
// (bindings of appliances to contracts), issued licenses, idempotency records,
// what the issuer has seen of each appliance's history, the audit ledger, and
// the issuer's record of its own clock.
//
// # Implementations
//
// Two implementations pass one conformance suite ([storetest.Run]): bbolt
// (package bolt, one file, the local default) and DynamoDB (production).
// Write a third against the same suite.
//
// # Atomicity
//
// Every write that changes seats is one atomic, conditional operation, so
// concurrent activations can never bind more appliances than a contract
// allows and never lose a ledger row:
//
//   - [Store.Issue] binds (or re-uses) a seat, indexes the binding under its
//     appliance (for [Store.ApplianceBindings]), stores the license, marks
//     the licenses it supersedes, stores the idempotency record and appends
//     the ledger row, or does none of it.
//   - [Store.Free] frees a seat (a release or an admin reallocation), marks the
//     appliance's licenses released and appends the ledger row.
//   - [Store.CreateContract] and [Store.UpdateContract] write the contract, its
//     revision and the ledger row together.
//   - [Store.PutHistory] writes an appliance's [History] and a ledger row.
//   - [Store.PutClock] writes the issuer's [Clock].
//   - [Store.RotateToken] forgets a contract's token, stores its new one
//     and appends the ledger row.
//   - [Store.PutReport] stores a usage [Report], makes it its appliance's
//     latest unless that one has a later until, and writes the contract's
//     [Peaks], the appliance's History and the ledger row.
//
// An appliance's History is kept across contracts, and written only if it is
// still at the version the issuer read (optimistic concurrency): by Issue,
// Free and PutReport in the same atomic write when they carry one, or by
// PutHistory. The issuer's Clock and a contract's Peaks are versioned the
// same way.
//
// A failed condition returns one of the sentinel errors below; the issuer
// maps them to HTTP status codes.
//
// # Records
//
// Records are plain structs. Issued licenses are never replaced: a later
// license supersedes or a release marks them, and their signed and sealed
// bytes stay as they were. The ledger is append-only.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tenurehq/tenure/shared/engine"
)

var (
	// ErrNotFound: no such record.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a condition on the stored records failed (the record
	// exists already, or changed since it was read). Read again and retry.
	ErrConflict = errors.New("conflict")
	// ErrNoSeat: the contract has no free seat. The store returns it as a
	// [*NoSeatError].
	ErrNoSeat = errors.New("no free seat")
)

// A NoSeatError is ErrNoSeat with the seats as the write found them, so a
// refusal quotes the count at the moment it was decided.
type NoSeatError struct {
	Contract         string
	Used, Appliances int
}

func (e *NoSeatError) Error() string {
	return fmt.Sprintf("%v: contract %s has %d of %d seats taken", ErrNoSeat, e.Contract, e.Used, e.Appliances)
}

func (e *NoSeatError) Is(target error) bool { return target == ErrNoSeat }

// Terms are a contract as the vendor's staff send it in PUT
// /v1/contracts/{id}: the whole contract every time, and the change this
// revision is.
type Terms struct {
	Customer     string           `json:"customer"`
	Product      string           `json:"product"`
	Tier         string           `json:"tier"`
	Kind         string           `json:"kind"`
	Features     []string         `json:"features"`
	Limits       map[string]int64 `json:"limits"`
	Appliances   int              `json:"appliances"`
	TermMonths   int              `json:"term_months"`
	ExtendMonths int              `json:"extend_months,omitempty"`
	Change       string           `json:"change"`
	Status       string           `json:"status"`
}

// A Contract is the issuer's record of a contract: the terms of its latest
// PUT, with the revision it made. It is the "contract" object of the HTTP
// API's answers (the terms' fields inline, as encoding/json embeds them).
type Contract struct {
	ID string `json:"id"`
	Terms
	Revision int       `json:"revision"`
	Ordered  time.Time `json:"ordered"`
	Updated  time.Time `json:"updated"`

	// Used is the number of seats taken. The store keeps it: it is ignored
	// on writes and set on reads.
	Used int `json:"appliances_used"`
}

// A Revision is one change of a contract, kept for ever.
type Revision struct {
	Contract string    `json:"contract"`
	Number   int       `json:"number"`
	At       time.Time `json:"at"`
	Record   Contract  `json:"record"` // the contract as this revision left it
}

// Engine returns the revision as the issuing rules see it.
func (r Revision) Engine() engine.Revision {
	return engine.Revision{Number: r.Number, Change: r.Record.Change, TermMonths: r.Record.TermMonths, ExtendMonths: r.Record.ExtendMonths}
}

// A Binding is an appliance's seat on a contract, with the identity the first
// activation pinned.
type Binding struct {
	Contract  string            `json:"contract"`
	Appliance string            `json:"appliance"`
	DeviceKey string            `json:"device_key"`
	Platform  engine.Components `json:"platform"`
	Bound     time.Time         `json:"bound"`
	// Sequence is the sequence of the latest accepted request.
	Sequence uint64 `json:"sequence"`

	// Released is when the seat was freed; nil while the appliance holds it.
	Released *time.Time `json:"released,omitempty"`
	// ReleasedSequence: requests at or below it are refused after a release.
	ReleasedSequence uint64 `json:"released_sequence,omitempty"`
	// Receipt is the SHA-256 (hex) of the receipt that freed the seat, and
	// ReleasedLicenses the licenses it released, so a replayed receipt gets
	// the same answer.
	Receipt          string   `json:"receipt,omitempty"`
	ReleasedLicenses []string `json:"released_licenses,omitempty"`
}

// A FreedSeat is a seat freed by a release or a reallocation. The next new
// appliance retakes it before any never-used seat, with its coverage.
type FreedSeat struct {
	ID        string    `json:"id"`
	Contract  string    `json:"contract"`
	Appliance string    `json:"appliance"` // who held it
	Freed     time.Time `json:"freed"`
	Until     time.Time `json:"until"`    // the largest until of the freed binding
	Revision  int       `json:"revision"` // the latest revision the freed binding received
	Retaken   string    `json:"retaken,omitempty"`
}

// A License is an issued license: the signed note and the sealed file, as
// they were handed out, and what the issuer needs to decide the next one.
type License struct {
	ID         string    `json:"id"`
	Contract   string    `json:"contract"`
	Appliance  string    `json:"appliance"`
	Revision   int       `json:"revision"`
	Reason     string    `json:"reason"`
	From       time.Time `json:"from"`
	Until      time.Time `json:"until"`
	Issued     time.Time `json:"issued"`
	Supersedes []string  `json:"supersedes,omitempty"`
	// Recipient, Platform and Head are the age recipient the license is
	// sealed to, the platform it binds and the history head it carries, so
	// a reissue to the same ones returns it rather than mint another; empty
	// in licenses stored before they were kept, which a reissue never
	// returns.
	Recipient    string            `json:"recipient,omitempty"`
	Platform     engine.Components `json:"platform,omitempty"`
	Head         *engine.Head      `json:"head,omitempty"` // the history head the license carries
	Signed       []byte            `json:"signed"`
	Sealed       []byte            `json:"sealed"`
	SupersededBy string            `json:"superseded_by,omitempty"`
	Released     *time.Time        `json:"released,omitempty"`
}

// An Idempotency record remembers which license an LRF got from a contract.
type Idempotency struct {
	Contract  string `json:"contract"`
	Key       string `json:"key"` // SHA-256 of the signed LRF, hex
	License   string `json:"license"`
	Appliance string `json:"appliance"`
	Effective string `json:"effective,omitempty"` // the date asked for, as given
}

// Outcomes of a ledger entry.
const (
	Accepted = "accepted"
	Refused  = "refused"
)

// An Entry is one row of the audit ledger: who did what, when, why, and the
// outcome. Every decision is recorded, accepted or refused.
type Entry struct {
	ID        string    `json:"id"` // set by the store; entries list in ID order
	At        time.Time `json:"at"`
	Contract  string    `json:"contract"`
	Actor     string    `json:"actor"`  // "admin" or "contract"
	Action    string    `json:"action"` // a contract change, "activation", "release", "reallocation", "clock-reset", "report"
	Outcome   string    `json:"outcome"`
	Status    int       `json:"status"`
	Appliance string    `json:"appliance,omitempty"`
	License   string    `json:"license,omitempty"`
	Request   string    `json:"request,omitempty"` // SHA-256 of the LRF or receipt
	Reason    string    `json:"reason,omitempty"`  // the case, the refusal or the admin's reason
	Anomaly   string    `json:"anomaly,omitempty"` // an identity anomaly seen on the way
}

// Issue is one activation's writes, applied atomically by [Store.Issue].
type Issue struct {
	License License
	// Binding is the appliance's binding after the activation.
	Binding Binding
	// Seat is true when the activation takes a seat: the binding is new or
	// was released. The store checks the contract has a free seat.
	Seat bool
	// Sequence is the binding's sequence as the issuer read it (0 for a new
	// binding); the store refuses the write if it changed meanwhile.
	Sequence uint64
	// Freed is the id of the freed seat this activation retakes, if any.
	Freed       string
	Idempotency Idempotency
	Entry       Entry
	// History, when set, is the appliance's history after the activation,
	// written (bounded) if the stored one is still at History.Version,
	// which is then set one higher.
	History *History
	// Reissue: the activation answers with License, a license of the
	// binding already stored (a reissue returns it rather than mint
	// another). The store writes neither the license nor its indexes, and
	// takes no seat; it checks the license exists (ErrConflict otherwise)
	// and writes the rest as for a new license.
	Reissue bool
}

// Free is one release or reallocation's writes, applied atomically by
// [Store.Free].
type Free struct {
	Contract  string
	Appliance string
	At        time.Time
	// Sequence: the appliance's requests at or below it are refused from now.
	Sequence uint64
	Receipt  string   // SHA-256 of the receipt, empty for a reallocation
	Licenses []string // licenses to mark released
	Until    time.Time
	Revision int
	Entry    Entry
	// History, when set, is the appliance's history after the release,
	// written (bounded) if the stored one is still at History.Version,
	// which is then set one higher.
	History *History
}

// Seat is the freed seat a Free leaves, numbered seq by the store: its id
// is "appliance@seq".
func (f *Free) Seat(seq uint64) FreedSeat {
	return FreedSeat{ID: fmt.Sprintf("%s@%d", f.Appliance, seq), Contract: f.Contract, Appliance: f.Appliance,
		Freed: f.At, Until: f.Until, Revision: f.Revision}
}

// A Store keeps the issuer's records. Every method is safe for concurrent use.
type Store interface {
	// CreateContract stores a new contract (Revision 1), its token hash and
	// its first revision. ErrConflict if the id exists.
	CreateContract(ctx context.Context, c *Contract, tokenHash string, rev *Revision, e *Entry) error
	// UpdateContract stores a new revision of a contract. ErrNotFound if it
	// does not exist; ErrConflict if its stored revision is not
	// c.Revision-1 (a concurrent change).
	UpdateContract(ctx context.Context, c *Contract, rev *Revision, e *Entry) error
	// Contract returns a contract with its seats used. ErrNotFound.
	Contract(ctx context.Context, id string) (*Contract, error)
	// Revisions returns every revision of a contract, oldest first.
	Revisions(ctx context.Context, id string) ([]Revision, error)
	// TokenContract returns the id of the contract whose token hashes to
	// tokenHash. ErrNotFound.
	TokenContract(ctx context.Context, tokenHash string) (string, error)

	// Binding returns an appliance's binding to a contract. ErrNotFound.
	Binding(ctx context.Context, contract, appliance string) (*Binding, error)
	// Bindings returns every binding of a contract, ordered by appliance.
	Bindings(ctx context.Context, contract string) ([]Binding, error)
	// ApplianceBindings returns every binding of an appliance across
	// contracts, held or released, ordered by contract: where a clock reset
	// must check the pinned key and write its ledger rows.
	ApplianceBindings(ctx context.Context, appliance string) ([]Binding, error)
	// FreedSeats returns a contract's freed seats not yet retaken, oldest
	// first.
	FreedSeats(ctx context.Context, contract string) ([]FreedSeat, error)

	// License returns a license by id. ErrNotFound.
	License(ctx context.Context, id string) (*License, error)
	// ApplianceLicenses returns every license of a contract for one
	// appliance, in the order they were issued.
	ApplianceLicenses(ctx context.Context, contract, appliance string) ([]License, error)
	// Licenses returns up to limit licenses of a contract in the order they
	// were issued, starting after cursor ("" for the first page), and the
	// cursor of the next page ("" after the last).
	Licenses(ctx context.Context, contract, cursor string, limit int) ([]License, string, error)
	// Idempotent returns the record of an LRF already activated on a
	// contract. ErrNotFound.
	Idempotent(ctx context.Context, contract, key string) (*Idempotency, error)

	// Issue applies an activation atomically. ErrNoSeat if it needs a seat
	// and none is free; ErrConflict if the idempotency key or the license
	// exists, the binding is not as expected, the freed seat was retaken, or
	// the history is not at its version.
	Issue(ctx context.Context, op *Issue) error
	// Free frees an appliance's seat atomically. ErrNotFound if the
	// appliance has no binding; ErrConflict if the seat is already free or
	// the history is not at its version.
	Free(ctx context.Context, op *Free) error

	// History returns what the issuer has seen of an appliance's history.
	// ErrNotFound.
	History(ctx context.Context, appliance string) (*History, error)
	// PutHistory writes an appliance's history, bounded ([History.Bound]),
	// and appends e (when not nil) to the ledger, atomically, if the stored
	// history is at h.Version (0: none is stored); it then sets h.Version
	// one higher. ErrConflict otherwise.
	PutHistory(ctx context.Context, h *History, e *Entry) error

	// Clock returns the issuer's record of its own clock. ErrNotFound
	// before the first write.
	Clock(ctx context.Context) (*Clock, error)
	// PutClock writes the issuer's clock record if the stored one is at
	// c.Version (0: none is stored); it then sets c.Version one higher.
	// ErrConflict otherwise.
	PutClock(ctx context.Context, c *Clock) error

	// Contracts returns up to limit contracts (with their seats used) in id
	// order, starting after cursor ("" for the first page), and the cursor of
	// the next page ("" after the last).
	Contracts(ctx context.Context, cursor string, limit int) ([]Contract, string, error)
	// BindingPage returns up to limit bindings of a contract, ordered by
	// appliance, starting after cursor, and the next cursor ("" after the
	// last).
	BindingPage(ctx context.Context, contract, cursor string, limit int) ([]Binding, string, error)
	// RotateToken replaces the token of a contract by the one hashing to
	// tokenHash and appends e, atomically: the old token is unknown to the
	// next TokenContract. ErrNotFound if the contract does not exist;
	// ErrConflict if the new hash is in use.
	RotateToken(ctx context.Context, contract, tokenHash string, e *Entry) error

	// NoteAnomaly records one sighting of an anomaly: the first of its ID
	// ([Anomaly.SetID], set by the store) is stored as it is, each later one
	// adds one to its count.
	NoteAnomaly(ctx context.Context, a *Anomaly) error
	// Anomalies returns up to limit anomalies in ID order, of one contract
	// or, for contract "", of all, starting after cursor, and the next
	// cursor ("" after the last).
	Anomalies(ctx context.Context, contract, cursor string, limit int) ([]Anomaly, string, error)

	// Append appends a ledger entry (a refusal, or a decision with no other
	// write).
	Append(ctx context.Context, e *Entry) error
	// Ledger returns up to limit entries of a contract, oldest first,
	// starting after cursor, and the next cursor ("" after the last).
	Ledger(ctx context.Context, contract, cursor string, limit int) ([]Entry, string, error)

	// PutReport stores an accepted usage report, the contract's peaks, the
	// appliance's history and the ledger entry, atomically. ErrConflict if
	// a report with its ID is stored for the contract, or the peaks or the
	// history are not at their versions.
	PutReport(ctx context.Context, op *PutReport) error
	// Report returns a contract's report by ID. ErrNotFound.
	Report(ctx context.Context, contract, id string) (*Report, error)
	// LatestReport returns the report of an appliance on a contract with
	// the latest Until (of two with one Until, the one received last).
	// ErrNotFound.
	LatestReport(ctx context.Context, contract, appliance string) (*Report, error)
	// Reports returns up to limit reports of a contract ordered by Until,
	// then appliance, then ID, starting after cursor ("" for the first
	// page), and the cursor of the next page ("" after the last). A page
	// holds fewer when their records would pass [ReportPageBytes].
	Reports(ctx context.Context, contract, cursor string, limit int) ([]Report, string, error)
	// Peaks returns a contract's peaks; a contract without a report has
	// empty ones at Version 0.
	Peaks(ctx context.Context, contract string) (*Peaks, error)

	Close() error
}
