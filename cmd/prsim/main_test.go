package main

// End-to-end tests of prsim's command-line contract. TestMain builds the
// prsim binary once; every test runs it as a separate process, so that
// device state has to survive from one invocation to the next exactly as it
// does for a user (licenses in the store, the TPM simulator re-created from
// the seed in device.json, the server certificate cached in DEV).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/internal/keyseed"
	"github.com/prsim/prsim/internal/testmedia"
	"github.com/prsim/prsim/wire/kid"
)

// prsimBin is the binary built by TestMain (written once, before any test).
var prsimBin string

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "prsim-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	prsimBin = filepath.Join(dir, "prsim")
	// "go test" puts $GOROOT/bin first on PATH, so "go" is the toolchain
	// running this test. cgo is needed for the TPM simulator.
	cmd := exec.Command("go", "build", "-o", prsimBin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building prsim: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// requireTools reports whether missing external tools (swtpm, ffmpeg,
// shaka-packager) must fail the test instead of skipping it; CI sets it.
func requireTools() bool { return os.Getenv("PRSIM_REQUIRE_TOOLS") != "" } //nolint:forbidigo // test-only switch

// skipOrFail skips the test, or fails it under PRSIM_REQUIRE_TOOLS.
func skipOrFail(t *testing.T, format string, a ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, a...)
	if requireTools() {
		t.Fatalf("%s (required: PRSIM_REQUIRE_TOOLS is set)", msg)
	}
	t.Skip(msg)
}

// result is one finished prsim invocation.
type result struct {
	args           []string
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("prsim %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// run runs prsim with args and returns its exit code and output.
func run(t *testing.T, args ...string) result {
	t.Helper()
	return runStdin(t, nil, args...)
}

// runStdin runs prsim with stdin.
func runStdin(t *testing.T, stdin []byte, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, prsimBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String()}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		require.Truef(t, ok, "running prsim: %v", err)
		r.code = ee.ExitCode()
	}
	require.NoError(t, ctx.Err(), "prsim timed out: %s", r)
	return r
}

// ok runs prsim, requires exit 0 and returns stdout.
func ok(t *testing.T, args ...string) string {
	t.Helper()
	r := run(t, args...)
	require.Equal(t, 0, r.code, "%s", r)
	return r.stdout
}

// decode unmarshals prsim's JSON stdout into v.
func decode(t *testing.T, r result, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal([]byte(r.stdout), v), "%s", r)
}

// okJSON runs prsim, requires exit 0 and decodes its JSON stdout into v.
func okJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	r := run(t, args...)
	require.Equal(t, 0, r.code, "%s", r)
	decode(t, r, v)
}

// JSON shapes of the contract. Pointers where null is part of it.
type licenseOut struct {
	KID              string  `json:"kid"`
	Persistent       bool    `json:"persistent"`
	Bound            bool    `json:"bound"`
	MinSecurityLevel int     `json:"min_security_level"`
	Error            *string `json:"error"`
}

type acquireOut struct {
	Licenses []licenseOut `json:"licenses"`
	Error    *string      `json:"error"`
}

type storedOut struct {
	Licenses []struct {
		KID              string `json:"kid"`
		LID              string `json:"lid"`
		MinSecurityLevel int    `json:"min_security_level"`
	} `json:"licenses"`
}

type playOut struct {
	Tracks []struct {
		Type    string `json:"type"`
		KID     string `json:"kid"`
		Samples int    `json:"samples"`
		Out     string `json:"out"`
	} `json:"tracks"`
	Error *string `json:"error"`
}

type deviceOut struct {
	Dir            string   `json:"dir"`
	Version        string   `json:"version"`
	SecurityLevel  int      `json:"security_level"`
	Backend        string   `json:"backend"`
	TPM            bool     `json:"tpm"`
	CertID         string   `json:"cert_id"`
	Manufacturer   string   `json:"manufacturer"`
	Model          string   `json:"model"`
	Features       []uint32 `json:"features"`
	ChainLength    int      `json:"chain_length"`
	SigningKey     string   `json:"signing_key"`
	EncryptionKey  string   `json:"encryption_key"`
	StoredLicenses int      `json:"stored_licenses"`
}

// newPKI runs "prsim pki init" into a fresh directory.
func newPKI(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pki")
	ok(t, "pki", "init", "--dir", dir)
	for _, f := range []string{"root.pub", "server.chai", "model-150.chai", "model-2000.chai", "model-3000.chai"} {
		require.FileExists(t, filepath.Join(dir, f))
	}
	return dir
}

// startServer runs "prsim server" in the background on a free port and
// returns its base URL once the ready file names it. The server is killed
// at cleanup.
func startServer(t *testing.T, pkiDir string) string {
	t.Helper()
	return startServerArgs(t, pkiDir)
}

// startServerArgs is startServer with extra "prsim server" arguments.
func startServerArgs(t *testing.T, pkiDir string, extra ...string) string {
	t.Helper()
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	require.NoError(t, err)
	args := append([]string{"server", "--pki", pkiDir, "--data", filepath.Join(dir, "data"),
		"--listen", "127.0.0.1:0", "--ready-file", ready}, extra...)
	cmd := exec.Command(prsimBin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		logf.Close()
	})
	deadline := time.After(15 * time.Second)
	for {
		if b, err := os.ReadFile(ready); err == nil && len(b) > 0 {
			base := strings.TrimSpace(string(b))
			require.Regexp(t, `^http://127\.0\.0\.1:[1-9][0-9]*$`, base)
			return base
		}
		select {
		case err := <-exited:
			exited <- err // for the cleanup
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("prsim server exited early (%v):\n%s", err, log)
		case <-deadline:
			t.Fatal("prsim server did not write its ready file")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// newDevice provisions a device and returns its directory.
func newDevice(t *testing.T, pkiDir string, sl int, backend string) string {
	t.Helper()
	dev := filepath.Join(t.TempDir(), "dev")
	ok(t, "device", "new", "--pki", pkiDir, "--dir", dev, "--sl", strconv.Itoa(sl), "--tpm", backend)
	return dev
}

// content is generated test content with the KIDs of its two tracks.
type content struct {
	*testmedia.Content
	scheme       string
	video, audio kid.ID
}

// genContent writes content whose keys derive from the test key seed, so
// that the reference server's default seed issues the right keys. n makes
// the KIDs distinct between presentations.
func genContent(t *testing.T, scheme string, n int, laURL string) content {
	t.Helper()
	v := kid.MustParse(fmt.Sprintf("c11e0000-0000-4000-8000-0000000%02d0%02d", n, 1))
	a := kid.MustParse(fmt.Sprintf("c11e0000-0000-4000-8000-0000000%02d0%02d", n, 2))
	vk, err := keyseed.Derive(keyseed.TestSeed(), v)
	require.NoError(t, err)
	ak, err := keyseed.Derive(keyseed.TestSeed(), a)
	require.NoError(t, err)
	c, err := testmedia.Generate(testmedia.Options{Dir: filepath.Join(t.TempDir(), scheme), Scheme: scheme,
		Video: testmedia.Track{KID: v, Key: vk}, Audio: testmedia.Track{KID: a, Key: ak}, LAURL: laURL, Segments: 2, Seed: int64(n)})
	require.NoError(t, err)
	return content{Content: c, scheme: scheme, video: v, audio: a}
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}
