// Package engine is Tenure's one licensing engine: the documents, how they are
// signed, sealed and armored, how an appliance's mode is decided, and how the
// issuer dates a license. The appliance's validator and the vendor's issuer
// both import it, so they never disagree about a rule or a field.
//
// The package is pure: it reads no clock, no file and no network. Callers pass
// the time and the records; the only outside input is randomness for keys,
// nonces and sealing.
//
// # Documents
//
// A document's body is two lines: its type, then its JSON in one exact
// encoding (compact, fields in the order of the Go type, maps by key, lists
// that carry no order sorted and without repeats, instants as
// 2026-01-05T00:00:00Z):
//
//	tenure.license/v1
//	{"id":"L-4k2m9q7x","contract":"IC-1042","revision":1,...}
//
// [Decode] accepts nothing else: the type line, JSON valid against the type's
// schema (package schema), no unknown field, and bytes equal to their
// re-encoding. The types are [Request] (tenure.lrf/v1, a License Request File),
// [License] (tenure.license/v1), [Release] (tenure.release/v1, a release
// receipt), [ClockReset] (tenure.clock/v1), [Usage] (tenure.usage/v1, a usage
// report), [Backup] (tenure.backup/v1) and [Product] (tenure.product/v1).
//
// Signed documents are signed notes in the format of
// golang.org/x/mod/sumdb/note, used as it is: the body, a blank line, and one
// line per signature, "— NAME BASE64", where BASE64 holds a four-byte key hash
// and an Ed25519 signature of the exact body bytes. Several signatures may
// stand (an issuer rotating keys signs with both); signatures by unknown keys
// are set aside, and at least one trusted key must have signed ([OpenNote]).
// An appliance signs its LRFs, receipts and usage reports with its device key, a note key
// named with the appliance id, and puts the verifier key in the LRF; the
// issuer pins that key at the first activation.
//
// A license is then sealed with filippo.io/age to the X25519 recipient the
// LRF names ([Seal]), so only that appliance can open it. Whatever travels
// between machines is in strict ASCII armor ([Armor]): a BEGIN line naming the
// label, standard base64 in lines of 64 columns, an END line. The labels are
// [LabelRequest], [LabelLicense], [LabelRelease], [LabelClock] and
// [LabelUsage]. Any input over
// [MaxDocument] (64 KiB) of armored text is refused before it is parsed, and
// any changed byte of a document is refused.
//
// # Platforms
//
// An appliance runs on a platform described by named raw components
// (machine_id, dmi_uuid, mac:eth0, ...). Each is hashed as
//
//	SHA-256("tenure.platform/v1" ‖ 0 ‖ product ‖ 0 ‖ name ‖ 0 ‖ value)
//
// ([HashComponent]), so every host computes the same value and no raw serial
// number leaves the appliance. A license carries the hashed components it was
// issued for, under their names, and a name says its class: the name up to
// its first ':' or '_' ([ComponentClass]; machine_id is class machine,
// dmi_uuid dmi, mac:52:54:00:12:34:56 and mac:eth0 mac, disk:serial disk).
// A class matches when any of its components is equal on the platform; the
// appliance matches when at least binding.min_match classes do, by default
// every class the license carries but one, and at least two
// ([MatchPlatform]). A replaced NIC, a replaced disk or a moved VM keeps its
// license; a clone or another machine does not.
//
// # Modes
//
// [Evaluate] decides, at an instant t, one of four modes:
//
//   - licensed: a base license (any kind but addon) is valid at t: signed by a
//     trusted key (issued before the key's not-after), bound to this appliance
//     and platform ([Binding]), from <= t < until, not superseded, not
//     released. Features are the union over valid licenses; each limit is the
//     largest among valid base licenses plus the sum over valid addons. An
//     addon counts only while a base license is valid.
//   - grace: no base license is valid, but one was. G, the end of the latest
//     base coverage, starts a grace period of the largest grace_days among the
//     licenses ending at G (the product's, 90 by default); the appliance keeps
//     the features and limits it had just before G. Released licenses never
//     start a grace period.
//   - trial: no license was ever valid on this platform, and t is within the
//     product's trial days (30) of the platform's trial start. Every feature
//     ("*"); limits are the product's trial limits.
//   - restricted: otherwise. Configuration changes are refused. Features keep
//     answering from the mode before (the grace set after a grace period,
//     every feature after a trial, none after a release), unless the product
//     says restricted_features "deny".
//
// Licenses whose from lies ahead are pending: listed, not counted. Licenses
// that end and start at the same instant form one coverage, so the status's
// until is the end of the coverage, and the expiry warning ([ExpiryWarning],
// 30 days ahead) is not shown when the renewal is already installed. The
// status also names the next change of mode and when it happens.
//
// The instant comes from [TimeUsed]: the latest of the host clock, the
// high-water mark (the latest time the appliance has seen), the newest issue
// time of its verified licenses and the build floor. Setting the clock back
// gains nothing, and a host clock more than a day behind the mark is reported
// as rolled back. An explicit instant (status --at) is used as it is.
//
// # Issuing
//
// [Decide] dates a license from the issuer's own records. Contract changes
// accumulate as revisions; an activation folds every revision the appliance has
// not received into one license. E is the end of the appliance's chain (its
// current licenses of the contract), and the activation date is the day the
// issuer received the request.
//
//	case                        from                         until
//	initial                     earlier of effective and     from + term_months
//	                            first use, else activation
//	reallocation (freed seat)   activation date              the freed binding's until
//	renewal                     E (early, on time or late)   E + each renewal's term_months
//	upgrade                     activation date              E
//	prolongation                activation date              E + extend_months
//	downgrade (supersedes)      activation date              E
//	reissue (nothing new)       the last license's window
//
// An upgrade, downgrade or prolongation once coverage has ended is refused:
// [ErrRenewFirst]. A renewal issued in grace therefore covers the grace
// period from its start. Each renewal buys its own term: a renewal of 12
// months and one of 36 folded into one license add 48 months, and a renewal
// ordered before the first activation adds its term to the order's. A
// prolongation folded in adds its months.
//
// # Example
//
// Contract IC-1042 is ordered on 2026-01-05 for 12 months of tier pro. The
// appliance's LRF reaches the issuer on 2026-01-20 and says the function was
// first used on 2026-01-10, so the initial license runs [2026-01-10,
// 2027-01-10). On 2027-01-10 the appliance enters grace with the pro features,
// until 2027-04-10. The customer renews; the LRF arrives on 2027-02-01, and
// the renewal is dated [2027-01-10, 2028-01-10): installed, it makes the
// appliance licensed again with no gap in its coverage. Had the renewal been
// installed in December 2026, it would have been pending until 2027-01-10, and
// status would have shown "licensed until 2028-01-10" with no expiry warning.
//
// # Compatibility
//
// Appliances in the field run older validators for years, so every change
// to a document is made with its oldest reader in mind.
//
// Readers are strict on purpose: a document with a field its reader does not
// know is refused ([ErrMalformed]: the schemas forbid additional properties,
// [Decode] disallows unknown fields and compares the bytes with their
// re-encoding). An older validator therefore lists a license carrying a newer
// field as inactive ("malformed document"); it never half-reads it.
//
// New fields are added so that this never happens to an appliance that did
// nothing wrong:
//   - a new field is optional and left out when empty, so documents that do
//     not need it are byte for byte what older readers accept;
//   - the issuer writes a new license field only when the LRF it answers
//     shows that its validator reads it: an LRF that carries a field of its
//     own from the same revision (a history head, say) comes from a validator
//     that reads the matching license field, and an LRF without it gets a
//     license without it;
//   - a change an older reader cannot ignore gets a new type line
//     (tenure.license/v2), and the issuer keeps answering older LRFs with
//     the old type;
//   - the issuer is upgraded before validators that send newer LRFs are
//     shipped: it is one deployment, the appliances are many. An issuer that
//     does not know an LRF field answers 400, never a wrong license.
//
// The appliance's own state follows the same rule: a state written by an
// older validator is read, and migrated once, by every newer one.
package engine
