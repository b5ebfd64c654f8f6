package main

// End-to-end tests of "prsim conformance": the runner in one process, the
// reference server ("prsim server") in another.

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// conformanceOut is the --json report of "prsim conformance run".
type conformanceOut struct {
	Summary struct {
		Pass, Fail, Skipped, Error int
	} `json:"summary"`
	Results []struct {
		ID       string   `json:"id"`
		Family   string   `json:"family"`
		Level    string   `json:"level"`
		Persona  string   `json:"persona"`
		Rule     string   `json:"rule"`
		Status   string   `json:"status"`
		Detail   string   `json:"detail"`
		Exchange []string `json:"exchange"`
	} `json:"results"`
}

func TestConformanceAgainstServerProcess(t *testing.T) {
	pkiDir := newPKI(t)
	// License Server Time on: the clock family's C2 checks it; a stream
	// limit: SS6 checks it; a short revocation reload and an allow file:
	// the revocation family checks them.
	allow := revAllowFile(t)
	la := startServerArgs(t, pkiDir, append([]string{"--license-server-time", "--max-streams-per-account", "2"}, revServerArgs(allow)...)...) + "/rightsmanager.asmx"
	dir := t.TempDir()
	junit, html, ex := filepath.Join(dir, "junit.xml"), filepath.Join(dir, "report", "index.html"), filepath.Join(dir, "ex")
	require.NoError(t, os.MkdirAll(filepath.Dir(html), 0o755))

	start := time.Now()
	r := run(t, "conformance", "run", "--url", la, "--pki", pkiDir, "--json", "--junit", junit, "--html", html, "--save-exchange", ex,
		"--rev-allow", allow)
	t.Logf("full suite through the CLI against prsim server: %v", time.Since(start))
	require.Equal(t, 0, r.code, "%s", r)

	// Exactly one JSON object: summary and results.
	var top map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &top), "%s", r)
	require.Len(t, top, 2)
	var out conformanceOut
	decode(t, r, &out)
	require.NotEmpty(t, out.Results)
	require.Equal(t, len(out.Results)-1, out.Summary.Pass, "%s", r)
	for _, res := range out.Results {
		if res.ID == "Y6" { // entitlement messages only
			require.Equal(t, "skipped", res.Status, "%s: %s", res.ID, res.Detail)
			continue
		}
		require.Equal(t, "pass", res.Status, "%s: %s", res.ID, res.Detail)
		require.NotEmpty(t, res.Family)
		require.Contains(t, []string{"must", "should"}, res.Level)
		require.NotEmpty(t, res.Persona)
		require.NotEmpty(t, res.Rule)
	}

	// Saved exchanges are what "prsim inspect" reads.
	var challenges, responses int
	for _, res := range out.Results {
		for _, f := range res.Exchange {
			path := filepath.Join(ex, filepath.FromSlash(f))
			switch {
			case strings.HasSuffix(f, "-challenge.xml"):
				ok(t, "inspect", "challenge", path, "--json")
				challenges++
			case strings.HasSuffix(f, "-response.xml"):
				ok(t, "inspect", "response", path, "--json")
				responses++
			}
		}
	}
	require.Positive(t, challenges)
	require.Positive(t, responses)
	require.FileExists(t, filepath.Join(ex, "L1", "001-challenge.xml"))

	b, err := os.ReadFile(junit)
	require.NoError(t, err)
	require.Contains(t, string(b), `<testsuite name="licensing"`)
	b, err = os.ReadFile(html)
	require.NoError(t, err)
	require.Contains(t, string(b), `id="count-pass">`+strconv.Itoa(len(out.Results)-1)+`<`)
	require.Contains(t, string(b), `href="../ex/L1/001-challenge.xml"`)
}

