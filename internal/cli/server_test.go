package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/wire/soap"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServerFlagsRejected(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--defect", "no-such-bug"}, "no-nonce-echo, unsigned-response"},
		{[]string{"--log-level", "loud"}, "want debug, info, warn or error"},
		{[]string{"--log-format", "xml"}, "want text or json"},
		{[]string{"--max-licenses", "0"}, "--max-licenses must be positive"},
		{[]string{"--idle-timeout", "-1s"}, "--idle-timeout must be positive"},
		{[]string{"--max-cfg-bytes", "9000"}, "--max-cfg-bytes 9000: at most 8192"},
	} {
		var stderr bytes.Buffer
		args := append([]string{"server", "--pki", filepath.Join(dir, "missing"), "--data", dir}, c.args...)
		code := Main(context.Background(), args, io.Discard, &stderr)
		require.Equal(t, ExitUsage, code, stderr.String())
		require.Contains(t, stderr.String(), c.want)
	}
}

// runServer runs "prsim server" in-process with extra arguments until the
// test ends (its exit code must then be 0) and returns the base URL and
// its stderr.
func runServer(t *testing.T, pkiDir, dataDir string, extra ...string) (string, *syncBuffer) {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready")
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	args := append([]string{"server", "--pki", pkiDir, "--data", dataDir, "--ready-file", ready}, extra...)
	go func() { done <- Main(ctx, args, io.Discard, stderr) }()
	t.Cleanup(func() {
		cancel()
		require.Equal(t, ExitOK, <-done, stderr.String())
	})
	var base []byte
	require.Eventually(t, func() bool {
		var err error
		base, err = os.ReadFile(ready)
		return err == nil
	}, 30*time.Second, 20*time.Millisecond)
	return string(base), stderr
}

// prsim server logs one JSON line per request, and --defect takes effect.
func TestServerLogsOneLinePerRequest(t *testing.T) {
	dir := t.TempDir()
	pkiDir := filepath.Join(dir, "pki")
	require.Equal(t, ExitOK, Main(context.Background(), []string{"pki", "init", "--dir", pkiDir}, io.Discard, io.Discard))

	base, stderr := runServer(t, pkiDir, filepath.Join(dir, "data"), "--log-format", "json", "--defect", "fault-as-200")

	resp, err := http.Post(base+"/rightsmanager.asmx?cfg=(contentkey:TtuJBM2/A2F/SAC9h4pt8g==)", soap.ContentType, strings.NewReader("garbage"))
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode, "fault-as-200 is in effect")
	f, err := soap.ParseFault(body)
	require.NoError(t, err)
	require.Equal(t, drm.ErrServerInvalidMessage, f.Code)

	// The line is written after the response: wait for it.
	var lines []string
	require.Eventually(t, func() bool {
		lines = nil
		for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
			if strings.Contains(l, `"msg":"request"`) {
				lines = append(lines, l)
			}
		}
		return len(lines) > 0
	}, 30*time.Second, 20*time.Millisecond)
	require.Len(t, lines, 1)
	var rec map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &rec))
	for k, v := range map[string]any{"method": "POST", "path": "/rightsmanager.asmx", "action": "", "outcome": "fault",
		"status": float64(200), "drm_code": drm.ErrServerInvalidMessage.String(), "device_digest": "", "licenses": float64(0)} {
		require.Equal(t, v, rec[k], k)
	}
	require.Contains(t, rec["reason"], "not a SOAP envelope")
	require.Contains(t, rec, "duration")
	require.NotContains(t, stderr.String(), "TtuJBM2", "the cfg is never logged")
	require.Contains(t, stderr.String(), "defects injected")
}

// The limit flags reach the server: a cfg over --max-cfg-groups gets the
// fault naming the flag, and an idle connection is closed after
// --idle-timeout.
func TestServerLimitFlags(t *testing.T) {
	dir := t.TempDir()
	pkiDir := filepath.Join(dir, "pki")
	require.Equal(t, ExitOK, Main(context.Background(), []string{"pki", "init", "--dir", pkiDir}, io.Discard, io.Discard))
	base, _ := runServer(t, pkiDir, filepath.Join(dir, "data"), "--max-cfg-groups", "1", "--idle-timeout", "100ms")

	// The cfg bound is checked before the challenge is even parsed.
	env := `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><AcquireLicense xmlns="http://schemas.microsoft.com/DRM/2007/03/protocols"/></soap:Body></soap:Envelope>`
	resp, err := http.Post(base+"/rightsmanager.asmx?cfg=(),()", soap.ContentType, strings.NewReader(env))
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	f, err := soap.ParseFault(body)
	require.NoError(t, err)
	require.Equal(t, drm.ErrServerMaximumLicenseIDExceeded, f.Code)
	require.Equal(t, "cfg has 2 groups; limit 1 (--max-cfg-groups)", f.Message)

	c, err := net.Dial("tcp", strings.TrimPrefix(string(base), "http://"))
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, "GET /prsim/server-cert HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err = io.Copy(io.Discard, c) // the response, then EOF when the server closes
	require.NoError(t, err, "the server closed the idle connection")
}
