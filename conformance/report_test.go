package conformance_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/conformance"
	testfx "github.com/prsim/prsim/internal/fixture"
	"github.com/prsim/prsim/licsrv"
	"github.com/prsim/prsim/wire/soap"
)

// requireTools reports whether a missing external tool (xmllint, chromium)
// must fail the test instead of skipping it; CI sets it.
func requireTools() bool { return os.Getenv("PRSIM_REQUIRE_TOOLS") != "" } //nolint:forbidigo // test-only switch

func lookTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if requireTools() {
			t.Fatalf("%s not installed (required: PRSIM_REQUIRE_TOOLS is set)", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// mixedReport is a run with passes, one failure (no-nonce-echo breaks P1)
// and skips (profile none), exchanges saved under dir/exchange.
func mixedReport(t *testing.T, dir string) *conformance.Report {
	t.Helper()
	f := newFixture(t)
	return f.run(t, conformance.Options{URL: f.server(t, licsrv.DefectNoNonceEcho), Profile: conformance.ProfileNone,
		ExchangeDir: filepath.Join(dir, "exchange")})
}

func TestSavedExchangesParse(t *testing.T) {
	dir := t.TempDir()
	rep := mixedReport(t, dir)
	kinds := map[string]int{}
	for _, r := range rep.Results {
		if r.Status == conformance.Skipped {
			require.Empty(t, r.Exchange, r.ID)
			continue
		}
		require.NotEmpty(t, r.Exchange, r.ID)
		for _, f := range r.Exchange {
			require.True(t, strings.HasPrefix(f, r.ID+"/"), f)
			b, err := os.ReadFile(filepath.Join(dir, "exchange", filepath.FromSlash(f)))
			require.NoError(t, err)
			switch {
			case strings.HasSuffix(f, "-challenge.xml"):
				_, err = soap.ParseChallenge(b)
			case strings.HasSuffix(f, "-response.xml"):
				_, err = soap.ParseResponse(b)
			case strings.HasSuffix(f, "-fault.xml"):
				_, err = soap.ParseFault(b)
			case strings.HasSuffix(f, "-request.xml"):
				err = nil // a malformed body the faults family sent on purpose
			default:
				t.Fatalf("unexpected exchange file %s", f)
			}
			require.NoError(t, err, f)
			kinds[f[strings.LastIndexByte(f, '-')+1:]]++
		}
	}
	require.Positive(t, kinds["challenge.xml"])
	require.Positive(t, kinds["response.xml"])
	require.Positive(t, kinds["fault.xml"])
	require.Positive(t, kinds["request.xml"])
}

func TestJUnitValidates(t *testing.T) {
	xmllint := lookTool(t, "xmllint")
	dir := t.TempDir()
	rep := mixedReport(t, dir)
	var buf bytes.Buffer
	require.NoError(t, rep.WriteJUnit(&buf))
	file := filepath.Join(dir, "junit.xml")
	require.NoError(t, os.WriteFile(file, buf.Bytes(), 0o644))
	xsd, err := filepath.Abs(filepath.Join("testdata", "junit.xsd"))
	require.NoError(t, err)
	out, err := exec.Command(xmllint, "--noout", "--schema", xsd, file).CombinedOutput()
	require.NoError(t, err, "%s", out)

	// The schema can fail: a testcase without a name is refused.
	bad := filepath.Join(dir, "bad.xml")
	require.NoError(t, os.WriteFile(bad, []byte(`<testsuites><testsuite name="x" tests="1"><testcase classname="c"/></testsuite></testsuites>`), 0o644))
	out, err = exec.Command(xmllint, "--noout", "--schema", xsd, bad).CombinedOutput()
	require.Error(t, err, "%s", out)

	// Counts agree with the report, one suite per family.
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Skipped  int `xml:"skipped,attr"`
		Suites   []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Skipped  int    `xml:"skipped,attr"`
			Cases    []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
				Skipped *struct{} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	require.NoError(t, xml.Unmarshal(buf.Bytes(), &doc))
	require.Len(t, doc.Suites, len(conformance.Families()))
	failures, skipped, tests := 0, 0, 0
	for i, s := range doc.Suites {
		require.Equal(t, conformance.Families()[i], s.Name)
		require.Equal(t, len(s.Cases), s.Tests)
		tests += s.Tests
		failures += s.Failures
		skipped += s.Skipped
		for _, c := range s.Cases {
			if strings.HasPrefix(c.Name, "P1 ") {
				require.NotNil(t, c.Failure)
				require.Contains(t, c.Failure.Message, "LicenseNonce")
			}
		}
	}
	require.Equal(t, len(rep.Results), tests)
	require.Equal(t, tests, doc.Tests)
	require.Equal(t, failures, doc.Failures)
	require.Equal(t, skipped, doc.Skipped)
	require.Equal(t, rep.Summary.Fail, failures)
	require.Equal(t, rep.Summary.Skipped, skipped)
}

// chromiumDOM renders file in headless chromium and returns the DOM.
func chromiumDOM(t *testing.T, file string) string {
	t.Helper()
	chromium := lookTool(t, "chromium")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir="+t.TempDir(), "--dump-dom", "file://"+file)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "chromium: %s", stderr.String())
	return stdout.String()
}

func countFromDOM(t *testing.T, dom, status string) int {
	t.Helper()
	m := regexp.MustCompile(`id="count-` + status + `"[^>]*>(\d+)<`).FindStringSubmatch(dom)
	require.NotNil(t, m, "no count-%s in the DOM", status)
	n, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	return n
}

func TestHTMLReportInChromium(t *testing.T) {
	dir := t.TempDir()
	rep := mixedReport(t, dir)
	page := filepath.Join(dir, "html", "report.html")
	require.NoError(t, os.MkdirAll(filepath.Dir(page), 0o755))
	var buf bytes.Buffer
	require.NoError(t, rep.WriteHTML(&buf, filepath.Dir(page)))
	require.NoError(t, os.WriteFile(page, buf.Bytes(), 0o644))
	require.NotContains(t, buf.String(), "<script")
	require.NotRegexp(t, `(src|href)="https?://`, buf.String(), "nothing fetched")

	dom := chromiumDOM(t, page)
	require.Equal(t, rep.Summary.Pass, countFromDOM(t, dom, "pass"))
	require.Equal(t, rep.Summary.Fail, countFromDOM(t, dom, "fail"))
	require.Equal(t, rep.Summary.Skipped, countFromDOM(t, dom, "skipped"))
	require.Equal(t, rep.Summary.Error, countFromDOM(t, dom, "error"))
	require.Equal(t, 1, rep.Summary.Fail)
	require.Equal(t, len(skippedUnder[conformance.ProfileNone]), rep.Summary.Skipped) // L3, L7, F6, R1, Y1–Y7

	// Failures first: P1 is the first scenario row.
	rows := regexp.MustCompile(`<tr id="scenario-([A-Z]+[0-9]+)"`).FindAllStringSubmatch(dom, -1)
	require.Len(t, rows, len(rep.Results))
	require.Equal(t, "P1", rows[0][1])
	// Exchange links are relative and lead to the saved files.
	links := regexp.MustCompile(`href="([^"]+)"`).FindAllStringSubmatch(dom, -1)
	require.NotEmpty(t, links)
	for _, l := range links {
		require.False(t, filepath.IsAbs(l[1]), l[1])
		require.FileExists(t, filepath.Join(filepath.Dir(page), filepath.FromSlash(l[1])))
	}
	// The failure shows the rule, the expectation and what was seen.
	p1 := dom[strings.Index(dom, `id="scenario-P1"`):]
	p1 = p1[:strings.Index(p1, "</tr>")]
	for _, s := range []string{"soap.md", "LicenseNonce", "expected: "} {
		require.Contains(t, p1, s)
	}
}

// A server that does not publish its certificate works with ServerCert
// (the runner seeds it into each device's store) and errors without it.
func TestServerCertOption(t *testing.T) {
	f := newFixture(t)
	srv, err := f.fx.NewServer(f.config(licsrv.Config{MaxStreamsPerAccount: maxStreams}))
	require.NoError(t, err)
	hidden := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/prsim/server-cert" {
			http.NotFound(w, r)
			return
		}
		srv.ServeHTTP(w, r)
	})
	hs := httptest.NewUnstartedServer(hidden)
	// Short timeouts, as the reference server's in f.server, for R3 and R4.
	hs.Config.ReadHeaderTimeout, hs.Config.IdleTimeout = time.Second, time.Second
	hs.Start()
	t.Cleanup(hs.Close)
	u := hs.URL + "/rightsmanager.asmx"

	rep := f.run(t, conformance.Options{URL: u, Only: []string{conformance.FamilyProtocol}})
	for _, r := range rep.Results {
		require.Equal(t, conformance.Error, r.Status, r.ID)
		require.Contains(t, r.Detail, "--server-cert")
	}
	require.True(t, rep.MustFailed())

	rep = f.run(t, conformance.Options{URL: u, ServerCert: f.pki.Server.Chain.Bytes()})
	fails, others := statuses(rep)
	require.Empty(t, fails, "%s", details(rep))
	require.Empty(t, unexpected(others, conformance.ProfileCfg), "%s", details(rep))
}

