//go:build !unix

package facts

const openFlags = 0
