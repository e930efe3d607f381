package engine

import (
	"bytes"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// A ClockReset is the body of a tenure.clock/v1 document: the issuer's
// signed word of the time, answering one LRF of one appliance. An appliance
// whose clock once ran far ahead keeps that time as its high-water mark
// (setting the clock back must gain nothing); a reset is the one way to bring
// the mark back, and it applies once, to the appliance whose request it
// answers, while that request is its newest.
type ClockReset struct {
	Appliance     string    `json:"appliance"`
	DeviceKeyHash string    `json:"device_key_hash"`
	Nonce         string    `json:"nonce"`    // of the LRF it answers
	Sequence      uint64    `json:"sequence"` // of the LRF it answers
	Mark          time.Time `json:"mark"`     // the issuer's time
	Reason        string    `json:"reason"`
	Issued        time.Time `json:"issued"`
}

// FutureSlack is how far after a clock reset's mark a license may have been
// issued and still count: an issuer's clock a little ahead is drift, one
// far ahead signed a license from the future.
const FutureSlack = 24 * time.Hour

// IssuedInFuture is the reason a license that a clock reset found issued
// after its mark does not count.
const IssuedInFuture = "issued in the future (after the clock reset's mark); ask the vendor for a reissue"

// IssuedAfter reports whether l was issued more than [FutureSlack] after
// mark: after a clock reset to mark, such a license is inactive and does not
// floor the clock.
func IssuedAfter(l *License, mark time.Time) bool {
	return l.Issued.After(mark.Add(FutureSlack))
}

// SignClockReset encodes, signs and armors a clock reset.
func SignClockReset(c *ClockReset, signers ...note.Signer) ([]byte, error) {
	body, err := Encode(TypeClock, c)
	if err != nil {
		return nil, err
	}
	msg, err := Sign(body, signers...)
	if err != nil {
		return nil, err
	}
	return Armor(LabelClock, msg), nil
}

// OpenClockReset dearmors a clock reset and verifies it against the trusted
// issuer keys: the signature, the key's not-after date, the schema and the
// exact encoding. Whether it is for this appliance, and answers its newest
// request, is the caller's to check.
func OpenClockReset(armored []byte, trust *Trust) (*ClockReset, error) {
	msg, err := Dearmor(LabelClock, armored)
	if err != nil {
		return nil, fmt.Errorf("failed to open clock reset: %w", err)
	}
	var c ClockReset
	if _, err := verifyIssued(TypeClock, msg, trust, &c, func() time.Time { return c.Issued }); err != nil {
		return nil, fmt.Errorf("failed to open clock reset: %w", err)
	}
	return &c, nil
}

// ArmorLabel returns the label of the armored document text starts with
// ("TENURE CLOCK"), or "" when it starts with no armor line, so a command
// that takes several kinds of document can tell which one it was given.
func ArmorLabel(text []byte) string {
	line, _, _ := bytes.Cut(bytes.TrimLeft(text, " \t\r\n"), []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	label, ok := bytes.CutPrefix(line, []byte("-----BEGIN "))
	if !ok {
		return ""
	}
	label, ok = bytes.CutSuffix(label, []byte("-----"))
	if !ok {
		return ""
	}
	return string(label)
}