func TestSimBackend(t *testing.T) {
	f := newFixture(t)
	url := f.server(t)
	work := t.TempDir()
	o := conformance.Options{URL: url, PKIDir: f.dir, TPM: "sim", Now: clock, Rand: testfx.Seeded(3), WorkDir: work,
		RevocationWait: revWait, RevAllow: f.allow}
	rep, err := conformance.Run(context.Background(), o)
	require.NoError(t, err)
	fails, others := statuses(rep)
	if len(others) > 0 && strings.Contains(details(rep), "simulator") && !requireTools() {
		t.Skipf("TPM simulator unavailable (no cgo?):\n%s", details(rep))
	}
	require.Empty(t, fails, "%s", details(rep))
	require.Empty(t, unexpected(others, conformance.ProfileCfg), "%s", details(rep))
	require.Equal(t, len(conformance.Scenarios())-len(skippedUnder[conformance.ProfileCfg]), rep.Summary.Pass)
	// Every device the runner made lives in the simulator, but SS3's,
	// whose keys the runner reads.
	devs, err := filepath.Glob(filepath.Join(work, "devices", "*", "device.json"))
	require.NoError(t, err)
	require.Len(t, devs, 6)
	for _, d := range devs {
		b, err := os.ReadFile(d)
		require.NoError(t, err)
		backend := `"backend": "sim:[0-9]+"`
		if filepath.Base(filepath.Dir(d)) == conformance.PersonaSL3000Soft {
			backend = `"backend": "soft"`
		}
		require.Regexp(t, backend, string(b), d)
	}
}

