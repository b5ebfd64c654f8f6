package ecc

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestElGamalRoundTrip(t *testing.T) {
	priv, err := ecdh.P256().GenerateKey(rand.Reader)
	require.NoError(t, err)
	pub, err := ParsePoint(priv.PublicKey().Bytes()[1:])
	require.NoError(t, err)
	var ck [16]byte
	copy(ck[:], "0123456789abcdef")
	m, ci, err := EmbedKey(rand.Reader, ck)
	require.NoError(t, err)
	x := m.X()
	require.Equal(t, ci[:], x[:16])
	require.Equal(t, ck[:], x[16:])
	ct, err := Encrypt(rand.Reader, pub, m)
	require.NoError(t, err)
	got, err := Decrypt(priv.Bytes(), ct)
	require.NoError(t, err)
	require.Equal(t, m, got)

	// The ZGen path: crypto/ecdh gives only x of d·C1, so recompute the full
	// point with ScalarMult and check x agrees with the standard library.
	c1, _ := ct.Split()
	z, err := ScalarMult(priv.Bytes(), c1)
	require.NoError(t, err)
	peer, err := ecdh.P256().NewPublicKey(append([]byte{4}, c1[:]...))
	require.NoError(t, err)
	shared, err := priv.ECDH(peer)
	require.NoError(t, err)
	zx := z.X()
	require.Equal(t, shared, zx[:])

	wrong, _ := ecdh.P256().GenerateKey(rand.Reader)
	bad, err := Decrypt(wrong.Bytes(), ct)
	require.NoError(t, err)
	require.NotEqual(t, m, bad)
}

func TestNegSub(t *testing.T) {
	k, _ := RandomScalar(rand.Reader)
	p, err := ScalarBaseMult(k)
	require.NoError(t, err)
	n, err := Neg(p)
	require.NoError(t, err)
	require.Equal(t, p.X(), n.X())
	require.NotEqual(t, p, n)
	_, err = Add(p, n) // infinity has no X‖Y encoding
	require.ErrorIs(t, err, ErrPoint)
	two, err := Add(p, p)
	require.NoError(t, err)
	back, err := Sub(two, p)
	require.NoError(t, err)
	require.Equal(t, p, back)
}

func TestRejectsOffCurve(t *testing.T) {
	var p Point
	p[0] = 1
	require.False(t, p.Valid())
	_, err := ParsePoint(p[:])
	require.ErrorIs(t, err, ErrPoint)
	_, err = ParsePoint(p[:10])
	require.ErrorIs(t, err, ErrPoint)
}

func TestSignVerify(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	pub, err := PublicKey(&k.PublicKey)
	require.NoError(t, err)
	d := sha256.Sum256([]byte("prsim"))
	sig, err := Sign(rand.Reader, k, d[:])
	require.NoError(t, err)
	require.True(t, Verify(pub, d[:], sig[:]))
	sig[5] ^= 1
	require.False(t, Verify(pub, d[:], sig[:]))
}

func TestPointText(t *testing.T) {
	k, _ := RandomScalar(rand.Reader)
	p, err := ScalarBaseMult(k)
	require.NoError(t, err)
	txt, err := p.MarshalText()
	require.NoError(t, err)
	var q Point
	require.NoError(t, q.UnmarshalText(txt))
	require.Equal(t, p, q)
	require.ErrorIs(t, q.UnmarshalText([]byte("AAAA")), ErrPoint)
}

// Neg by p − y agrees with negation through point decompression.
func TestNegMatchesDecompression(t *testing.T) {
	for range 50 {
		k, err := RandomScalar(rand.Reader)
		require.NoError(t, err)
		p, err := ScalarBaseMult(k)
		require.NoError(t, err)
		n, err := Neg(p)
		require.NoError(t, err)
		require.True(t, n.Valid())
		q, ok := PointFromX(p.X())
		require.True(t, ok)
		require.True(t, q == p || q == n, "negation is the other root")
		back, err := Neg(n)
		require.NoError(t, err)
		require.Equal(t, p, back)
	}
}

func TestRandomScalarRejectsOutOfRange(t *testing.T) {
	ones := bytes.NewReader(bytes.Repeat([]byte{0xff}, 32*64))
	_, err := RandomScalar(ones)
	require.Error(t, err)
	k, err := RandomScalar(bytes.NewReader(append(bytes.Repeat([]byte{0xff}, 32), bytes.Repeat([]byte{0x01}, 32)...)))
	require.NoError(t, err)
	require.Equal(t, bytes.Repeat([]byte{0x01}, 32), k)
}
