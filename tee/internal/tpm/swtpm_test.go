package tpm_test

import (
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/internal/swtpmtest"
	"github.com/prsim/prsim/tee/internal/tpm"
	"github.com/prsim/prsim/tee/internal/tpm/tpmtest"
)

// An swtpm the user started, reached over TCP.
func TestSwtpmConformance(t *testing.T) {
	addr := swtpmtest.Start(t)
	tpmtest.Run(t, func(t *testing.T) *tpm.TPM {
		tp, err := tpm.DialSwtpm(addr)
		require.NoError(t, err)
		return tp
	})
}

// An swtpm prsim starts on a state directory.
func TestLaunchSwtpmConformance(t *testing.T) {
	swtpmtest.Need(t)
	dir := t.TempDir()
	tpmtest.Run(t, func(t *testing.T) *tpm.TPM {
		tp, err := tpm.LaunchSwtpm(dir)
		require.NoError(t, err)
		return tp
	})
}

// Blobs made under one swtpm process load in the next one on the same state
// directory (Close flushed the seeds and released the directory), and not
// under another directory's seeds.
func TestLaunchSwtpmStateSurvivesRestart(t *testing.T) {
	swtpmtest.Need(t)
	dir := t.TempDir()
	tp, err := tpm.LaunchSwtpm(dir)
	require.NoError(t, err)
	pub, blob, err := tp.Generate(tpm.SignKey)
	require.NoError(t, err)
	require.NoError(t, tp.Close())

	tp, err = tpm.LaunchSwtpm(dir)
	require.NoError(t, err)
	d := sha256.Sum256([]byte("after restart"))
	sig, err := tp.Sign(blob, d[:])
	require.NoError(t, err)
	require.True(t, ecc.Verify(pub, d[:], sig[:]))
	require.NoError(t, tp.Close())

	other, err := tpm.LaunchSwtpm(t.TempDir())
	require.NoError(t, err)
	_, err = other.Sign(blob, d[:])
	require.Error(t, err, "a fresh state directory has other seeds")
	require.NoError(t, other.Close())
}
