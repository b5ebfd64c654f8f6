package tee_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/internal/swtpmtest"
	"github.com/prsim/prsim/tee"
)

// swtpm:HOST:PORT names an swtpm the user runs; anything else after
// "swtpm:" is a state directory, recorded absolute.
func TestResolveSwtpm(t *testing.T) {
	wd, err := os.Getwd()
	require.NoError(t, err)
	for in, want := range map[string]string{
		"swtpm:127.0.0.1:2321":   "swtpm:127.0.0.1:2321",
		"swtpm:localhost:2321":   "swtpm:localhost:2321",
		"swtpm:[::1]:2321":       "swtpm:[::1]:2321",
		"swtpm:/var/lib/prsim":   "swtpm:/var/lib/prsim",
		"swtpm:/a/b/../c":        "swtpm:/a/c",
		"swtpm:state":            "swtpm:" + filepath.Join(wd, "state"),
		"swtpm:./host:2321":      "swtpm:" + filepath.Join(wd, "host:2321"),
		"swtpm:host:0":           "swtpm:" + filepath.Join(wd, "host:0"),
		"swtpm:host:http":        "swtpm:" + filepath.Join(wd, "host:http"),
		"swtpm:/tmp/x:2321":      "swtpm:/tmp/x:2321",
		"swtpm:state/tpm:99999x": "swtpm:" + filepath.Join(wd, "state/tpm:99999x"),
	} {
		got, err := tee.ResolveBackend(in, nil)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	_, err = tee.ResolveBackend("swtpm:", nil)
	require.ErrorIs(t, err, tee.ErrBackend)
	_, err = tee.OpenBackend("swtpm:")
	require.ErrorIs(t, err, tee.ErrBackend)
}

// "swtpm:DIR" starts swtpm on DIR and Close stops it, so the same DIR
// opens again at once.
func TestOpenSwtpmDir(t *testing.T) {
	swtpmtest.Need(t)
	uri, err := tee.ResolveBackend("swtpm:"+filepath.Join(t.TempDir(), "tpm"), nil)
	require.NoError(t, err)
	for range 2 {
		b, err := tee.OpenBackend(uri)
		require.NoError(t, err)
		require.True(t, b.IsTPM())
		require.Equal(t, uri, b.URI())
		require.NoError(t, b.Close())
	}
}
