package layers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/prsim/prsim"

// Shared helpers any layer at or above wire may use.
var helpers = []string{"drm", "internal/ecc", "internal/cmac", "internal/keywrap", "internal/safetext"}

// allowed lists, for every prsim package (a "/..." suffix covers the
// subtree), the prsim packages its non-test code may import. The order is
// docs/architecture.md's, bottom up: data flows one way, so a package never
// imports anything listed for a package above it. A new package must be
// added here (and to docs/architecture.md) before its imports are accepted.
var allowed = []struct {
	pkg string
	may []string
}{
	{"drm", nil},
	{"clock", nil},
	{"internal/ecc", nil},
	{"internal/cmac", nil},
	// RFC 3394 AES key wrap (the SecureStop2 key in a license): stdlib only.
	{"internal/keywrap", nil},
	{"internal/safetext", nil},
	{"internal/swtpm", nil},
	{"internal/testsummary", nil},
	{"internal/layers", nil},
	{"bench", nil},
	{"bench/benchjson", nil},
	// The Axinom-style entitlement message (JWT + message v2): one
	// definition for the server (licsrv), the runner (conformance) and the
	// CLI, which all reach it through wire/...; pure, on kid and drm only.
	{"wire/entitlement", []string{"drm", "internal/safetext", "wire/kid"}},
	// Secure-stop records and the server's signed acknowledgement: the
	// signer and the challenge wrapper come from wire/soap.
	{"wire/securestop", []string{"drm", "internal/ecc", "internal/cmac", "wire/kid", "wire/soap"}},
	// Revocation lists (RevInfo v2, CRLs): signed by a CRL-signer BCert
	// chain, so they verify with wire/bcert and nothing above it.
	{"wire/revocation", []string{"drm", "internal/ecc", "wire/kid", "wire/bcert"}},
	// Pure wire formats: no I/O, nothing of devices or servers.
	{"wire/...", cat(helpers, "wire/...")},
	{"internal/keyseed", cat(helpers, "wire/...")},
	{"internal/pki", cat(helpers, "wire/...")},
	{"internal/testmedia", cat(helpers, "wire/...", "internal/keyseed")},
	{"testvectors", cat(helpers, "wire/...", "internal/keyseed")},
	{"hal", []string{"drm", "clock"}},
	// The one policy decision point: pure, below the TEE.
	{"policy", []string{"drm", "hal", "wire/xmr", "wire/kid"}},
	{"store", cat(helpers, "wire/...", "clock")},
	{"tee/internal/...", cat(helpers, "tee/internal/...", "internal/swtpm")},
	{"tee", cat(helpers, "tee/internal/...", "wire/...", "clock", "hal", "policy")},
	{"ree", cat(helpers, "tee", "store", "hal", "policy", "clock", "wire/...")},
	// The reference server speaks wire only: never tee, hal, ree or store.
	{"licsrv", cat(helpers, "wire/...", "clock", "internal/keyseed")},
	// Conformance tests servers over HTTP as a device would: above ree,
	// beside the CLI, never importing the reference server.
	{"conformance", cat(helpers, "ree", "tee", "store", "hal", "policy", "clock", "wire/...",
		"internal/keyseed", "internal/pki", "internal/testmedia")},
	// One fixture (PKI, server, devices) for every test, benchmark and the demo.
	{"internal/fixture", cat(helpers, "licsrv", "ree", "tee", "clock", "wire/...", "internal/pki")},
	{"internal/demo", cat(helpers, "conformance", "internal/fixture", "licsrv", "ree", "tee", "store", "hal", "policy", "clock", "wire/...",
		"internal/keyseed", "internal/pki", "internal/testmedia")},
	{"internal/cli", cat(helpers, "conformance", "internal/demo", "licsrv", "ree", "tee", "store", "hal", "policy",
		"clock", "wire/...", "internal/keyseed", "internal/pki", "internal/testmedia")},
	// The binary only builds the command tree and maps errors to exit codes.
	{"cmd/...", []string{"internal/cli", "drm"}},
	// Test helpers: imported by tests only (checked below).
	{"internal/swtpmtest", []string{"internal/swtpm"}},
	{"tee/internal/tpm/tpmtest", cat(helpers, "tee/internal/tpm")},
}

