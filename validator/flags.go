package validator

import (
	"flag"
	"io"
)

// flags returns a flag set that reports errors through the call.
func (c *call) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func (c *call) usageError(cmd string, err error) int {
	return c.fail(2, "%s: %v; usage: %s", cmd, err, usageOf(cmd))
}