func ExampleScenarios() {
	for _, fam := range conformance.Families() {
		var ids []string
		for _, s := range conformance.Scenarios() {
			if s.Family == fam {
				ids = append(ids, s.ID)
			}
		}
		fmt.Printf("%s: %s\n", fam, strings.Join(ids, " "))
	}
	// Output:
	// licensing: L1 L2 L3 L4 L5 L6 L7
	// protocol: P1 P2 P3 P4 P5 P6
	// faults: F1 F2 F3 F4 F5 F6 F7
	// playback: B1 B2
	// robustness: R1 R2 R3 R4
	// policy: Y1 Y2 Y3 Y4 Y5 Y6 Y7
	// clock: C1 C2 C3 C4 C5
	// securestop: SS1 SS2 SS3 SS4 SS5 SS6
	// revocation: RV1 RV2 RV3 RV4 RV5
}

// Content keys travel in the cfg query; a report never shows them, not even
// when the request fails in transport (whose error names the URL).
func TestNoContentKeyInReports(t *testing.T) {
	f := newFixture(t)
	rep := f.run(t, conformance.Options{URL: "http://127.0.0.1:1/rightsmanager.asmx", ServerCert: f.pki.Server.Chain.Bytes(),
		Only: []string{conformance.FamilyPlayback}})
	var js, junit, html bytes.Buffer
	require.NoError(t, rep.WriteJSON(&js))
	require.NoError(t, rep.WriteJUnit(&junit))
	require.NoError(t, rep.WriteHTML(&html, ""))
	for _, r := range rep.Results {
		require.Equal(t, conformance.Error, r.Status, r.ID)
		require.Contains(t, r.Detail, "no HTTP answer")
	}
	for _, out := range []string{js.String(), junit.String(), html.String()} {
		require.NotContains(t, out, "contentkey:")
		require.NotContains(t, out, "cfg=")
	}
}

// The server URL a report shows has no user information or query: an
// operator's URL may carry a password, a token or a cfg with content keys.
func TestReportURLRedacted(t *testing.T) {
	f := newFixture(t)
	rep := f.run(t, conformance.Options{
		URL:        "http://operator:hunter2@127.0.0.1:1/rightsmanager.asmx?cfg=(contentkey:AAECAwQFBgcICQoLDA0ODw==)",
		ServerCert: f.pki.Server.Chain.Bytes(), Only: []string{conformance.FamilyPlayback}})
	require.Equal(t, "http://127.0.0.1:1/rightsmanager.asmx?…", rep.URL)
	var js, junit, html bytes.Buffer
	require.NoError(t, rep.WriteJSON(&js))
	require.NoError(t, rep.WriteJUnit(&junit))
	require.NoError(t, rep.WriteHTML(&html, ""))
	for _, out := range []string{js.String(), junit.String(), html.String()} {
		require.NotContains(t, out, "hunter2")
		require.NotContains(t, out, "contentkey:")
		require.NotContains(t, out, "AAECAwQFBgcICQoLDA0ODw")
	}
	require.Contains(t, junit.String(), "http://127.0.0.1:1/rightsmanager.asmx")
}
