package tee

import (
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/internal/swtpmtest"
)

// TestKeyStoreConformance runs one suite through the keyStore interface on
// every backend: soft, the TPM simulator, and swtpm when installed.
func TestKeyStoreConformance(t *testing.T) {
	for name, uri := range map[string]func(t *testing.T) string{
		"soft":  func(*testing.T) string { return "soft" },
		"sim":   func(*testing.T) string { return "sim:4343" },
		"swtpm": func(t *testing.T) string { return "swtpm:" + swtpmtest.Start(t) },
	} {
		t.Run(name, func(t *testing.T) {
			b, err := OpenBackend(uri(t))
			require.NoError(t, err)
			defer func() { require.NoError(t, b.Close()) }()
			keyStoreSuite(t, b.ks, name != "soft")
		})
	}
}

func keyStoreSuite(t *testing.T, ks keyStore, hardware bool) {
	require.Equal(t, hardware, ks.hardware())

	signPub, signBlob, err := ks.generate(keyKindSign)
	require.NoError(t, err)
	encPub, encBlob, err := ks.generate(keyKindECDH)
	require.NoError(t, err)
	require.NotEqual(t, signPub, encPub)

	sk, err := ks.load(keyKindSign, signBlob)
	require.NoError(t, err)
	require.Equal(t, signPub, sk.public())
	ek, err := ks.load(keyKindECDH, encBlob)
	require.NoError(t, err)
	require.Equal(t, encPub, ek.public())

	t.Run("sign-verifies", func(t *testing.T) {
		dg := sha256.Sum256([]byte("signed info"))
		sig, err := sk.sign(dg[:])
		require.NoError(t, err)
		require.True(t, ecc.Verify(signPub, dg[:], sig[:]))
		other := sha256.Sum256([]byte("other"))
		require.False(t, ecc.Verify(signPub, other[:], sig[:]))
		_, err = sk.sign(dg[:31])
		require.ErrorIs(t, err, errDigestLen)
	})
	t.Run("zgen-is-ecdh", func(t *testing.T) {
		r, err := ecc.RandomScalar(rand.Reader)
		require.NoError(t, err)
		rG, err := ecc.ScalarBaseMult(r)
		require.NoError(t, err)
		z, err := ek.zgen(rG)
		require.NoError(t, err)
		want, err := ecc.ScalarMult(r, encPub) // r·(d·G) = d·(r·G)
		require.NoError(t, err)
		require.Equal(t, want, z)
	})
	t.Run("kind-enforced", func(t *testing.T) {
		dg := sha256.Sum256([]byte("x"))
		_, err := ek.sign(dg[:])
		require.ErrorIs(t, err, errKeyUsage)
		_, err = sk.zgen(encPub)
		require.ErrorIs(t, err, errKeyUsage)
	})
	t.Run("blob-reloads", func(t *testing.T) {
		k2, err := ks.load(keyKindSign, signBlob)
		require.NoError(t, err)
		dg := sha256.Sum256([]byte("again"))
		sig, err := k2.sign(dg[:])
		require.NoError(t, err)
		require.True(t, ecc.Verify(signPub, dg[:], sig[:]))
	})
	t.Run("malformed-blob", func(t *testing.T) {
		for _, blob := range [][]byte{nil, {1}, make([]byte, 32)} {
			_, err := ks.load(keyKindSign, blob)
			require.Error(t, err, "%x", blob)
		}
	})
}
