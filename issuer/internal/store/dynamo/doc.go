// Package dynamo is the issuer's production store: every record in one
// DynamoDB table (TENURE_STORE=dynamodb:TABLE). It behaves exactly as the
// bbolt store does; both pass [storetest.Run].
//
// The client comes from the SDK's usual configuration ([Open] calls
// config.LoadDefaultConfig): AWS_REGION, the credential chain, and
// AWS_ENDPOINT_URL_DYNAMODB to point it at DynamoDB Local. The store never
// creates its table on its own; [CreateTable] (`tenure-issuer create-table
// TABLE`) does, for local use, and the SAM template in issuer/deploy does in
// production. Both make the table [TableDefinition] describes.
//
// # The table
//
// One table, keys pk (partition) and sk (sort), both strings, no secondary
// index: every read is a strongly consistent GetItem, Query or BatchGetItem on
// the base table, so a write is visible to the next request whichever Lambda
// instance serves it. A contract's records share its partition; licenses,
// tokens and appliances (their histories and the contracts they are bound
// to), looked up by their own id, have one each; the issuer's clock has one.
//
//	pk              sk                                  kind       holds
//	CONTRACT#<id>   #CONTRACT                           contract   the contract; used, seats, revision
//	CONTRACT#<id>   #SEQ                                counter    next: the contract's last sequence number
//	CONTRACT#<id>   REV#<number>                        revision   one revision
//	CONTRACT#<id>   BIND#<appliance>                    binding    an appliance's seat; seq, release
//	CONTRACT#<id>   FREED#<seq>                         freed      a freed seat; id, retaken
//	CONTRACT#<id>   LIC#<seq>                           issued     license: the id of a license, in issue order
//	CONTRACT#<id>   ALIC#<appliance>#<seq>              issued     license, appliance: the same, per appliance
//	CONTRACT#<id>   IDEM#<request hash>                 request    the license an LRF got
//	CONTRACT#<id>   LOG#<seq>                           entry      one ledger row
//	CONTRACT#<id>   #TOKEN                              token-of   token: the hash of the contract's token
//	CONTRACT#<id>   ANOM#<anomaly id>                   anomaly    an anomaly of the contract; count
//	CONTRACT#<id>   #PEAKS                              peaks      the contract's peaks over every report; version
//	CONTRACT#<id>   USAGE#<until>#<appliance>#<report>  report     one usage report
//	CONTRACT#<id>   REPORT#<report>                     report-id  report: the sort key of the report with this id
//	CONTRACT#<id>   LATEST#<appliance>                  latest     report, until: the appliance's report with the latest until, and that until
//	CONTRACTS       C#<id>                              listed     contract: the contract exists (GET /v1/contracts)
//	CONTRACTS       #INDEXED                            marker     every contract of the table is listed
//	ANOMALIES       ANOM#<anomaly id>                   anomaly    an anomaly of any contract; count
//	TOKEN#<hash>    #TOKEN                              token      contract: whose token hashes to <hash>
//	LICENSE#<id>    #LICENSE                            license    the license; contract, appliance, superseded_by, released
//	APPLIANCE#<id>  #HISTORY                            history    what the issuer has seen of the appliance's history, across contracts; version
//	APPLIANCE#<id>  BIND#<contract>                     bound      contract: the appliance has a binding (held or released) on <contract>
//	ISSUER          #CLOCK                              clock      the issuer's record of its own clock; version
//
// Numbers in sort keys are 16 hex digits, so keys sort as the numbers do; an
// <until> is 24: the seconds since 1970 with the sign bit flipped, then the
// nanoseconds, so a contract's reports sort by until, appliance and id.
// Every item has its kind in the attribute kind, and its record in doc: the
// JSON the bbolt store keeps, so both stores encode records identically.
// What a condition tests or an update changes in place is a top-level
// attribute instead (and left out of doc): a contract's used seats, a
// binding's sequence and release, a freed seat's retaker, a license's
// superseded_by and released, the version of a history or of a contract's
// peaks. A read lays these over doc.
//
// # Access patterns
//
//   - Contract, TokenContract, Binding, License, Idempotent, History, Clock:
//     GetItem.
//   - Revisions, Bindings, FreedSeats: Query on the contract's partition by
//     sort-key prefix, every page.
//   - Licenses, Ledger: Query from the cursor, which encodes the contract and
//     the last sort key read; Licenses then fetches the licenses with
//     BatchGetItem, 100 at a time.
//   - ApplianceLicenses: Query ALIC#<appliance>#, then BatchGetItem.
//   - ApplianceBindings: Query the appliance's BIND#, then GetItem of each
//     binding.
//   - Contracts: Query CONTRACTS from the cursor, then BatchGetItem of the
//     contracts. A table from before the CONTRACTS partition is scanned once
//     for its contracts, which are listed, then marked #INDEXED.
//   - BindingPage, Anomalies: Query from the cursor (Anomalies of every
//     contract: the ANOMALIES partition).
//   - RotateToken: one transaction puts the new TOKEN#, deletes the old one
//     and puts #TOKEN if it still names the old hash, so two rotations at
//     once never leave two tokens. A contract from before #TOKEN existed has
//     its token found by a scan, once.
//   - NoteAnomaly: one transaction of two updates, each if_not_exists(doc)
//     and ADD count 1.
//   - Report, LatestReport: GetItem of REPORT#<report> or
//     LATEST#<appliance>, then GetItem of the report it names. Peaks:
//     GetItem.
//   - Reports: Query USAGE# from the cursor; a page ends before the report
//     whose doc would bring its docs over [store.ReportPageBytes].
//
// # Transactions
//
// [store.Store]'s atomic operations are one TransactWriteItems each, every
// item with its condition, so no interleaving of requests can bind more
// appliances than a contract allows or write a license without its ledger
// row. An activation ([Store.Issue]) is, in this order:
//
//  1. Put IDEM#<hash> if absent: an LRF activates once (ErrConflict).
//  2. Put LICENSE#<id> if absent: an issued license is never replaced
//     (ErrConflict).
//  3. Update #CONTRACT used = used + 1 if used < seats, when the activation
//     takes a seat; else a ConditionCheck that the contract exists. The seat
//     count is one number on one item, and DynamoDB serialises the
//     transactions that change it: of 64 concurrent activations on a 3-seat
//     contract, exactly 3 succeed (ErrNotFound, ErrNoSeat).
//  4. Put BIND#<appliance> if the binding is as the issuer read it: absent
//     or released when taking a seat, held otherwise, and at the sequence it
//     read (ErrConflict).
//  5. Update FREED#<seq> retaken if not yet retaken, when retaking a freed
//     seat (ErrConflict).
//  6. Update each superseded LICENSE#<id> superseded_by if neither
//     superseded nor released (ErrConflict).
//  7. Put LIC#<seq>, ALIC#<appliance>#<seq>, LOG#<seq> and the appliance's
//     BIND#<contract> (every activation puts it, so a binding made before
//     the index existed is indexed at its appliance's next activation).
//  8. When the activation carries the appliance's history: Put
//     APPLIANCE#<id> #HISTORY at version v+1 if it is at version v, the one
//     the issuer read (absent for 0), so two documents of one appliance
//     never both move its baseline from the same record (ErrConflict).
//
// A reissue that returns the stored license (Issue.Reissue) checks that
// LICENSE#<id> exists instead of putting it, supersedes nothing and puts no
// LIC# or ALIC#; the rest is as above.
//
// A release or reallocation ([Store.Free]) updates the binding if it is held,
// decrements used, puts the freed seat, marks each license released (if it is
// the appliance's on this contract), puts the ledger row and, when it
// carries one, the history as an activation does. [Store.PutHistory] puts
// the history on the same condition, with its ledger row. A new contract
// puts the contract and its token, each if absent, its first revision and
// the ledger row; a change updates the contract if it is at the previous
// revision. [Store.PutClock] puts the issuer's clock on the condition a
// history has.
//
// A usage report ([Store.PutReport]) puts REPORT#<report> and the report,
// each if absent (a replay is ErrConflict); #PEAKS and the history, when it
// carries them, each on the condition a history has; the ledger row; and
// LATEST#<appliance> if absent or at an until no later than the report's.
// When only that last condition fails (an older report carried late), the
// store sends the transaction again without it: the latest report only
// ever moves to a later until, so it stays ahead.
//
// Every item asks for its old image when its condition fails
// (ReturnValuesOnConditionCheckFailure), and the store answers the error the
// bbolt store would: the first failed condition in the order above, ErrNotFound
// when the item is missing, ErrNoSeat when the seats are taken. A
// transaction cancelled by a concurrent one (TransactionConflict) or by
// throttling is sent again, up to 60 times with jittered backoff. The SDK
// gives each transaction a ClientRequestToken and keeps it when it resends
// one whose answer was lost, so DynamoDB applies it once.
//
// Sequence numbers (LIC, ALIC, FREED, LOG, and so a ledger entry's ID) come
// from the contract's #SEQ counter, incremented with an atomic ADD just before
// the transaction that uses them. A refused or failed write leaves a gap,
// which is harmless: lists are in sequence order, not dense. Because numbers
// are taken before the write commits, a reader paging a contract's licenses
// or ledger while concurrent activations commit may see a row appear behind
// its cursor; it is never lost, and the next full reading lists it. An
// appliance's own licenses are always listed in the order they were issued,
// since its binding's condition lets only one activation at a time commit.
//
// # Limits
//
// A transaction holds at most 100 items, so one activation supersedes at most
// 90 licenses and one release releases at most 95; an appliance's chain on a
// contract is a handful. An item holds at most 400 KB; a license is a few,
// a history under 200 KB ([store.MaxSeen] and [store.MaxReleases] bound
// it), a report under 150 KB (its text is a document, at most 64 KiB).
package dynamo
