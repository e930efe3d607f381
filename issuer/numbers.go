package issuer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// maxNumber is the largest magnitude a number in a body may have: every
// numeric field of the API (seats, months, limits) is an integer far below
// it, and numbers beyond it are where decoders and schema validators round,
// overflow or spend their time (1E+999999999 is a valid JSON number).
const maxNumber = 1 << 53

// checkNumbers is the 400 of a body holding a number far outside any
// field's range, naming the field, so that no later decoder meets it. A body
// that is not JSON is left to the handler's own 400.
func checkNumbers(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var path []string
	return walk(dec, &path)
}

func walk(dec *json.Decoder, path *[]string) error {
	tok, err := dec.Token()
	if err != nil {
		return nil
	}
	switch t := tok.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(t.String(), 64)
		if err != nil || math.Abs(f) > maxNumber {
			field := strings.Join(*path, ".")
			if field == "" {
				field = "the body"
			}
			return problem(http.StatusBadRequest, "malformed", "%s: %s is out of range; numbers in the API are whole numbers of at most %d", field, cutNumber(t.String()), int64(maxNumber))
		}
	case json.Delim:
		switch t {
		case '{':
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil
				}
				key, _ := k.(string)
				*path = append(*path, key)
				if err := walk(dec, path); err != nil {
					return err
				}
				*path = (*path)[:len(*path)-1]
			}
			dec.Token()
		case '[':
			for i := 0; dec.More(); i++ {
				*path = append(*path, fmt.Sprint(i))
				if err := walk(dec, path); err != nil {
					return err
				}
				*path = (*path)[:len(*path)-1]
			}
			dec.Token()
		}
	}
	return nil
}

func cutNumber(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}
