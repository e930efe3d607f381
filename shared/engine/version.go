package engine

import "golang.org/x/mod/semver"

// CompareVersions compares two software versions written as semantic
// versions without the "v" ("0.38.0"), returning -1, 0 or +1. An invalid
// version sorts before every valid one.
func CompareVersions(a, b string) int { return semver.Compare("v"+a, "v"+b) }

// ValidVersion reports whether v is a semantic version like "0.38.0".
func ValidVersion(v string) bool { return semver.IsValid("v"+v) && semver.Canonical("v"+v) == "v"+v }
