package engine

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// A Usage is the body of a tenure.usage/v1 document: what an appliance that
// never connects saw itself use over one period, signed with its device key
// and chained to its history, so the vendor can true up a contract. It is a
// fact for the vendor, never an enforcement on the appliance.
type Usage struct {
	Appliance string         `json:"appliance"`
	Product   string         `json:"product"`
	Period    Period         `json:"period"`
	Contracts []UsageSection `json:"contracts"` // sorted by contract, each at most once; empty, never nil
	History   *Trail         `json:"history"`
	Sequence  uint64         `json:"sequence"`
	Created   time.Time      `json:"created"`
	Nonce     string         `json:"nonce"`
}

// A Period is the span a usage report covers: from the end of the one
// before (or the appliance's first license) until the report was made.
type Period struct {
	From  time.Time `json:"from"`
	Until time.Time `json:"until"`
}

// A UsageSection is what one contract's licenses saw: per limit the largest
// value a check was allowed and the largest it was denied at, and per
// feature the number of UTC days it was checked. An addon contract records
// features only. Both maps are empty, never nil, when nothing was recorded:
// the schema requires them, and a nil map would encode as null.
type UsageSection struct {
	Contract string           `json:"contract"`
	Limits   map[string]Peaks `json:"limits"`
	Features map[string]int   `json:"features"`
}

// Peaks are the largest values a limit was checked at, allowed and denied
// kept apart (0: none).
type Peaks struct {
	Allowed int64 `json:"allowed"`
	Denied  int64 `json:"denied"`
}

// Peak is the larger of the two.
func (p Peaks) Peak() int64 { return max(p.Allowed, p.Denied) }

// A UsageSummary is the running usage an LRF carries: the open period so
// far, without ending it.
type UsageSummary struct {
	Period    Period         `json:"period"`
	Contracts []UsageSection `json:"contracts"`
}

// MaxCount is the largest value a usage counter records: checks above it
// count as it (2^53−1 stays exact in every JSON reader).
const MaxCount = 1<<53 - 1

// Section returns the section of contract, or nil.
func (u *Usage) Section(contract string) *UsageSection {
	for i := range u.Contracts {
		if u.Contracts[i].Contract == contract {
			return &u.Contracts[i]
		}
	}
	return nil
}

func (u *Usage) consistent() error {
	return errors.Join(u.Period.check(), sections(u.Contracts), u.History.Check())
}

func (s *UsageSummary) consistent() error {
	return errors.Join(s.Period.check(), sections(s.Contracts))
}

func (p Period) check() error {
	if p.Until.Before(p.From) {
		return fmt.Errorf("period ends (%s) before it starts (%s)", p.Until.Format(TimeFormat), p.From.Format(TimeFormat))
	}
	return nil
}

func sections(ss []UsageSection) error {
	for i := 1; i < len(ss); i++ {
		if ss[i-1].Contract >= ss[i].Contract {
			return errors.New("contracts must be sorted by contract without repeats")
		}
	}
	return nil
}

// SignUsage encodes, signs and armors a usage report with the device key.
func SignUsage(u *Usage, device note.Signer) ([]byte, error) {
	if device.Name() != u.Appliance {
		return nil, errors.New("failed to sign usage report: the device key is not named for the appliance")
	}
	body, err := Encode(TypeUsage, u)
	if err != nil {
		return nil, err
	}
	msg, err := Sign(body, device)
	if err != nil {
		return nil, err
	}
	return Armor(LabelUsage, msg), nil
}

// OpenUsage dearmors a usage report and verifies it against the device key
// that deviceKey returns for the report's appliance (the key the issuer
// pinned at activation). It returns the signed note, whose hash identifies
// the report.
func OpenUsage(armored []byte, deviceKey func(appliance string) (string, error)) (*Usage, []byte, error) {
	msg, err := Dearmor(LabelUsage, armored)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to open usage report: %w", err)
	}
	var u Usage
	var keyErr error
	err = decodeSelfSigned(TypeUsage, msg, &u, func() (string, string) {
		k, err := deviceKey(u.Appliance)
		keyErr = err
		return k, u.Appliance
	})
	if keyErr != nil {
		return nil, nil, fmt.Errorf("failed to open usage report: %w", keyErr)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("failed to open usage report: %w", err)
	}
	return &u, msg, nil
}

// PeekUsage dearmors a usage report and decodes its body without verifying
// it, for a caller that must first find the appliance whose pinned key
// verifies it. Nothing it returns may be trusted until [OpenUsage] accepts
// the same report.
func PeekUsage(armored []byte) (*Usage, error) {
	msg, err := Dearmor(LabelUsage, armored)
	if err != nil {
		return nil, fmt.Errorf("failed to open usage report: %w", err)
	}
	var u Usage
	if err := peekSigned(TypeUsage, msg, &u); err != nil {
		return nil, fmt.Errorf("failed to open usage report: %w", err)
	}
	return &u, nil
}
