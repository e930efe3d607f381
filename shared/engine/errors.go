package engine

import "errors"

var (
	// ErrMalformed is returned for input that is not a well-formed Tenure
	// document: bad armor, a bad signed note, a body that is not the one exact
	// encoding, or a body that fails its schema.
	ErrMalformed = errors.New("malformed document")

	// ErrTooLarge is returned, before any parsing, for a document over
	// [MaxDocument] bytes of armored text.
	ErrTooLarge = errors.New("document too large")

	// ErrUntrusted is returned when no trusted key signed a document.
	ErrUntrusted = errors.New("signed by an unknown key")

	// ErrBadSignature is returned when a known key's signature does not verify:
	// the document was altered.
	ErrBadSignature = errors.New("signature does not verify")

	// ErrSealedElsewhere is returned when a license is sealed to another
	// appliance's age identity.
	ErrSealedElsewhere = errors.New("sealed to another appliance")

	// ErrNoSeat is returned by [Decide]'s callers when a contract has no free
	// seat; it is here so both sides name the refusal the same way.
	ErrNoSeat = errors.New("no free seat")

	// ErrRenewFirst is returned by [Decide] for an upgrade, downgrade or
	// prolongation while the chain's coverage has ended.
	ErrRenewFirst = errors.New("renew first")

	// ErrRefused is returned by [Decide] for an activation a rule refuses.
	ErrRefused = errors.New("refused")
)
