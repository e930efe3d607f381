package issuer

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
)

// adminToken is the admin bearer token, kept as its SHA-256: given at start
// ([Config.AdminToken]) or read from [Config.AdminTokenSource] on the first
// request whose token is no contract's, then kept.
//
// The read waits for that request rather than happening in [New] because on
// Lambda it is a call to Secrets Manager or SSM, and the cold start has no
// room for one; most cold starts serve appliances, which never need it.
type adminToken struct {
	sum    atomic.Pointer[[32]byte] // nil until known
	source func(context.Context) (string, error)
	mu     sync.Mutex // held during a read, so one runs at a time
}

func newAdminToken(token string, source func(context.Context) (string, error)) *adminToken {
	a := &adminToken{source: source}
	if token != "" {
		sum := sha256.Sum256([]byte(token))
		a.sum.Store(&sum)
	}
	return a
}

// known is the token's hash when it is known without a read.
func (a *adminToken) known() (*[32]byte, bool) {
	sum := a.sum.Load()
	return sum, sum != nil
}

// load is the token's hash, read from the source if it has not been: nil
// with no error when there is no admin token at all. A failed read is not
// kept: the next call tries again, so a secret that was missing or not yet
// readable starts working without a restart.
func (a *adminToken) load(ctx context.Context) (*[32]byte, error) {
	if sum, ok := a.known(); ok || a.source == nil {
		return sum, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if sum, ok := a.known(); ok { // read while this call waited
		return sum, nil
	}
	token, err := a.source(ctx)
	if err != nil {
		return nil, err
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, errors.New("the admin token source gave an empty token")
	}
	sum := sha256.Sum256([]byte(token))
	a.sum.Store(&sum)
	return &sum, nil
}

// unavailable is the answer while the admin token cannot be read: the request
// may be an admin's, so neither 401 nor a guess; its detail says what to
// check without naming the secret to a caller who may not be staff (the log
// line beside it does).
func unavailable() *apiError {
	return problem(http.StatusServiceUnavailable, "admin-token-unavailable",
		"the issuer could not read its admin token, so it cannot tell whether this is the admin's token; "+
			"check that the secret or parameter it is configured with (TENURE_ADMIN_TOKEN_SECRET) exists and holds the token, "+
			"and that the function's role may read it (secretsmanager:GetSecretValue, or ssm:GetParameter and kms:Decrypt); "+
			"the issuer's log has the error, and the next admin request reads it again")
}
