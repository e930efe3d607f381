// Documents signed by the key they carry (LRFs) or by a key the reader
// looks up from their body (receipts): decoded before they are verified.

package engine

import (
	"errors"
	"fmt"
	"slices"

	"golang.org/x/mod/sumdb/note"
)

// peekSigned decodes the body of a signed note of type typ into v without
// verifying any signature.
func peekSigned(typ string, msg []byte, v any) error {
	if len(msg) > MaxDocument {
		return fmt.Errorf("%w: %d bytes", ErrTooLarge, len(msg))
	}
	if first := firstLine(msg); first != typ {
		return fmt.Errorf("%w: expected a %s document, found %q", ErrMalformed, typ, truncate(first, 40))
	}
	var unverified *note.UnverifiedNoteError
	_, err := note.Open(msg, note.VerifierList())
	if !errors.As(err, &unverified) {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return Decode(typ, []byte(unverified.Note.Text), v)
}

// decodeSelfSigned decodes the body of a signed note into v before verifying
// it, because the key to verify with is named by the body; key returns that
// key and the signer name it must carry once v is decoded. Nothing in v may be
// trusted unless it returns nil.
func decodeSelfSigned(typ string, msg []byte, v any, key func() (vkey, name string)) error {
	if err := peekSigned(typ, msg, v); err != nil {
		return err
	}
	vkey, name := key()
	if vkey == "" {
		return fmt.Errorf("%w: no device key", ErrUntrusted)
	}
	known, err := selfVerifier(vkey)
	if err != nil {
		return err
	}
	_, sigs, err := OpenNote(msg, known)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(sigs, func(s note.Signature) bool { return s.Name == name }) {
		return fmt.Errorf("%w: signed by %s, not by appliance %s", ErrUntrusted, sigs[0].Name, name)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
