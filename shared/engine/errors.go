package engine

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

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

	// ErrRenewFirst is returned by [Decide] for an upgrade, downgrade or
	// prolongation while the chain's coverage has ended.
	ErrRenewFirst = errors.New("renew first")

	// ErrRefused is returned by [Decide] for an activation a rule refuses.
	ErrRefused = errors.New("refused")
)

// An UntrustedError is returned when no trusted key admits a document: none
// of its signers is trusted, or (NotAfter set) the trusted key that signed it
// was retired before the document was issued. It matches [ErrUntrusted]
// with errors.Is; callers that tell a person what to do read its fields.
type UntrustedError struct {
	Signers  []string  // the names of the keys that signed, trusted or not
	Keys     []string  // those keys as name+hash, when none is trusted
	Issued   time.Time // the document's issue time, when NotAfter is set
	NotAfter time.Time // the retired key's not-after date; zero: no trusted key signed
}

func (e *UntrustedError) Error() string {
	names := strings.Join(e.Signers, ", ")
	if e.NotAfter.IsZero() {
		return fmt.Sprintf("signed by an unknown key (%s)", names)
	}
	return fmt.Sprintf("signed by a retired issuer key (%s): issued %s, after its key's not-after date %s",
		names, formatTime(e.Issued), formatTime(e.NotAfter))
}

// Is makes errors.Is(err, ErrUntrusted) hold for an *UntrustedError.
func (e *UntrustedError) Is(target error) bool { return target == ErrUntrusted }
