package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
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
	} {
		var stderr bytes.Buffer
		args := append([]string{"server", "--pki", filepath.Join(dir, "missing"), "--data", dir}, c.args...)
		code := Main(context.Background(), args, io.Discard, &stderr)
		require.Equal(t, ExitUsage, code, stderr.String())
		require.Contains(t, stderr.String(), c.want)
	}
}

// prsim server logs one JSON line per request, and --defect takes effect.
func TestServerLogsOneLinePerRequest(t *testing.T) {
	dir := t.TempDir()
	pkiDir := filepath.Join(dir, "pki")
	require.Equal(t, ExitOK, Main(context.Background(), []string{"pki", "init", "--dir", pkiDir}, io.Discard, io.Discard))

	ready := filepath.Join(dir, "ready")
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"server", "--pki", pkiDir, "--data", filepath.Join(dir, "data"), "--ready-file", ready,
			"--log-format", "json", "--defect", "fault-as-200"}, io.Discard, stderr)
	}()
	defer func() {
		cancel()
		require.Equal(t, ExitOK, <-done, stderr.String())
	}()
	var base []byte
	require.Eventually(t, func() bool {
		var err error
		base, err = os.ReadFile(ready)
		return err == nil
	}, 30*time.Second, 20*time.Millisecond)

	resp, err := http.Post(string(base)+"/rightsmanager.asmx?cfg=(contentkey:TtuJBM2/A2F/SAC9h4pt8g==)", soap.ContentType, strings.NewReader("garbage"))
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
