//go:build cgo

package sim_test

import (
	"crypto/sha256"
	"testing"

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
