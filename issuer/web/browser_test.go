package web_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenurehq/tenure/issuer/internal/issuertest"
	"github.com/tenurehq/tenure/shared/engine"
)

// chromiumPath is Debian's chromium; scripts/browser.sh installs it.
const chromiumPath = "/usr/bin/chromium"

// TestBrowser drives the page in a real browser against a real issuer: the
// tenure-issuer binary serving on 127.0.0.1, the tenure CLI running a
// validator built to trust that issuer's key. A customer's wrong token,
// tampered LRF and an LRF from an appliance whose clock ran ahead are
// refused on the page (the last with the advice to ask for a clock reset); the real LRF's license downloads,
// installs on the appliance and makes it licensed; the appliance's release
// receipt frees the seat. Another appliance's usage report, signed with its
// device key, is uploaded on the page and the contract view charts its
// peaks against the limits. The contract's ledger shows each step, newest
// first, its older page on request. Screenshots land in screenshots/ at the
// root.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the issuer, the validator and the CLI, and runs chromium")
	}
	root := moduleRoot(t)
	browserDir := filepath.Join(root, "issuer", "web", "testdata", "browser")
	requireBrowser(t, browserDir)

	tmp := t.TempDir()
	data := filepath.Join(tmp, "issuer")
	issuerBin := goBuild(t, root, filepath.Join(tmp, "tenure-issuer"), nil, "./issuer/cmd/tenure-issuer")

	// The issuer's key, made by the issuer itself; the validator trusts it.
	run(t, nil, issuerBin, "keygen", "--name", "tenure-issuer-browser", "--dir", data)
	trust, err := os.ReadFile(filepath.Join(data, "issuer.pub"))
	if err != nil {
		t.Fatal(err)
	}
	tenure := buildTenure(t, root, tmp, trust)

	srv := startIssuer(t, issuerBin, data)
	token := srv.createContract(t, "IC-7001", 2)
	// More than a page of the page's ledger (100 entries): the contract's
	// token sent for another contract, each 403 recorded in IC-7001's own
	// ledger.
	srv.createContract(t, "IC-7002", 1)
	for range 120 {
		req, _ := http.NewRequest("GET", srv.url+"/v1/contracts/IC-7002", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("IC-7001's token on IC-7002: %d, want 403", resp.StatusCode)
		}
	}

	// The appliance, and its LRF.
	state := filepath.Join(tmp, "state")
	platform := filepath.Join(tmp, "platform.json")
	if err := os.WriteFile(platform, []byte(`{"machine_id":"4c4c4544-0042-3510-8052-b4c04f4e3732","dmi_uuid":"b1e2d3c4","mac:eth0":"52:54:00:12:34:56"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	// In process: a resident host would outlive the test, and its socket
	// would be the user's.
	cliEnv := []string{"XDG_CACHE_HOME=" + filepath.Join(tmp, "cache"), "TENURE_RESIDENT=off"}
	appliance := func(args ...string) string {
		return run(t, cliEnv, tenure, append([]string{"--state", state, "--platform", platform}, args...)...)
	}
	appliance("init", "--product", "edge", "--version", "1.0.0")
	lrf := []byte(appliance("request"))
	lrfPath := filepath.Join(tmp, "edge.lrf")
	tamperedPath := filepath.Join(tmp, "edge-tampered.lrf")
	writeFile(t, lrfPath, lrf)
	writeFile(t, tamperedPath, tamper(t, lrf))

	// A second appliance, whose clock ran to 2099: its LRF is from the
	// future.
	aheadState, aheadPath := filepath.Join(tmp, "state-ahead"), filepath.Join(tmp, "edge-ahead.lrf")
	ahead := func(args ...string) string {
		return run(t, append(cliEnv, "TENURE_NOW=2099-01-01T00:00:00Z"), tenure, append([]string{"--state", aheadState, "--platform", platform}, args...)...)
	}
	ahead("init", "--product", "edge", "--version", "1.0.0")
	writeFile(t, aheadPath, []byte(ahead("request")))

	shots := filepath.Join(root, "screenshots")
	downloads := filepath.Join(tmp, "downloads")
	for _, d := range []string{shots, downloads} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pageEnv := []string{
		"TENURE_URL=" + srv.url, "TENURE_CONTRACT=IC-7001", "TENURE_TOKEN=" + token,
		"TENURE_LRF=" + lrfPath, "TENURE_TAMPERED_LRF=" + tamperedPath, "TENURE_AHEAD_LRF=" + aheadPath,
		"TENURE_EFFECTIVE=" + time.Now().UTC().Format("2006-01-02"),
		"TENURE_DOWNLOADS=" + downloads, "TENURE_SCREENSHOTS=" + shots, "TENURE_CHROMIUM=" + chromiumPath,
	}

	var got struct{ License, File string }
	browse(t, browserDir, pageEnv, "activate", &got)
	if filepath.Base(got.File) != got.License+".license" {
		t.Fatalf("downloaded %s for license %s", got.File, got.License)
	}
	license, err := os.ReadFile(got.File)
	if err != nil {
		t.Fatalf("the download is not on disk: %v", err)
	}
	if !bytes.HasPrefix(license, []byte("-----BEGIN TENURE LICENSE-----\n")) {
		t.Fatalf("the download is not a sealed license:\n%.200s", license)
	}

	// The license, carried back to the appliance.
	appliance("install", got.File)
	var status struct {
		State    string
		Licenses []struct{ ID, Contract, Standing, Reason string }
	}
	if err := json.Unmarshal([]byte(appliance("status", "--json")), &status); err != nil {
		t.Fatal(err)
	}
	if status.State != "licensed" || len(status.Licenses) != 1 || status.Licenses[0].ID != got.License ||
		status.Licenses[0].Standing != "active" || status.Licenses[0].Contract != "IC-7001" {
		t.Fatalf("after installing the downloaded license: %+v, want licensed by %s", status, got.License)
	}

	// The appliance gives the seat back; its receipt goes through the page.
	receipt := filepath.Join(tmp, "release.receipt")
	writeFile(t, receipt, []byte(appliance("release", got.License)))
	var released struct{ Released []string }
	browse(t, browserDir, append(pageEnv, "TENURE_RECEIPT="+receipt), "release", &released)
	if len(released.Released) != 1 || released.Released[0] != got.License {
		t.Fatalf("the page shows %q released, want %s", released.Released, got.License)
	}
	var view struct {
		Contract struct {
			Used int `json:"appliances_used"`
		}
		Appliances []struct{ Released *string }
	}
	srv.get(t, "/v1/contracts/IC-7001", &view)
	if view.Contract.Used != 0 || len(view.Appliances) != 1 || view.Appliances[0].Released == nil {
		t.Fatalf("after the release the issuer has %+v, want the seat free", view)
	}

	// Another appliance, activated through the API, reports its usage
	// through the page: vpn_users went over the contract's 250.
	now := time.Now().UTC()
	reporter := issuertest.NewAppliance(t, 7001)
	var activated struct{ ID string }
	body, _ := json.Marshal(map[string]string{"contract": "IC-7001", "request": reporter.LRF(t, now)})
	srv.do(t, "POST", "/v1/activations", string(body), http.StatusCreated, &activated)
	report := reporter.Report(t, "IC-7001", now.AddDate(0, 0, -30), now,
		map[string]engine.Peaks{"vpn_users": {Allowed: 250, Denied: 300}, "peering_tunnels": {Allowed: 40}}, map[string]int{"vpn": 5, "scion": 7})
	reportPath := filepath.Join(tmp, "usage.txt")
	writeFile(t, reportPath, []byte(report))
	var reported struct{ ID, Appliance string }
	browse(t, browserDir, append(pageEnv, "TENURE_REPORT="+reportPath), "report", &reported)
	signed, err := engine.Dearmor(engine.LabelUsage, []byte(report))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(signed); reported.ID != hex.EncodeToString(sum[:]) || reported.Appliance != "A-00007001" {
		t.Fatalf("the page shows report %s of %s, want the SHA-256 of the signed report and A-00007001", reported.ID, reported.Appliance)
	}
	var usage struct {
		Peaks map[string]struct {
			Peak, Limit int64
			Appliance   string
		}
	}
	srv.get(t, "/v1/contracts/IC-7001", &usage)
	if p := usage.Peaks["vpn_users"]; p.Peak != 300 || p.Limit != 250 || p.Appliance != "A-00007001" {
		t.Fatalf("after the report the issuer keeps the peaks %+v, want vpn_users 300 over 250", usage.Peaks)
	}

	for _, name := range []string{"activation.png", "contract.png", "ledger.png", "refusal.png", "refusal-clock.png", "refusal-token.png", "release.png",
		"refusal-report.png", "usage.png", "report.png"} {
		if fi, err := os.Stat(filepath.Join(shots, name)); err != nil || fi.Size() == 0 {
			t.Errorf("no screenshot %s: %v", name, err)
		}
	}
}

// requireBrowser makes sure chromium, node and the npm packages are there:
// without them the test fails under CI and skips elsewhere.
func requireBrowser(t *testing.T, dir string) {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...) + "; run scripts/browser.sh"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		missing("no browser at %s (Debian's chromium)", chromiumPath)
	}
	if _, err := exec.LookPath("node"); err != nil {
		missing("no node")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core")); err == nil {
		return
	}
	if _, err := exec.LookPath("npm"); err != nil {
		missing("no npm to install playwright-core")
	}
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
	}
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		t.Fatal("not inside the tenure module")
	}
	return filepath.Dir(gomod)
}

// goBuild builds pkg into out from the module root.
func goBuild(t *testing.T, root, out string, env []string, pkg string, flags ...string) string {
	t.Helper()
	args := append(append([]string{"build", "-trimpath", "-o", out}, flags...), pkg)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// buildTenure builds the validator reactor trusting the keys in trust and the
// tenure CLI around it. The reactor is embedded through an overlay, so a
// module left in wasm/module by `make build` is never the one tested, and the
// CLI records its SHA-256, as a release build does.
func buildTenure(t *testing.T, root, dir string, trust []byte) string {
	t.Helper()
	const mod = "github.com/tenurehq/tenure"
	reactor := goBuild(t, root, filepath.Join(dir, "validator-reactor.wasm"),
		[]string{"GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0"}, "./validator/cmd/validator-reactor",
		"-buildmode=c-shared", "-ldflags", "-X "+mod+"/validator.buildTrust="+base64.StdEncoding.EncodeToString(trust))
	b, err := os.ReadFile(reactor)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	overlay, err := json.Marshal(map[string]map[string]string{"Replace": {
		filepath.Join(root, "wasm", "module", "validator-reactor.wasm"): reactor,
	}})
	if err != nil {
		t.Fatal(err)
	}
	overlayFile := filepath.Join(dir, "overlay.json")
	writeFile(t, overlayFile, overlay)
	return goBuild(t, root, filepath.Join(dir, "tenure"), nil, "./wasm/cmd/tenure",
		"-overlay", overlayFile, "-ldflags", "-X "+mod+"/wasm.moduleSHA256="+hex.EncodeToString(sum[:]))
}

// run runs a command and returns its stdout; a failure ends the test.
func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(name), strings.Join(args, " "), err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.String()
}

// browse runs one phase of run.mjs and decodes its result.
func browse(t *testing.T, dir string, env []string, phase string, result any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "node", "run.mjs", phase)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("browser, %s: %v", phase, time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("the page failed (%s phase; screenshots in screenshots/): %v\n%s%s", phase, err, stdout.Bytes(), stderr.Bytes())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), result); err != nil {
		t.Fatalf("run.mjs %s printed no result: %v\n%s", phase, err, stdout.Bytes())
	}
}

func writeFile(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// tamper raises the software version an LRF claims, keeping it well-formed
// and armored as the appliance printed it: only its device signature no
// longer matches.
func tamper(t *testing.T, lrf []byte) []byte {
	t.Helper()
	signed, err := engine.Dearmor(engine.LabelRequest, lrf)
	if err != nil {
		t.Fatalf("the LRF does not dearmor: %v\n%s", err, lrf)
	}
	changed := bytes.Replace(signed, []byte(`"version":"1.0.0"`), []byte(`"version":"9.0.0"`), 1)
	if bytes.Equal(changed, signed) {
		t.Fatalf("the LRF claims no version 1.0.0:\n%s", signed)
	}
	return engine.Armor(engine.LabelRequest, changed)
}

// issuerProc is tenure-issuer serve on a free port of 127.0.0.1.
type issuerProc struct {
	url, admin string
}

func startIssuer(t *testing.T, bin, data string) *issuerProc {
	t.Helper()
	p := &issuerProc{admin: "tna_" + rand.Text()}
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data", data)
	cmd.Env = append(os.Environ(), "TENURE_ADMIN_TOKEN="+p.admin)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		log bytes.Buffer
	)
	listening := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			log.Write(append(sc.Bytes(), '\n'))
			mu.Unlock()
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				select {
				case listening <- line.Addr:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		wait := make(chan error, 1)
		go func() { wait <- cmd.Wait() }()
		select {
		case err := <-wait:
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				t.Errorf("the issuer did not stop: %v", err)
			}
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-wait
		}
		<-done
		if t.Failed() {
			mu.Lock()
			t.Logf("issuer log:\n%s", log.Bytes())
			mu.Unlock()
		}
	})
	select {
	case addr := <-listening:
		p.url = addr
	case <-done:
		t.Fatalf("the issuer exited before listening:\n%s", log.Bytes())
	case <-time.After(30 * time.Second):
		t.Fatal("the issuer did not listen within 30s")
	}
	if !strings.HasPrefix(p.url, "http://127.0.0.1:") {
		t.Fatalf("the issuer listens on %q", p.url)
	}
	return p
}

func (p *issuerProc) do(t *testing.T, method, path, body string, status int, out any) {
	t.Helper()
	req, err := http.NewRequest(method, p.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+p.admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, status, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s %s: %v: %s", method, path, err, b)
	}
}

func (p *issuerProc) get(t *testing.T, path string, out any) {
	t.Helper()
	p.do(t, "GET", path, "", http.StatusOK, out)
}

// createContract orders a contract of the edge product's pro tier, without
// its feature peering, and returns its token.
func (p *issuerProc) createContract(t *testing.T, id string, seats int) string {
	t.Helper()
	body := fmt.Sprintf(`{"customer":"ACME Networks","product":"edge","tier":"pro","kind":"commercial",`+
		`"features":["monitoring","scion","vpn"],"limits":{"peering_tunnels":100,"vpn_users":250},`+
		`"appliances":%d,"term_months":12,"change":"order","status":"active"}`, seats)
	var created struct{ Token string }
	p.do(t, "PUT", "/v1/contracts/"+id, body, http.StatusCreated, &created)
	if created.Token == "" {
		t.Fatal("the contract was created without a token")
	}
	return created.Token
}
