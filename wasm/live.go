package wasm

import (
	"context"

	"github.com/tenurehq/tenure/shared/abi"
)

// The live instance: one kept per Validator from call to call, with its
// request buffer, and started afresh after a trap; backup and restore run in
// a throwaway instance instead.

// exchange sends one request and returns the module's answer, which is only
// valid until the next exchange. The caller holds v.mu.
func (v *Validator) exchange(ctx context.Context, args []string, stdin string, extra map[string]string) ([]byte, error) {
	if len(args) == 0 || args[0] != "check" {
		// Any other command may change the state: a held answer is asked
		// again (the generation would say so too, a moment later).
		v.forgetHeld()
	}
	v.req = abi.AppendRequest(v.req[:0], args, v.env.With(extra), stdin)
	if cap(v.req) > 64<<10 {
		defer func() { v.req = nil }() // a license or a backup is not kept
	}
	// Every call takes the lock, not only the obvious writers: status and
	// check also move the high-water mark and start a new platform's trial.
	if err := v.lock.lock(); err != nil {
		return nil, err
	}
	defer v.lock.unlock()

	if len(args) > 0 && (args[0] == "backup" || args[0] == "restore") {
		in, err := v.module.start(ctx, v.state)
		if err != nil {
			return nil, err
		}
		defer in.close(ctx)
		return in.invoke(ctx, v.req)
	}
	if v.live == nil {
		in, err := v.module.start(ctx, v.state)
		if err != nil {
			return nil, err
		}
		v.live, v.buf = in, reqBuffer{}
	}
	out, err := v.invokeLive(ctx, v.req)
	if err != nil {
		// A trapped Go runtime cannot be resumed: start afresh next time.
		v.dropLive(ctx)
		return nil, err
	}
	return out, nil
}

// dropLive closes the live instance, if any.
func (v *Validator) dropLive(ctx context.Context) {
	v.forgetHeld()
	if v.live != nil {
		v.live.close(ctx)
		v.live, v.buf = nil, reqBuffer{}
	}
}

// A reqBuffer is a request buffer the live instance gave, kept from call to
// call: a buffer stays the host's until tenure_free, so a warm call needs no
// tenure_alloc and no tenure_free.
type reqBuffer struct {
	ptr, size uint32
}

// invokeLive is [instance.invoke] on the live instance, through the kept
// buffer and without copying the response out: it is read in place, before
// the next call.
func (v *Validator) invokeLive(ctx context.Context, req []byte) (_ []byte, err error) {
	in, stack := v.live, v.stack[:]
	if v.buf.ptr == 0 || int(v.buf.size) < len(req) {
		if old := v.buf.ptr; old != 0 {
			v.buf = reqBuffer{}
			if err = in.release(ctx, stack, old); err != nil {
				return nil, err
			}
		}
		size := max(uint32(len(req)), 1024)
		var ptr uint32
		if ptr, err = in.allocate(ctx, stack, size); err != nil {
			return nil, err
		}
		if size > 64<<10 {
			// A large buffer is not kept: it is given back after the
			// call.
			defer func() {
				if err == nil && v.buf.ptr == ptr {
					v.buf = reqBuffer{}
					in.release(ctx, stack, ptr)
				}
			}()
		}
		v.buf = reqBuffer{ptr: ptr, size: size}
	}
	return in.send(ctx, stack, v.buf.ptr, req)
}