// Packages only tests may import; they alone may import "testing".
func isTestHelper(pkg string) bool {
	last := pkg[strings.LastIndex(pkg, "/")+1:]
	return strings.HasSuffix(last, "test")
}

// pureTests bounds what the tests of the wire layer import, so its tests
// stay as pure as its code.
var pureTests = map[string][]string{
	"wire/...": cat(helpers, "wire/...", "internal/keyseed", "testvectors"),
}

func cat(a []string, b ...string) []string { return append(append([]string(nil), a...), b...) }

func match(pattern, pkg string) bool {
	if p, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == p || strings.HasPrefix(pkg, p+"/")
	}
	return pattern == pkg
}

// pkgInfo is what `go list -json` says about one package, paths relative
// to the module.
type pkgInfo struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

// check returns every layering violation in pkgs, sorted; std names the
// standard library's packages.
func check(pkgs []pkgInfo, std map[string]bool) []string {
	isOwn := func(imp string) bool {
		// Third-party paths start with a host name; prsim's were made
		// module-relative by loadGraph.
		first, _, _ := strings.Cut(imp, "/")
		return !strings.Contains(first, ".") && !std[imp]
	}
	var bad []string
	for _, p := range pkgs {
		rule := -1
		for i, r := range allowed {
			if match(r.pkg, p.ImportPath) {
				rule = i
				break
			}
		}
		if rule < 0 {
			bad = append(bad, fmt.Sprintf("%s: not in the layer table (add it to internal/layers and docs/architecture.md)", p.ImportPath))
			continue
		}
		for _, imp := range p.Imports {
			if imp == "testing" && !isTestHelper(p.ImportPath) {
				bad = append(bad, fmt.Sprintf("%s imports testing: production code must not", p.ImportPath))
			}
			if !isOwn(imp) || imp == p.ImportPath {
				continue
			}
			if isTestHelper(imp) && !isTestHelper(p.ImportPath) {
				bad = append(bad, fmt.Sprintf("%s imports test helper %s", p.ImportPath, imp))
				continue
			}
			if !matchAny(allowed[rule].may, imp) {
				bad = append(bad, fmt.Sprintf("%s imports %s: not allowed by its layer", p.ImportPath, imp))
			}
		}
		for pat, may := range pureTests {
			if !match(pat, p.ImportPath) {
				continue
			}
			for _, imp := range cat(p.TestImports, p.XTestImports...) {
				if isOwn(imp) && imp != p.ImportPath && !matchAny(may, imp) {
					bad = append(bad, fmt.Sprintf("%s tests import %s: not allowed by its layer", p.ImportPath, imp))
				}
			}
		}
	}
	sort.Strings(bad)
	return bad
}

func matchAny(patterns []string, pkg string) bool {
	for _, pat := range patterns {
		if match(pat, pkg) {
			return true
		}
	}
	return false
}

// loadGraph runs `go list` over the module and returns its packages, with
// prsim import paths made module-relative, and the standard library's.
func loadGraph(t *testing.T) ([]pkgInfo, map[string]bool) {
	t.Helper()
	out, err := exec.Command("go", "list", "std").Output()
	require.NoError(t, err, "go list std")
	std := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		std[p] = true
	}
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Imports,TestImports,XTestImports", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err = cmd.Output()
	require.NoError(t, err, "go list: %s", stderr.String())
	var pkgs []pkgInfo
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkgInfo
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		rel := func(s []string) []string {
			var r []string
			for _, x := range s {
				if y, ok := strings.CutPrefix(x, module+"/"); ok {
					x = y
				} else if x == module {
					x = "."
				}
				r = append(r, x)
			}
			return r
		}
		p.ImportPath = rel([]string{p.ImportPath})[0]
		p.Imports, p.TestImports, p.XTestImports = rel(p.Imports), rel(p.TestImports), rel(p.XTestImports)
		pkgs = append(pkgs, p)
	}
	require.NotEmpty(t, pkgs)
	return pkgs, std
}

