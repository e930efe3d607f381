package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestScript runs the stories in testdata/script with the real binaries:
// tenure over the embedded reactor, and tenure-issuer serve on loopback,
// started by the script's `issuer` command with the key the validator
// trusts.
func TestScript(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs tenure and tenure-issuer")
	}
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", built.bin+string(os.PathListSeparator)+env.Getenv("PATH"))
			env.Setenv("XDG_CACHE_HOME", built.cache)
			// The resident host of the tests (TestMain), not the machine's.
			env.Setenv("XDG_RUNTIME_DIR", os.Getenv("XDG_RUNTIME_DIR"))
			env.Setenv("TENURE_STATE", filepath.Join(env.WorkDir, "state"))
			env.Setenv("ADMIN", "e2e-admin-token-0123456789")
			env.Setenv("REPO", built.root)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"issuer":  issuerCmd,
			"api":     apiCmd,
			"field":   fieldCmd,
			"sha256":  sha256Cmd,
			"holds":   holdsCmd,
			"envfrom": envfromCmd,
		},
	})
}

// issuerCmd starts the issuer: issuer NOW [NAME=VALUE...] runs
// tenure-issuer serve with its clock at NOW and those variables, on a free
// loopback port, until the script ends, and sets $ISSUER to its URL. Its
// data directory holds the key the validator was built to trust.
func issuerCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: issuer NOW [NAME=VALUE...]")
	}
	data := ts.MkAbs("issuer-data")
	ts.Check(os.MkdirAll(data, 0o700))
	for _, name := range []string{"issuer.key", "issuer.pass", "issuer.pub"} {
		b, err := os.ReadFile(filepath.Join(built.keys, name))
		ts.Check(err)
		ts.Check(os.WriteFile(filepath.Join(data, name), b, 0o600))
	}
	url, stop, err := startIssuer(data, ts.Getenv("ADMIN"), args[0], args[1:])
	ts.Check(err)
	ts.Defer(stop)
	ts.Setenv("ISSUER", url)
}

// apiCmd calls the issuer: api METHOD PATH TOKEN STATUS [NAME=VALUE |
// NAME=@FILE | NAME:=JSON]... (TOKEN may be @FILE too) sends a JSON object of those fields (@FILE:
// the file's text; := a JSON value), fails unless the answer has STATUS,
// and prints the answer's body.
func apiCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 4 {
		ts.Fatalf("usage: api METHOD PATH TOKEN STATUS [NAME=VALUE|NAME=@FILE|NAME:=JSON]...")
	}
	want, err := strconv.Atoi(args[3])
	ts.Check(err)
	body := map[string]any{}
	for _, f := range args[4:] {
		if name, raw, ok := strings.Cut(f, ":="); ok {
			var v any
			ts.Check(json.Unmarshal([]byte(raw), &v))
			body[name] = v
			continue
		}
		name, v, ok := strings.Cut(f, "=")
		if !ok {
			ts.Fatalf("api: field %q is not NAME=VALUE", f)
		}
		if file, ok := strings.CutPrefix(v, "@"); ok {
			v = ts.ReadFile(file)
		}
		body[name] = v
	}
	b, err := json.Marshal(body)
	ts.Check(err)
	req, err := http.NewRequest(args[0], ts.Getenv("ISSUER")+args[1], bytes.NewReader(b))
	ts.Check(err)
	token := args[2]
	if file, ok := strings.CutPrefix(token, "@"); ok {
		token = strings.TrimSpace(ts.ReadFile(file))
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	ts.Check(err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	ts.Check(err)
	if resp.StatusCode != want {
		ts.Fatalf("%s %s: %d, want %d: %s", args[0], args[1], resp.StatusCode, want, raw)
	}
	fmt.Fprintf(ts.Stdout(), "%s\n", raw)
}

// fieldCmd reads a field of the JSON the last command printed: field PATH
// FILE writes its value (dotted keys and list indexes, strings as they
// are) to FILE; field PATH = WANT fails unless the value is WANT (@FILE:
// the file's text).
func fieldCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 && (len(args) != 3 || args[1] != "=") {
		ts.Fatalf("usage: field PATH FILE | field PATH = WANT")
	}
	var v any
	if err := json.Unmarshal([]byte(ts.ReadFile("stdout")), &v); err != nil {
		ts.Fatalf("the last output is not JSON: %v", err)
	}
	got, err := jsonPath(v, args[0])
	if err != nil {
		ts.Fatalf("%v", err)
	}
	if len(args) == 2 {
		ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(got), 0o600))
		return
	}
	want := args[2]
	if file, ok := strings.CutPrefix(want, "@"); ok {
		want = strings.TrimSpace(ts.ReadFile(file))
	}
	if (got == want) == neg {
		ts.Fatalf("%s is %q; want %s%q", args[0], got, map[bool]string{true: "not ", false: ""}[neg], want)
	}
}

// sha256Cmd prints the SHA-256 of a file in hex: sha256 FILE.
func sha256Cmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: sha256 FILE")
	}
	b, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	fmt.Fprintf(ts.Stdout(), "%x\n", sha256.Sum256(b))
}

// holdsCmd fails unless FILE holds the text of PART (trimmed): holds FILE
// PART.
// envfromCmd sets a variable from a file: envfrom NAME FILE sets $NAME to
// the file's text, without its line end (the id `field` wrote).
func envfromCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: envfrom NAME FILE")
	}
	ts.Setenv(args[0], strings.TrimSpace(ts.ReadFile(args[1])))
}

func holdsCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: holds FILE PART")
	}
	part := strings.TrimSpace(ts.ReadFile(args[1]))
	if strings.Contains(ts.ReadFile(args[0]), part) == neg {
		ts.Fatalf("%s does not hold %q", args[0], part)
	}
}
