package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"unsafe"

	"github.com/tenurehq/tenure/shared/abi"
	"github.com/tenurehq/tenure/validator"
)

var (
	appliance *validator.Appliance
	setupErr  error

	// buffers keeps the host's request buffers alive until tenure_free. A
	// host has one out at a time, so a list is cheaper than a map.
	buffers [][]byte
	// spare is the last freed request buffer, handed out again: a warm host
	// asks for one buffer of about the same size on every call.
	spare []byte
	// response keeps the last response alive until the next call; its
	// memory is reused by the call after that.
	response []byte
	// requests reads every request; it remembers the last one's args and
	// env, which a host sends again and again.
	requests abi.RequestDecoder
)

func instance() (*validator.Appliance, error) {
	if appliance == nil && setupErr == nil {
		// The instance's memory only grows (wasm gives none back), so the
		// heap is collected at half the growth Go's default allows: a warm
		// check allocates nothing, and a large request leaves less behind.
		debug.SetGCPercent(50)
		cfg, err := validator.BuildConfig()
		if err != nil {
			setupErr = err
		} else {
			appliance = validator.New(cfg)
		}
	}
	return appliance, setupErr
}

// The exports are package abi's Func names; a directive takes no constant.

//go:wasmexport tenure_abi_version
func abiVersion() int32 { return abi.Version }

//go:wasmexport tenure_alloc
func alloc(size int32) int32 {
	if size < 0 {
		return 0
	}
	var b []byte
	if n := int(max(size, 1)); cap(spare) >= n && cap(spare) <= 2*n+4096 {
		b, spare = spare[:n], nil
		clear(b)
	} else {
		b = make([]byte, n)
	}
	buffers = append(buffers, b)
	return addr(b)
}

func addr(b []byte) int32 { return int32(uintptr(unsafe.Pointer(&b[0]))) }

// buffer returns the index in buffers of the buffer at ptr, or -1.
func buffer(ptr int32) int {
	for i, b := range buffers {
		if addr(b) == ptr {
			return i
		}
	}
	return -1
}

//go:wasmexport tenure_free
func free(ptr int32) {
	if i := buffer(ptr); i >= 0 {
		// A large buffer (a license or a backup on its way) is not kept:
		// it would hold its memory until a request as large came again.
		if cap(buffers[i]) <= maxSpare {
			spare = buffers[i]
		}
		buffers = slices.Delete(buffers, i, i+1)
	}
}

// maxSpare bounds the buffer kept for the next request.
const maxSpare = 64 << 10

//go:wasmexport tenure_call
func call(ptr, size int32) int64 {
	if cap(response) > 64<<10 {
		response = nil // a large answer (a status of many licenses) is not kept
	}
	response = abi.AppendResponse(response[:0], handle(ptr, size))
	finishCollection()
	return int64(uintptr(unsafe.Pointer(&response[0])))<<32 | int64(len(response))
}

func handle(ptr, size int32) abi.Response {
	i := buffer(ptr)
	if i < 0 || size < 0 || int(size) > len(buffers[i]) {
		return abi.Response{Exit: 2, Stderr: "tenure: tenure_call: the request must be in a buffer from tenure_alloc, and len within it\n"}
	}
	req, err := requests.Decode(buffers[i][:size])
	if err != nil {
		return abi.Response{Exit: 2, Stderr: fmt.Sprintf("tenure: tenure_call: the request is not {\"args\": [...], \"env\": {...}, \"stdin\": \"...\"}: %v\n", err)}
	}
	a, err := instance()
	if err != nil {
		return abi.Response{Exit: 2, Stderr: "tenure: " + err.Error() + "\n"}
	}
	return a.Run(req)
}

// writeBarrier is the runtime's flag that a collection is marking (the
// runtime keeps the name and layout for packages that read it).
//
//go:linkname writeBarrier runtime.writeBarrier
var writeBarrier struct {
	enabled bool
	pad     [3]byte
	alignme uint64
}

// finishCollection ends a collection a call left marking. In a reactor the
// runtime's mark workers get no time between calls (nor while a call
// sleeps), and a warm check allocates nothing, so it assists none: a cycle
// started by one install stayed marking for every check after it, each
// paying the write barriers (about a third more time per check).
// runtime.GC finishes that cycle and runs one more; it is reached only by a
// call whose allocations started a cycle, one in many.
func finishCollection() {
	if writeBarrier.enabled {
		runtime.GC()
	}
}
