package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/tenurehq/tenure/issuer"
	"github.com/tenurehq/tenure/shared/engine"
)

// clockAck accepts the issuer's clock as it is now, on TENURE_STORE or the
// bolt store of serve's data directory, so that an issuer whose clock is
// more than a day behind what it signed signs again. The acceptance is kept
// in the store with its reason and written to the log (stderr, JSON).
func clockAck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("clock-ack")
	reason := fs.String("reason", "", "")
	dir := fs.String("data", ".tenure/issuer", "")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if *reason == "" || fs.NArg() > 0 {
		return usageError{errors.New("clock-ack needs --reason TEXT: why the issuer's clock is right now, for the record")}
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	spec := os.Getenv("TENURE_STORE")
	if spec == "" {
		db := filepath.Join(*dir, "issuer.db")
		if _, err := os.Stat(db); err != nil {
			return fmt.Errorf("no issuer database at %s: pass the --data DIR serve uses, or set TENURE_STORE", db)
		}
		spec = "bolt:" + db
	}
	st, err := openStore(ctx, spec)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := checkStore(ctx, st); err != nil {
		return err
	}
	now, err := localClock(log)
	if err != nil {
		return err
	}
	rec, err := issuer.AckClock(ctx, st, now(), *reason)
	if err != nil {
		return err
	}
	was, newest := "", "nothing signed yet"
	if rec.Was != nil {
		was = rec.Was.Format(engine.TimeFormat)
		newest = "the newest document on record was issued " + was
	}
	log.Info("issuer clock accepted", "store", spec, "acked", rec.Acked.Format(engine.TimeFormat), "reason", rec.Reason, "was", was)
	fmt.Fprintf(stdout, "accepted the issuer's clock at %s (%s); the issuer signs again from its next request\n", rec.Acked.Format(engine.TimeFormat), newest)
	return nil
}