// The entitlement profile against a server sharing a communication key:
// the policy family passes, with Y6 run; the key is printed nowhere; a
// missing or malformed --comm-key is a usage error that does not echo it.
func TestConformanceEntitlementProfile(t *testing.T) {
	const id = "3F2A7B1C-5D6E-4F80-9A1B-2C3D4E5F6071"
	key := base64.StdEncoding.EncodeToString([]byte("cli test communication key 32 by"))
	pkiDir := newPKI(t)
	la := startServerArgs(t, pkiDir, "--comm-key", id+"="+key) + "/rightsmanager.asmx"

	start := time.Now()
	r := run(t, "conformance", "run", "--url", la, "--pki", pkiDir, "--profile", "entitlement", "--comm-key", id+"="+key,
		"--only", "licensing,policy", "--json")
	t.Logf("licensing and policy families, profile entitlement, through the CLI: %v", time.Since(start))
	require.Equal(t, 0, r.code, "%s", r)
	var out conformanceOut
	decode(t, r, &out)
	seen := map[string]bool{}
	for _, res := range out.Results {
		seen[res.ID] = true
		require.Equal(t, "pass", res.Status, "%s: %s", res.ID, res.Detail)
	}
	for _, want := range []string{"L3", "L7", "Y1", "Y2", "Y3", "Y4", "Y5", "Y6", "Y7"} {
		require.True(t, seen[want], want)
	}
	require.NotContains(t, r.stdout+r.stderr, key)

	// The wrong key: Y6 still passes (its bad-signature case expects a
	// fault), every other policy request is refused (Y1–Y5, Y7).
	wrong := base64.StdEncoding.EncodeToString([]byte("not the key the server shares!!!"))
	r = run(t, "conformance", "run", "--url", la, "--pki", pkiDir, "--profile", "entitlement", "--comm-key", id+"="+wrong,
		"--only", "policy", "--json")
	require.Equal(t, 3, r.code, "%s", r)
	decode(t, r, &out)
	require.Equal(t, 6, out.Summary.Fail, "%s", r)
	require.NotContains(t, r.stdout+r.stderr, wrong)

	for name, args := range map[string][]string{
		"nokey": {"--profile", "entitlement"},
		"noid":  {"--profile", "entitlement", "--comm-key", "=" + key},
		"nob64": {"--profile", "entitlement", "--comm-key", id + "=not*base64"},
		"nosep": {"--profile", "entitlement", "--comm-key", key},
	} {
		t.Run(name, func(t *testing.T) {
			r := run(t, append([]string{"conformance", "run", "--url", la, "--pki", pkiDir}, args...)...)
			require.Equal(t, 1, r.code, "%s", r)
			require.Contains(t, r.stderr, "comm-key")
			require.NotContains(t, r.stderr, key)
			require.NotContains(t, r.stderr, "not*base64")
		})
	}
}

func TestConformanceExitCodes(t *testing.T) {
	pkiDir := newPKI(t)
	bad := startServerArgs(t, pkiDir, "--defect", "accept-untrusted-root") + "/rightsmanager.asmx"

	// A must scenario fails: exit 3, and stdout is still the one report.
	r := run(t, "conformance", "run", "--url", bad, "--pki", pkiDir, "--only", "protocol", "--json")
	require.Equal(t, 3, r.code, "%s", r)
	var out conformanceOut
	decode(t, r, &out)
	require.Equal(t, 1, out.Summary.Fail, "%s", r)
	for _, res := range out.Results {
		if res.ID == "P5" {
			require.Equal(t, "fail", res.Status)
			require.Contains(t, res.Detail, "expected")
		} else {
			require.Equal(t, "pass", res.Status, "%s: %s", res.ID, res.Detail)
		}
	}
	require.Contains(t, r.stderr, "must scenario")

	// The human report says the same.
	r = run(t, "conformance", "run", "--url", bad, "--pki", pkiDir, "--only", "protocol")
	require.Equal(t, 3, r.code, "%s", r)
	require.Contains(t, r.stdout, "FAIL    P5")

	// Usage errors: exit 1.
	for name, args := range map[string][]string{
		"scheme":  {"--url", "ftp://127.0.0.1/rightsmanager.asmx", "--pki", pkiDir},
		"pki":     {"--url", bad, "--pki", filepath.Join(t.TempDir(), "missing")},
		"family":  {"--url", bad, "--pki", pkiDir, "--only", "licensing,bogus"},
		"profile": {"--url", bad, "--pki", pkiDir, "--profile", "json"},
		"nourl":   {"--pki", pkiDir},
	} {
		t.Run(name, func(t *testing.T) {
			r := run(t, append([]string{"conformance", "run"}, args...)...)
			require.Equal(t, 1, r.code, "%s", r)
		})
	}
}

func TestConformanceList(t *testing.T) {
	var out struct {
		Scenarios []map[string]string `json:"scenarios"`
	}
	okJSON(t, &out, "conformance", "list", "--json")
	require.GreaterOrEqual(t, len(out.Scenarios), 20)
	ids := map[string]bool{}
	for _, s := range out.Scenarios {
		for _, k := range []string{"id", "family", "level", "persona", "rule", "title"} {
			require.NotEmpty(t, s[k], "%v", s)
		}
		ids[s["id"]] = true
	}
	for _, id := range []string{"L1", "P1", "F1", "B1"} {
		require.True(t, ids[id], id)
	}
	require.Contains(t, ok(t, "conformance", "list"), "L1")
}
