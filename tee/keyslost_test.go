package tee_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/tee"
)

// TestKeysLost: key blobs made on one TPM (here: simulator seed 1) do not
// load in another (seed 2); opening says so with ErrKeysLost instead of a
// bare TPM code.
func TestKeysLost(t *testing.T) {
	b1, err := tee.OpenBackend("sim:1")
	require.NoError(t, err)
	d := provision(t, b1, 2000)
	_, err = signChallenge(t, d)
	require.NoError(t, err)
	st := d.State()
	require.NoError(t, b1.Close())

	b2, err := tee.OpenBackend("sim:2")
	require.NoError(t, err)
	defer b2.Close()
	st.Backend = b2.URI()
	// Opening unseals the storage root, which the other TPM refuses.
	_, err = tee.Open(b2, st, nil)
	require.ErrorIs(t, err, tee.ErrKeysLost)
	require.Contains(t, err.Error(), "TPM_RC_INTEGRITY")
}
