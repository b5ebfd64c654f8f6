package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/wire/soap"
)

// --license-server-time serves the signed time; a PKI without a time
// server (made before it existed) still serves licenses but refuses the
// flag, saying why; --clock-skew must be positive.
func TestServerLicenseServerTimeFlag(t *testing.T) {
	dir := t.TempDir()
	pkiDir := filepath.Join(dir, "pki")
	require.Equal(t, ExitOK, Main(context.Background(), []string{"pki", "init", "--dir", pkiDir}, io.Discard, io.Discard))

	var stderr bytes.Buffer
	code := Main(context.Background(), []string{"server", "--pki", pkiDir, "--data", dir, "--clock-skew", "0s"}, io.Discard, &stderr)
	require.Equal(t, ExitUsage, code, stderr.String())
	require.Contains(t, stderr.String(), "--clock-skew 0s: want a positive duration")

	base, _ := runServer(t, pkiDir, filepath.Join(dir, "data"), "--license-server-time", "--clock-skew", "30m")
	resp, err := http.Get(base + "/prsim/time")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	st, err := soap.ParseServerTime(body)
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), time.Unix(st.Time, 0), time.Minute)

	require.NoError(t, os.Remove(filepath.Join(pkiDir, "time-server.chai")))
	require.NoError(t, os.Remove(filepath.Join(pkiDir, "time-server.key")))
	stderr.Reset()
	code = Main(context.Background(), []string{"server", "--pki", pkiDir, "--data", dir, "--license-server-time"}, io.Discard, &stderr)
	require.Equal(t, ExitUsage, code, stderr.String())
	require.Contains(t, stderr.String(), "has no time-server key")
}
