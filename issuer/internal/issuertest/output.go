package issuertest

import (
	"bytes"
	"sync"
)

// Output collects what an issuer under test writes (a server's log, a
// process's stdout and stderr), safe to read while it writes.
type Output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}
