// Package tpmtest is a conformance suite for the TPM key backend, run
// against the in-process simulator and, where installed, swtpm.
package tpmtest

import (
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/tee/internal/tpm"
)

// Run exercises open must return a fresh TPM; Run closes it.
func Run(t *testing.T, open func(t *testing.T) *tpm.TPM) {
	tp := open(t)
	defer func() { require.NoError(t, tp.Close()) }()

	t.Run("sign", func(t *testing.T) {
		pub, blob, err := tp.Generate(tpm.SignKey)
		require.NoError(t, err)
		got, err := tpm.Public(blob)
		require.NoError(t, err)
		require.Equal(t, pub, got)
		d := sha256.Sum256([]byte("challenge"))
		sig, err := tp.Sign(blob, d[:])
		require.NoError(t, err)
		require.True(t, ecc.Verify(pub, d[:], sig[:]))
		d[0] ^= 1
		require.False(t, ecc.Verify(pub, d[:], sig[:]))
	})
	t.Run("zgen-elgamal", func(t *testing.T) {
		pub, blob, err := tp.Generate(tpm.ECDHKey)
		require.NoError(t, err)
		var ck [16]byte
		copy(ck[:], "content key 0001")
		m, _, err := ecc.EmbedKey(rand.Reader, ck)
		require.NoError(t, err)
		ct, err := ecc.Encrypt(rand.Reader, pub, m)
		require.NoError(t, err)
		c1, _ := ct.Split()
		z, err := tp.ZGen(blob, c1)
		require.NoError(t, err)
		got, err := ecc.Finish(ct, z)
		require.NoError(t, err)
		require.Equal(t, m, got)
	})
	t.Run("no-slot-leak", func(t *testing.T) {
		// Three transient slots: any leak shows up within a few operations.
		_, blob, err := tp.Generate(tpm.SignKey)
		require.NoError(t, err)
		d := sha256.Sum256(nil)
		for range 10 {
			_, err := tp.Sign(blob, d[:])
			require.NoError(t, err)
		}
	})
	t.Run("bad-blob", func(t *testing.T) {
		d := sha256.Sum256(nil)
		_, err := tp.Sign([]byte{0, 200, 1}, d[:])
		require.Error(t, err)
		_, err = tp.Sign(nil, d[:])
		require.Error(t, err)
	})
}
