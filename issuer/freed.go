package issuer

import "hash/fnv"

// pickFreed chooses which of n freed seats (oldest first) an activation
// retakes. The first attempt takes the oldest, as DESIGN.md has it; an
// attempt after losing a race spreads over the others by the appliance's id,
// so that concurrent activations stop choosing the same seat and each round
// of them retakes many seats, not one.
func pickFreed(a *activation, n int) int {
	if a.attempt == 0 || n <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(a.req.Appliance))
	return int((h.Sum32() + uint32(a.attempt)) % uint32(n))
}
