package engine

import (
	"fmt"
	"time"
)

// Day is the length of a calendar day in UTC.
const Day = 24 * time.Hour

// TimeFormat is the one way Tenure prints an instant: RFC 3339, UTC, whole
// seconds, with a Z.
const TimeFormat = "2006-01-02T15:04:05Z"

// DateFormat is the way Tenure prints a date; a date means 00:00:00Z that day.
const DateFormat = "2006-01-02"

// Floor returns t in UTC, truncated to 00:00:00Z of its day.
func Floor(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Normalize returns t in UTC truncated to whole seconds, the precision every
// document carries.
func Normalize(t time.Time) time.Time {
	return t.UTC().Truncate(time.Second)
}

// AddMonths adds n months to t, keeping the day of the month and clamping it to
// the end of a shorter month: Jan 31 + 1 month is Feb 28 (or 29).
func AddMonths(t time.Time, n int) time.Time {
	t = t.UTC()
	y, m, d := t.Date()
	first := time.Date(y, m+time.Month(n), 1, 0, 0, 0, 0, time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	if d > last {
		d = last
	}
	hh, mm, ss := t.Clock()
	return time.Date(first.Year(), first.Month(), d, hh, mm, ss, 0, time.UTC)
}

// ParseTime parses an instant in exactly [TimeFormat].
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(TimeFormat, s)
	if err != nil || t.Format(TimeFormat) != s {
		return time.Time{}, fmt.Errorf("%w: %q is not a UTC instant like 2026-01-05T00:00:00Z", ErrMalformed, s)
	}
	return t, nil
}

// ParseDate parses a date in exactly [DateFormat] and returns 00:00:00Z that day.
func ParseDate(s string) (time.Time, error) {
	t, err := time.Parse(DateFormat, s)
	if err != nil || t.Format(DateFormat) != s {
		return time.Time{}, fmt.Errorf("%w: %q is not a date like 2026-02-01", ErrMalformed, s)
	}
	return t, nil
}

// ParseInstant accepts either an instant or a date (meaning 00:00:00Z that day),
// the two forms a person types on a command line.
func ParseInstant(s string) (time.Time, error) {
	if len(s) == len(DateFormat) {
		return ParseDate(s)
	}
	return ParseTime(s)
}

func formatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }
func formatDate(t time.Time) string { return t.UTC().Format(DateFormat) }

func maxTime(ts ...time.Time) time.Time {
	var m time.Time
	for _, t := range ts {
		if t.After(m) {
			m = t
		}
	}
	return m
}
