package issuer

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"

	"github.com/tenurehq/tenure/issuer/internal/store"
)

// A caller is who presented the request's token.
type caller struct {
	admin    bool
	contract string // the contract whose token it is
}

func (c caller) actor() string {
	if c.admin {
		return "admin"
	}
	return "contract"
}

// may reports whether the caller acts for the contract.
func (c caller) may(contract string) bool { return c.admin || c.contract == contract }

// mayAct is the 403 of a caller that does not act for the contract.
func (c caller) mayAct(contract string) error {
	if !c.may(contract) {
		return problem(http.StatusForbidden, "forbidden", "this token is for contract %s, not %s", c.contract, contract)
	}
	return nil
}

// authenticate finds the caller from the bearer token: 401 without one or for
// an unknown one.
//
// Contract tokens are stored as their SHA-256 and looked up by it, so a
// lookup's timing can tell at most something about the hash of a guess,
// never about a token; the admin token's hash is compared in constant time.
//
// An admin token kept in a secret store is read only when a token turns
// out to be no contract's (see [adminToken]): appliances' requests never
// wait for it, and keep working while it cannot be read.
func (s *Server) authenticate(ctx context.Context, r *http.Request) (caller, error) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return caller{}, problem(http.StatusUnauthorized, "unauthorized", "send the admin token or the contract's token as Authorization: Bearer TOKEN")
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	if admin, ok := s.admin.known(); ok && subtle.ConstantTimeCompare(sum[:], admin[:]) == 1 {
		return caller{admin: true}, nil
	}
	id, err := s.store.TokenContract(ctx, hex.EncodeToString(sum[:]))
	if errors.Is(err, store.ErrNotFound) {
		if _, known := s.admin.known(); !known {
			admin, err := s.admin.load(ctx)
			if err != nil {
				s.log.Error("admin token unavailable", "method", logMethod(r), "path", cut(r.URL.Path), "error", err.Error())
				return caller{}, unavailable()
			}
			if admin != nil && subtle.ConstantTimeCompare(sum[:], admin[:]) == 1 {
				return caller{admin: true}, nil
			}
		}
		return caller{}, problem(http.StatusUnauthorized, "unauthorized", "the token is not known here; use the token shown when the contract was created, or the admin token")
	}
	if err != nil {
		return caller{}, err
	}
	return caller{contract: id}, nil
}

// newToken returns a contract token: 256 random bits.
func newToken() string { return "tnr_" + rand.Text() + rand.Text() }

// hashHex is the SHA-256, in hex, by which the issuer keeps tokens and knows
// documents.
func hashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
