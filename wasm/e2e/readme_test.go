package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadmeTours runs the README's two 60-second tours as written, in a
// temporary directory standing for the repository's root after `make
// build` (bin/ is this test's build; .tenure/issuer holds the key it
// trusts), in the order the story goes: the appliance up to its request,
// the issuer, then the appliance installing the license. Every output line
// the README shows must be what the command prints, ids and keys aside
// (they are random) and "..." matching anything.
func TestReadmeTours(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the README's tours with the real binaries")
	}
	for _, tool := range []string{"curl", "jq", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README's tours need %s", tool)
		}
	}
	readme, err := os.ReadFile(filepath.Join(built.root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	appliance := consoleBlocks(t, string(readme), "## The appliance in 60 seconds")
	issuer := consoleBlocks(t, string(readme), "## The issuer in 60 seconds")
	if len(appliance) != 2 || len(issuer) != 1 {
		t.Fatalf("found %d appliance and %d issuer console blocks, want 2 and 1", len(appliance), len(issuer))
	}
	root := t.TempDir()
	bin := filepath.Join(root, "bin")
	data := filepath.Join(root, ".tenure", "issuer")
	for _, d := range []string{bin, data} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"tenure", "tenure-issuer"} {
		if err := os.Symlink(filepath.Join(built.bin, f), filepath.Join(bin, f)); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"issuer.key", "issuer.pass", "issuer.pub"} {
		b, err := os.ReadFile(filepath.Join(built.keys, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(data, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var cmds []tourCmd
	for _, b := range [][]tourCmd{appliance[0], issuer[0], appliance[1]} {
		cmds = append(cmds, b...)
	}
	results := runTour(t, root, cmds)
	for i, c := range cmds {
		if c.skip {
			continue
		}
		got, want := results[i], c.want
		if err := matchLines(want, got); err != nil {
			t.Errorf("$ %s\n%v\nREADME:\n%s\nprinted:\n%s", c.text, err, strings.Join(want, "\n"), strings.Join(got, "\n"))
		}
	}
}

// A tourCmd is one "$ " command of a console block and the lines it shows.
type tourCmd struct {
	text string
	want []string
	skip bool // make build: this test built bin/ itself
}

// consoleBlocks returns the ```console blocks of the section that starts
// with heading, as commands: a line "$ CMD", lines indented four spaces
// after it continuing it, then its output.
func consoleBlocks(t *testing.T, readme, heading string) [][]tourCmd {
	t.Helper()
	i := strings.Index(readme, heading+"\n")
	if i < 0 {
		t.Fatalf("the README has no section %q", heading)
	}
	section := readme[i+len(heading):]
	if j := strings.Index(section, "\n## "); j >= 0 {
		section = section[:j]
	}
	var blocks [][]tourCmd
	for {
		a := strings.Index(section, "```console\n")
		if a < 0 {
			return blocks
		}
		section = section[a+len("```console\n"):]
		b := strings.Index(section, "```\n")
		if b < 0 {
			t.Fatalf("an unclosed console block in %s", heading)
		}
		var cmds []tourCmd
		for _, line := range strings.Split(strings.TrimSuffix(section[:b], "\n"), "\n") {
			switch {
			case strings.HasPrefix(line, "$ "):
				text := strings.TrimPrefix(line, "$ ")
				cmds = append(cmds, tourCmd{text: text, skip: strings.HasPrefix(text, "make build")})
			case len(cmds) == 0:
				t.Fatalf("%s: output before any command: %q", heading, line)
			case strings.HasPrefix(line, "    ") && len(cmds[len(cmds)-1].want) == 0:
				cmds[len(cmds)-1].text += "\n" + line
			default:
				cmds[len(cmds)-1].want = append(cmds[len(cmds)-1].want, line)
			}
		}
		blocks = append(blocks, cmds)
		section = section[b+4:]
	}
}

// runTour runs the commands in one bash, in dir, with dir/bin first on
// PATH and this machine's environment otherwise, and returns each
// command's output lines (stdout and stderr). A server the tour starts in
// the background is stopped with it.
func runTour(t *testing.T, dir string, cmds []tourCmd) [][]string {
	t.Helper()
	var script strings.Builder
	script.WriteString("cd " + shellQuote(dir) + "\nexport PATH=" + shellQuote(filepath.Join(dir, "bin")) + ":$PATH\n")
	for i, c := range cmds {
		if c.skip {
			continue
		}
		fmt.Fprintf(&script, "echo '@@begin %d'\n%s\necho '@@end %d'\n", i, c.text, i)
	}
	// A server the tour started in the background ends with it.
	script.WriteString("kill $(jobs -p) 2>/dev/null\nwait\n")
	cmd := exec.Command("bash", "--noprofile", "--norc")
	cmd.Stdin = strings.NewReader(script.String())
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+built.cache, "HOME="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(3 * time.Minute):
		t.Error("the tours did not finish within 3 minutes")
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) // the background issuer
	results := make([][]string, len(cmds))
	cur := -1
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		line := sc.Text()
		var n int
		if _, err := fmt.Sscanf(line, "@@begin %d", &n); err == nil {
			cur = n
			continue
		}
		if _, err := fmt.Sscanf(line, "@@end %d", &n); err == nil {
			cur = -1
			continue
		}
		if cur >= 0 {
			results[cur] = append(results[cur], line)
		}
	}
	return results
}

// random are the values that differ between runs: appliance and license
// ids, contract tokens, verifier keys.
var random = []*regexp.Regexp{
	regexp.MustCompile(`A-[0-9a-z]{10}`),
	regexp.MustCompile(`L-[A-Z2-7]{26}`),
	regexp.MustCompile(`tnr_[A-Z2-7]+`),
	regexp.MustCompile(`[a-z][a-z0-9.-]*\+[0-9a-f]{8}\+[A-Za-z0-9+/]{43,}=?`),
	regexp.MustCompile(`127\.0\.0\.1:[0-9]+`),
}

func normalize(s string) string {
	for i, re := range random {
		s = re.ReplaceAllString(s, fmt.Sprintf("<%d>", i))
	}
	return s
}

// matchLines holds printed lines to the README's: line for line, after
// normalize, with "..." in the README matching anything.
func matchLines(want, got []string) error {
	if len(want) != len(got) {
		return fmt.Errorf("%d lines printed, the README shows %d", len(got), len(want))
	}
	for i := range want {
		w, g := normalize(want[i]), normalize(got[i])
		parts := strings.Split(w, "...")
		for j := range parts {
			parts[j] = regexp.QuoteMeta(parts[j])
		}
		if !regexp.MustCompile("^" + strings.Join(parts, ".*") + "$").MatchString(g) {
			return fmt.Errorf("line %d differs", i+1)
		}
	}
	return nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
