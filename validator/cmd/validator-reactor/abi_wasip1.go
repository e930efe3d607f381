package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unsafe"

	"github.com/tenurehq/tenure/validator"
)

var (
	appliance *validator.Appliance
	setupErr  error

	// buffers keeps the host's request buffers alive until tenure_free.
	buffers = map[int32][]byte{}
	// response keeps the last response alive until the next call.
	response []byte
)

func instance() (*validator.Appliance, error) {
	if appliance == nil && setupErr == nil {
		cfg, err := validator.BuildConfig()
		if err != nil {
			setupErr = err
		} else {
			appliance = validator.New(cfg)
		}
	}
	return appliance, setupErr
}

//go:wasmexport tenure_abi_version
func abiVersion() int32 { return 1 }

//go:wasmexport tenure_alloc
func alloc(size int32) int32 {
	if size < 0 {
		return 0
	}
	b := make([]byte, max(size, 1))
	p := int32(uintptr(unsafe.Pointer(&b[0])))
	buffers[p] = b
	return p
}

//go:wasmexport tenure_free
func free(ptr int32) { delete(buffers, ptr) }

//go:wasmexport tenure_call
func call(ptr, size int32) int64 {
	response, _ = json.Marshal(handle(ptr, size))
	return int64(uintptr(unsafe.Pointer(&response[0])))<<32 | int64(len(response))
}

func handle(ptr, size int32) validator.Response {
	buf, ok := buffers[ptr]
	if !ok || size < 0 || int(size) > len(buf) {
		return validator.Response{Exit: 2, Stderr: "tenure: tenure_call: the request must be in a buffer from tenure_alloc, and len within it\n"}
	}
	var req validator.Request
	dec := json.NewDecoder(bytes.NewReader(buf[:size]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return validator.Response{Exit: 2, Stderr: fmt.Sprintf("tenure: tenure_call: the request is not {\"args\": [...], \"env\": {...}, \"stdin\": \"...\"}: %v\n", err)}
	}
	a, err := instance()
	if err != nil {
		return validator.Response{Exit: 2, Stderr: "tenure: " + err.Error() + "\n"}
	}
	return a.Run(req)
}
