package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/tenurehq/tenure/issuer/internal/secret"
)

// lambdaAdmin is the function's admin token: TENURE_ADMIN_TOKEN as it is,
// or a source for the one TENURE_ADMIN_TOKEN_SECRET names, which the issuer
// reads on its first admin request (so the cold start makes no call for it).
// Neither leaves the admin routes refusing every token.
func lambdaAdmin(log *slog.Logger) (string, func(context.Context) (string, error), error) {
	token, spec := os.Getenv("TENURE_ADMIN_TOKEN"), os.Getenv("TENURE_ADMIN_TOKEN_SECRET")
	switch {
	case token != "" && spec != "":
		return "", nil, errors.New("set TENURE_ADMIN_TOKEN or TENURE_ADMIN_TOKEN_SECRET, not both")
	case spec != "":
		src, err := secret.Parse(spec)
		if err != nil {
			return "", nil, err
		}
		log.Info("admin token kept in a secret, read on the first admin request", "secret", spec)
		return "", func(ctx context.Context) (string, error) {
			start := time.Now()
			t, err := src.Read(ctx)
			if err == nil {
				log.Info("read the admin token", "secret", spec, "ms", float64(time.Since(start).Microseconds())/1000)
			}
			return t, err
		}, nil
	case token == "":
		log.Warn("neither TENURE_ADMIN_TOKEN nor TENURE_ADMIN_TOKEN_SECRET is set: the admin routes refuse every token")
	}
	return token, nil, nil
}
