// Package e2e plays Tenure's whole story through the real binaries: the
// tenure CLI with the validator module embedded, tenure-issuer serve on
// loopback HTTP with bbolt, and the story of scripts/demo, which `make demo`
// also runs. TestMain builds the three with the ldflags of scripts/build.sh,
// the validator trusting an issuer key made for the test; the test then
// checks the JSON of every step.
package e2e
