package validator

import "github.com/tenurehq/tenure/shared/abi"

// usage is the help text: the words of package abi, which the tenure CLI
// prints too.
const usage = abi.Usage

// usageOf is a command's usage line, for errors.
func usageOf(cmd string) string { return abi.Synopsis(cmd) }
