//go:build cgo

package sim_test

import (
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/tee/internal/tpm"
	"github.com/prsim/prsim/tee/internal/tpm/sim"
	"github.com/prsim/prsim/tee/internal/tpm/tpmtest"
)

func TestSimulatorConformance(t *testing.T) {
	tpmtest.Run(t, func(t *testing.T) *tpm.TPM {
		tp, err := sim.Open(42)
		require.NoError(t, err)
		return tp
	})
}

// Blobs made under a fixed seed load after the simulator is closed and
// re-created, as they do across prsim invocations.
func TestBlobsSurviveReopen(t *testing.T) {
	tp, err := sim.Open(7)
	require.NoError(t, err)
	pub, blob, err := tp.Generate(tpm.SignKey)
	require.NoError(t, err)
	require.NoError(t, tp.Close())

	tp, err = sim.Open(7)
	require.NoError(t, err)
	d := sha256.Sum256([]byte("after reopen"))
	sig, err := tp.Sign(blob, d[:])
	require.NoError(t, err)
	require.True(t, ecc.Verify(pub, d[:], sig[:]))

	// Another seed is another SRK: the blob must not load there.
	require.NoError(t, tp.Close())
	tp2, err := sim.Open(8)
	require.NoError(t, err)
	_, err = tp2.Sign(blob, d[:])
	require.Error(t, err)
	require.NoError(t, tp2.Close())
}

// A blob sealed under one owner seed fails under another with the TPM's
// integrity error, which the tee maps to lost keys.
func TestUnsealOtherSeed(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	tp, err := sim.Open(11)
	require.NoError(t, err)
	require.False(t, tp.PersistentNV(), "the simulator's NV dies with the process")
	blob, err := tp.Seal(secret)
	require.NoError(t, err)
	require.NoError(t, tp.Close())

	tp, err = sim.Open(12)
	require.NoError(t, err)
	got, err := tp.Unseal(blob)
	require.ErrorIs(t, err, tpm2.TPMRCIntegrity)
	require.Nil(t, got)
	require.NoError(t, tp.Close())

	tp, err = sim.Open(11)
	require.NoError(t, err)
	got, err = tp.Unseal(blob)
	require.NoError(t, err, "the same seed unseals in a later simulator")
	require.Equal(t, secret, got)
	require.NoError(t, tp.Close())
}

// Reboot is a TPM Reset: ResetCount + 1, and blobs, sealed data and NV
// counters keep working although the simulator's Reset forgets its fixed
// seeds. Blobs made after the reboot still load under the same seed in a
// later process. The simulator cannot lose power.
func TestSimulatorReboot(t *testing.T) {
	tp, err := sim.Open(21)
	require.NoError(t, err)
	pub, key, err := tp.Generate(tpm.SignKey)
	require.NoError(t, err)
	sealed, err := tp.Seal([]byte("root"))
	require.NoError(t, err)
	idx, v, err := tp.DefineCounter(rand.Reader)
	require.NoError(t, err)
	c0, err := tp.Clock()
	require.NoError(t, err)

	require.ErrorIs(t, tp.PowerCut(), tpm.ErrNotSupported)
	for i := range 2 {
		require.NoError(t, tp.Reboot())
		c1, err := tp.Clock()
		require.NoError(t, err)
		require.Equal(t, c0.ResetCount+uint32(i)+1, c1.ResetCount)
		require.Zero(t, c1.RestartCount)
		require.True(t, c1.Safe)
		require.GreaterOrEqual(t, c1.Clock, c0.Clock, "Clock survives a reset")

		d := sha256.Sum256([]byte("after reboot"))
		sig, err := tp.Sign(key, d[:])
		require.NoError(t, err)
		require.True(t, ecc.Verify(pub, d[:], sig[:]))
		got, err := tp.Unseal(sealed)
		require.NoError(t, err)
		require.Equal(t, []byte("root"), got)
		n, err := tp.ReadCounter(idx)
		require.NoError(t, err)
		require.Equal(t, v, n)
	}
	pub2, key2, err := tp.Generate(tpm.SignKey)
	require.NoError(t, err)
	require.NoError(t, tp.Close())

	tp, err = sim.Open(21)
	require.NoError(t, err)
	d := sha256.Sum256([]byte("next process"))
	sig, err := tp.Sign(key2, d[:])
	require.NoError(t, err)
	require.True(t, ecc.Verify(pub2, d[:], sig[:]))
	_, err = tp.ReadCounter(idx)
	require.ErrorIs(t, err, tpm.ErrNoCounter, "the simulator's NV does not outlive it")
	require.NoError(t, tp.Close())
}
