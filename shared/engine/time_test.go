package engine_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tenurehq/tenure/shared/engine"
)

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestAddMonths(t *testing.T) {
	for _, c := range []struct {
		from time.Time
		n    int
		want time.Time
	}{
		{date(2026, 1, 31), 1, date(2026, 2, 28)},
		{date(2028, 1, 31), 1, date(2028, 2, 29)}, // leap year
		{date(2026, 1, 31), 2, date(2026, 3, 31)}, // the day is kept, not the clamped one
		{date(2026, 3, 31), 1, date(2026, 4, 30)},
		{date(2026, 1, 5), 12, date(2027, 1, 5)},
		{date(2026, 12, 15), 1, date(2027, 1, 15)},
		{date(2024, 2, 29), 12, date(2025, 2, 28)},
		{date(2026, 8, 31), 6, date(2027, 2, 28)},
		{date(2026, 1, 5), 0, date(2026, 1, 5)},
		{date(2026, 3, 31), -1, date(2026, 2, 28)},
		{time.Date(2026, 1, 31, 13, 45, 7, 0, time.UTC), 1, time.Date(2026, 2, 28, 13, 45, 7, 0, time.UTC)}, // time of day kept
		{time.Date(2026, 1, 31, 23, 0, 0, 0, time.FixedZone("CET", 3600)), 1, time.Date(2026, 2, 28, 22, 0, 0, 0, time.UTC)},
	} {
		if got := engine.AddMonths(c.from, c.n); !got.Equal(c.want) || got.Location() != time.UTC {
			t.Errorf("AddMonths(%s, %d) = %s, want %s", c.from, c.n, got, c.want)
		}
	}
}

func TestFloor(t *testing.T) {
	for _, c := range []struct{ in, want time.Time }{
		{time.Date(2026, 1, 20, 14, 30, 0, 5, time.UTC), date(2026, 1, 20)},
		{date(2026, 1, 20), date(2026, 1, 20)},
		{time.Date(2026, 1, 20, 23, 59, 59, 999, time.UTC), date(2026, 1, 20)},
		// 00:30 in UTC+1 is still the previous day in UTC.
		{time.Date(2026, 1, 21, 0, 30, 0, 0, time.FixedZone("CET", 3600)), date(2026, 1, 20)},
	} {
		if got := engine.Floor(c.in); !got.Equal(c.want) || got.Location() != time.UTC {
			t.Errorf("Floor(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestParseInstant(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-01-05T00:00:00Z", date(2026, 1, 5), true},
		{"2026-01-05", date(2026, 1, 5), true},
		{"2026-02-28T23:59:59Z", time.Date(2026, 2, 28, 23, 59, 59, 0, time.UTC), true},
		{"2026-01-05T00:00:00+00:00", time.Time{}, false},
		{"2026-01-05T00:00:00.5Z", time.Time{}, false},
		{"2026-01-05T00:00:00z", time.Time{}, false},
		{"2026-01-05 00:00:00Z", time.Time{}, false},
		{"2026-02-30", time.Time{}, false},
		{"2026-1-5", time.Time{}, false},
		{"26-01-05", time.Time{}, false},
		{"", time.Time{}, false},
	} {
		got, err := engine.ParseInstant(c.in)
		if c.ok != (err == nil) || !got.Equal(c.want) {
			t.Errorf("ParseInstant(%q) = %s, %v", c.in, got, err)
		}
		if err != nil && !errors.Is(err, engine.ErrMalformed) {
			t.Errorf("ParseInstant(%q): %v does not wrap ErrMalformed", c.in, err)
		}
	}
}
