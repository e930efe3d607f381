package abi

// The help text is written once, in pieces: the modules print [Usage]; the
// tenure CLI prints the same pieces around its own options. A trial's length
// is the product's, fixed in at build time, so the text names no number.

// UsageLine is the first line of the help.
const UsageLine = "Usage: tenure [--state DIR] [--platform FILE] COMMAND [ARGS]\n"

// Commands lists the validator's commands.
const Commands = `Commands:
  init --product P --version V       make this appliance (id, device key, age
                                     identity) and start its trial
  first-use                          record that the licensed function was
                                     first switched on (once)
  request                            print a license request (LRF) for the vendor
  install FILE                       open, verify and store a license, or apply
                                     a clock reset from the vendor (- = stdin)
  status [--json] [--at T]           the mode, features, limits and licenses;
                                     --at evaluates at T without touching state
  check FEATURE                      exit 0 if the feature may be used, 1 if not
  check --limit NAME N               exit 0 if N is within the limit NAME
  check --config-change              exit 0 if the configuration may change
  release LICENSE_ID                 drop a contract's licenses; print the receipt
  report                             end the usage period; print a usage report
                                     (peaks of limits, days of features) for
                                     the vendor's true-up
  backup --passphrase-file F         print the state, encrypted to the passphrase
                                     on F's first line
  restore --passphrase-file F        read a backup from stdin and restore it
  platform [--json]                  the platform's components (name, source,
                                     hash) and how each license matches them
  version                            print the product this validator enforces
                                     and the SHA-256 of its product file
`

// ExitCodes follows the commands: the exit codes, and the passphrase on
// stdin.
const ExitCodes = `Exit codes: 0 done or allowed, 1 refused or denied, 2 error.
--passphrase-file - reads the passphrase from the first line of stdin (for
restore, the backup follows it).
`

// Examples are real invocations, one a line.
const Examples = `Examples:
  tenure init --product edge --version 0.40.0
  tenure first-use
  tenure request > /media/usb/edge.lrf
  tenure install /media/usb/L-4k2m9q7x.license
  tenure status
  tenure status --json --at 2027-02-01
  tenure check vpn && start-vpn
  tenure check --limit vpn_users 120
  tenure check --config-change || echo "licence expired: configuration is frozen"
  tenure release L-4k2m9q7x > /media/usb/release.receipt
  tenure report > /media/usb/edge.usage
  tenure platform --json | jq '.licenses[] | {id, matched, needed, missing}'
  tenure backup --passphrase-file /etc/tenure/backup.pass > edge.backup
  (echo "$PASS"; cat edge.backup) | tenure restore --passphrase-file -
`

// Usage is the modules' help: `tenure help` in validator.wasm or through the
// reactor.
const Usage = UsageLine + "\n" + Commands + "\n" + ExitCodes + `
Environment (the host passes these to the module):
  TENURE_PLATFORM   the platform: JSON of component name to raw value
  TENURE_NOW        the time (RFC 3339 or a date), instead of the clock
  TENURE_VERSION    the software version, when upgraded since init
  TENURE_PASSPHRASE the backup passphrase, without --passphrase-file
  TENURE_PLATFORM_SOURCES  optional: JSON of component name to where the
                    host read it, which platform shows

` + Examples

// synopsis is each command's usage line.
var synopsis = map[string]string{
	"init":      "tenure init --product P --version V",
	"first-use": "tenure first-use",
	"request":   "tenure request",
	"install":   "tenure install FILE|-",
	"status":    "tenure status [--json] [--at T]",
	"check":     "tenure check FEATURE | check --limit NAME N | check --config-change",
	"release":   "tenure release LICENSE_ID",
	"report":    "tenure report",
	"backup":    "tenure backup --passphrase-file F|-",
	"restore":   "tenure restore --passphrase-file F|-",
	"platform":  "tenure platform [--json]",
	"version":   "tenure version",
}

// Synopsis returns the usage line of command, for an error that says how to
// call it; "" for a word that is not a command.
func Synopsis(command string) string { return synopsis[command] }