// TestLayers enforces the layering on the real import graph.
func TestLayers(t *testing.T) {
	pkgs, std := loadGraph(t)
	var names []string
	for _, p := range pkgs {
		names = append(names, p.ImportPath)
	}
	// The graph was read: the packages the rules are about are in it.
	for _, want := range []string{"wire/xmr", "tee", "ree", "licsrv", "cmd/prsim", "internal/layers"} {
		require.Contains(t, names, want)
	}
	bad := check(pkgs, std)
	require.Empty(t, bad, "import layering (docs/architecture.md) broken:\n%s", strings.Join(bad, "\n"))
}

// TestCheckCatchesUpwardImports shows the check fails on the imports the
// layering forbids.
func TestCheckCatchesUpwardImports(t *testing.T) {
	std := map[string]bool{"fmt": true, "testing": true}
	for _, tc := range []struct {
		pkg  pkgInfo
		want string
	}{
		{pkgInfo{ImportPath: "wire/xmr", Imports: []string{"fmt", "tee"}}, "wire/xmr imports tee"},
		{pkgInfo{ImportPath: "wire/pro", Imports: []string{"ree"}}, "wire/pro imports ree"},
		{pkgInfo{ImportPath: "wire/entitlement", Imports: []string{"licsrv"}}, "wire/entitlement imports licsrv"},
		{pkgInfo{ImportPath: "wire/entitlement", Imports: []string{"wire/xmr"}}, "wire/entitlement imports wire/xmr"},
		{pkgInfo{ImportPath: "licsrv", Imports: []string{"tee"}}, "licsrv imports tee"},
		{pkgInfo{ImportPath: "licsrv", Imports: []string{"hal"}}, "licsrv imports hal"},
		{pkgInfo{ImportPath: "licsrv", Imports: []string{"ree"}}, "licsrv imports ree"},
		{pkgInfo{ImportPath: "tee", Imports: []string{"ree"}}, "tee imports ree"},
		{pkgInfo{ImportPath: "tee", Imports: []string{"store"}}, "tee imports store"},
		{pkgInfo{ImportPath: "ree", Imports: []string{"conformance"}}, "ree imports conformance"},
		{pkgInfo{ImportPath: "ree", Imports: []string{"licsrv"}}, "ree imports licsrv"},
		{pkgInfo{ImportPath: "conformance", Imports: []string{"licsrv"}}, "conformance imports licsrv"},
		{pkgInfo{ImportPath: "store", Imports: []string{"tee"}}, "store imports tee"},
		{pkgInfo{ImportPath: "cmd/prsim", Imports: []string{"ree"}}, "cmd/prsim imports ree"},
		{pkgInfo{ImportPath: "tee", Imports: []string{"testing"}}, "tee imports testing"},
		{pkgInfo{ImportPath: "tee", Imports: []string{"internal/swtpmtest"}}, "tee imports test helper internal/swtpmtest"},
		{pkgInfo{ImportPath: "wire/soap", XTestImports: []string{"licsrv"}}, "wire/soap tests import licsrv"},
		{pkgInfo{ImportPath: "newpkg"}, "newpkg: not in the layer table"},
	} {
		bad := check([]pkgInfo{tc.pkg}, std)
		require.Len(t, bad, 1, "%+v", tc.pkg)
		require.Contains(t, bad[0], tc.want)
	}
	// Downward imports pass.
	require.Empty(t, check([]pkgInfo{
		{ImportPath: "ree", Imports: []string{"fmt", "tee", "store", "wire/xmr", "drm", "github.com/x/y"}},
		{ImportPath: "licsrv", Imports: []string{"wire/soap", "internal/keyseed"}},
		{ImportPath: "wire/entitlement", Imports: []string{"drm", "wire/kid", "github.com/golang-jwt/jwt/v5"}},
		{ImportPath: "licsrv", Imports: []string{"wire/entitlement"}},
		{ImportPath: "conformance", Imports: []string{"wire/entitlement"}},
		{ImportPath: "internal/cli", Imports: []string{"wire/entitlement"}},
		{ImportPath: "internal/swtpmtest", Imports: []string{"testing", "internal/swtpm"}},
	}, std))
}
