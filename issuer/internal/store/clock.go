package store

import "time"

// A Clock is the issuer's record of its own clock (DESIGN.md, "Clock
// recovery"): the largest issued time among the documents it has signed
// (licenses and clock resets), so that an issuer whose clock was put back
// more than a day behind it stops signing until an admin accepts the clock,
// and the last such acceptance.
//
// There is one per store. The issuer keeps the largest issued time in
// memory and writes it only when it has grown by more than an hour, so
// Issued may lag the newest signature by up to that hour.
type Clock struct {
	// Issued is the largest issued time the issuer has written down.
	Issued time.Time `json:"issued"`

	// Acked is when an admin last accepted the issuer's clock
	// (`tenure-issuer clock-ack`), Reason why, and Was the Issued it
	// replaced; zero, empty and zero before any acceptance.
	Acked  *time.Time `json:"acked,omitempty"`
	Reason string     `json:"reason,omitempty"`
	Was    *time.Time `json:"was,omitempty"`

	// Version is the version of the stored record, 0 when there is none.
	// The store keeps it: a write succeeds only if the stored record is
	// still at Version, and then sets it one higher.
	Version uint64 `json:"-"`
}
