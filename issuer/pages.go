package issuer

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

// Pages of the API's lists (DESIGN.md, "Budgets": every list paginated, one
// page at most 256 KiB).
const (
	// DefaultPage and MaxPage bound ?limit=: the number of items a page holds.
	DefaultPage = 100
	MaxPage     = 500
	// MaxPageBytes bounds a page's JSON: a page of MaxPage items that would
	// be larger holds fewer.
	MaxPageBytes = 256 << 10
)

// A pageQuery is ?after=CURSOR&limit=N, and the other parameters a list
// takes.
type pageQuery struct {
	after string
	limit int
	extra url.Values
}

// parsePage reads a list's query: after (a cursor the list gave), limit
// (1 to MaxPage, default DefaultPage), and the extra parameters named; any
// other is a 400, as an unknown field of a body is.
func parsePage(r *http.Request, extra ...string) (*pageQuery, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, problem(http.StatusBadRequest, "malformed", "the query is not valid: %v", err)
	}
	p := &pageQuery{limit: DefaultPage, extra: url.Values{}}
	for name, vs := range q {
		if len(vs) != 1 {
			return nil, problem(http.StatusBadRequest, "malformed", "the query gives %s %d times; give it once", name, len(vs))
		}
		v := vs[0]
		switch {
		case name == "after":
			if len(v) > 1024 {
				return nil, problem(http.StatusBadRequest, "malformed", "after is not a cursor of this list; pass the next of the previous page")
			}
			p.after = v
		case name == "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > MaxPage {
				return nil, problem(http.StatusBadRequest, "malformed", "limit must be a whole number from 1 to %d (default %d)", MaxPage, DefaultPage)
			}
			p.limit = n
		case contains(extra, name):
			p.extra.Set(name, v)
		default:
			return nil, problem(http.StatusBadRequest, "malformed", "unknown query parameter %q; this list takes after, limit%s", name, listed(extra))
		}
	}
	return p, nil
}

func contains(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

func listed(names []string) string {
	s := ""
	for _, n := range names {
		s += ", " + n
	}
	return s
}

// badCursor is the 400 of a cursor the store does not know, which it
// reports as store.ErrNotFound.
func badCursor(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return problem(http.StatusBadRequest, "malformed", "after is not a cursor of this list; pass the next of the previous page, or leave it out for the first")
	}
	return err
}

// fit reads a page of at most limit items with read, which returns the
// answer and the number of items in it, and reads it again with half as
// many while its JSON is over MaxPageBytes: items vary in size, and a page
// must stay within its budget whatever they hold. A single item always
// fits (the largest, a contract view's appliance, is cut to fit by its
// reader).
func fit(limit int, read func(limit int) (any, int, error)) (any, error) {
	for {
		v, n, err := read(limit)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		if len(b) <= MaxPageBytes || n <= 1 {
			return v, nil
		}
		limit = n / 2
	}
}
