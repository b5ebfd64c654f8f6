package main

// The conformance family revocation through the binary: "prsim conformance
// run --only revocation" against "prsim server" processes, clean and with
// each revocation defect.

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// revAllowFile writes an empty RevAllowInfo allow file for a server and
// the runner to share.
func revAllowFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "revallow.xml")
	require.NoError(t, os.WriteFile(p, []byte("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<RevAllowInfo>\n  <AllowList>\n  </AllowList>\n</RevAllowInfo>\n"), 0o644))
	return p
}

// revServerArgs are the server flags the revocation family needs: a short
// reload and the allow file.
func revServerArgs(allow string) []string {
	return []string{"--revocation-reload", "50ms", "--rev-allow", allow}
}

func TestConformanceRevocationFamily(t *testing.T) {
	for _, c := range []struct {
		defect string
		fails  []string
		code   int
	}{
		{"", nil, 0},
		{"accept-revoked", []string{"RV1", "RV2", "RV3"}, 3},
		{"stale-revinfo", []string{"RV4"}, 3},
		{"ignore-allow-list", []string{"RV3"}, 0}, // RV3 is a should
		{"riv-zero", []string{"RV5"}, 3},
	} {
		name := c.defect
		if name == "" {
			name = "clean"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel() // the failing runs mostly wait for --revocation-wait
			pkiDir, allow := newPKI(t), revAllowFile(t)
			args := revServerArgs(allow)
			if c.defect != "" {
				args = append(args, "--defect", c.defect)
			}
			la := startServerArgs(t, pkiDir, args...) + "/rightsmanager.asmx"
			r := run(t, "conformance", "run", "--url", la, "--pki", pkiDir, "--only", "revocation",
				"--rev-allow", allow, "--revocation-wait", "3s", "--json")
			require.Equal(t, c.code, r.code, "%s", r)
			var out conformanceOut
			decode(t, r, &out)
			var fails []string
			for _, res := range out.Results {
				require.Equal(t, "revocation", res.Family)
				if res.Status == "fail" {
					fails = append(fails, res.ID)
					require.Contains(t, res.Detail, "expected ")
					continue
				}
				require.Equal(t, "pass", res.Status, "%s: %s", res.ID, res.Detail)
			}
			sort.Strings(fails)
			require.Equal(t, c.fails, fails, "%s", r)
			require.Len(t, out.Results, 5)

			// The authority's lists moved: three revocations (RV1-RV3).
			var crl struct {
				RIV uint32 `json:"riv"`
			}
			okJSON(t, &crl, "pki", "crl", "--pki", pkiDir, "--json")
			require.Equal(t, uint32(4), crl.RIV)
		})
	}
}

// Without --rev-allow, RV3 is skipped with the reason; a bad one is a
// usage error.
func TestConformanceRevocationWithoutAllowFile(t *testing.T) {
	pkiDir := newPKI(t)
	la := startServerArgs(t, pkiDir, "--revocation-reload", "50ms") + "/rightsmanager.asmx"
	r := run(t, "conformance", "run", "--url", la, "--pki", pkiDir, "--only", "revocation", "--json")
	require.Equal(t, 0, r.code, "%s", r)
	var out conformanceOut
	decode(t, r, &out)
	for _, res := range out.Results {
		if res.ID == "RV3" {
			require.Equal(t, "skipped", res.Status)
			require.Contains(t, res.Detail, "--rev-allow")
			continue
		}
		require.Equal(t, "pass", res.Status, "%s: %s", res.ID, res.Detail)
	}
	r = run(t, "conformance", "run", "--url", la, "--pki", pkiDir, "--only", "revocation", "--rev-allow", filepath.Join(t.TempDir(), "missing.xml"))
	require.Equal(t, 1, r.code, "%s", r)
	require.Contains(t, r.stderr, "--rev-allow")
}
