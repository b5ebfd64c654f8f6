package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// Communication keys are secrets: a bad one is refused without echoing it.
func TestCommKeyFlagsNeverEchoKeys(t *testing.T) {
	dir := t.TempDir()
	const secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQ" // not valid base64 (no padding)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"server", "--pki", filepath.Join(dir, "missing"), "--data", dir, "--comm-key", "k1=" + secret}, `--comm-key: communication key "k1" is not base64 (value withheld)`},
		{[]string{"server", "--pki", filepath.Join(dir, "missing"), "--data", dir, "--comm-key", secret}, "must be ID=BASE64"},
		{[]string{"server", "--pki", filepath.Join(dir, "missing"), "--data", dir, "--comm-key", "k1=c2hvcnQ="}, "shorter than 16 bytes"},
		{[]string{"server", "--pki", filepath.Join(dir, "missing"), "--data", dir, "--comm-key", "k1=AAAAAAAAAAAAAAAAAAAAAA==", "--comm-key", "k1=AAAAAAAAAAAAAAAAAAAAAA=="}, `ID "k1" is given more than once`},
	} {
		var stderr bytes.Buffer
		code := Main(context.Background(), c.args, io.Discard, &stderr)
		require.Equal(t, ExitUsage, code, stderr.String())
		require.Contains(t, stderr.String(), c.want)
		require.NotContains(t, stderr.String(), secret)
	}

	msg := filepath.Join(dir, "msg.json")
	require.NoError(t, os.WriteFile(msg, []byte(`{"type":"entitlement_message","version":2}`), 0o600))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--entitlement", msg}, "if any flags in the group [entitlement comm-key-id comm-key] are set they must all be set"},
		{[]string{"--entitlement", msg, "--comm-key-id", "k1", "--comm-key", secret}, "--comm-key is not base64 (value withheld)"},
		{[]string{"--entitlement", msg, "--comm-key-id", "k1", "--comm-key", "c2hvcnQ="}, "a key of at least 16 bytes"},
		{[]string{"--entitlement", filepath.Join(dir, "none.json"), "--comm-key-id", "k1", "--comm-key", "AAAAAAAAAAAAAAAAAAAAAA=="}, "none.json"},
	} {
		var stderr bytes.Buffer
		args := append([]string{"license", "acquire", "--dev", filepath.Join(dir, "dev"), "--pro", "AAAA"}, c.args...)
		code := Main(context.Background(), args, io.Discard, &stderr)
		require.Equal(t, ExitUsage, code, stderr.String())
		require.Contains(t, stderr.String(), c.want)
		require.NotContains(t, stderr.String(), secret)
	}
}
