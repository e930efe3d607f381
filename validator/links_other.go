//go:build !(unix || wasip1)

package validator

import "io/fs"

// hardLinked is false where the platform does not say.
func hardLinked(fs.FileInfo) bool { return false }
