// Package tpmtest is a conformance suite for the TPM key backend, run
// against the in-process simulator and, where installed, swtpm.
package tpmtest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

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
	t.Run("clock", func(t *testing.T) { testClock(t, tp) })
	t.Run("counter", func(t *testing.T) { testCounter(t, tp) })
	t.Run("seal", func(t *testing.T) { testSeal(t, tp) })
}

func testClock(t *testing.T, tp *tpm.TPM) {
	c0, err := tp.Clock()
	require.NoError(t, err)
	require.NoError(t, tp.AdvanceClock(time.Hour))
	c1, err := tp.Clock()
	require.NoError(t, err)
	require.GreaterOrEqual(t, c1.Clock, c0.Clock+uint64(time.Hour/time.Millisecond))
	require.Less(t, c1.Clock, c0.Clock+uint64(2*time.Hour/time.Millisecond), "set forward by about an hour, not more")
	require.Equal(t, c0.ResetCount, c1.ResetCount)
	require.True(t, c1.Safe)

	err = tp.ClockSet(c1.Clock - 1000)
	require.ErrorIs(t, err, tpm.ErrClockBackward)
	require.ErrorIs(t, tp.AdvanceClock(-time.Second), tpm.ErrClockBackward)
	c2, err := tp.Clock()
	require.NoError(t, err)
	require.GreaterOrEqual(t, c2.Clock, c1.Clock, "a refused ClockSet leaves the Clock alone")

	require.NoError(t, tp.ClockSet(c2.Clock+5000))
	c3, err := tp.Clock()
	require.NoError(t, err)
	require.GreaterOrEqual(t, c3.Clock, c2.Clock+5000)
}

func testCounter(t *testing.T, tp *tpm.TPM) {
	// A reader that draws the same index twice: the second define must
	// skip the taken index.
	r := bytes.NewReader([]byte{0x12, 0x34, 0x12, 0x34, 0x12, 0x35})
	i1, v1, err := tp.DefineCounter(r)
	require.NoError(t, err)
	require.Equal(t, tpm.CounterFirst+0x1234, i1)
	i2, v2, err := tp.DefineCounter(r)
	require.NoError(t, err)
	require.Equal(t, tpm.CounterFirst+0x1235, i2, "a taken index is skipped")
	require.Positive(t, v1)
	require.Positive(t, v2)

	got, err := tp.ReadCounter(i1)
	require.NoError(t, err)
	require.Equal(t, v1, got)
	n, err := tp.IncrementCounter(i1)
	require.NoError(t, err)
	require.Equal(t, v1+1, n)
	got, err = tp.ReadCounter(i1)
	require.NoError(t, err)
	require.Equal(t, v1+1, got)
	got, err = tp.ReadCounter(i2)
	require.NoError(t, err)
	require.Equal(t, v2, got, "counters are independent")

	_, _, err = tp.DefineCounter(bytes.NewReader([]byte{0x12, 0x34}))
	require.Error(t, err, "the only index drawn is taken and the reader runs dry")

	require.NoError(t, tp.UndefineCounter(i1))
	require.NoError(t, tp.UndefineCounter(i2))
	for _, idx := range []uint32{i1, i2, tpm.CounterFirst - 1, tpm.CounterLast + 1} {
		_, err = tp.ReadCounter(idx)
		require.True(t, errors.Is(err, tpm.ErrNoCounter), "index 0x%x: %v", idx, err)
		_, err = tp.IncrementCounter(idx)
		require.ErrorIs(t, err, tpm.ErrNoCounter)
		require.ErrorIs(t, tp.UndefineCounter(idx), tpm.ErrNoCounter)
	}

	// A counter defined again (at the same index or another) never starts
	// below a value an undefined one reached: undefine + define is no
	// rollback (TPM 2.0 Part 1, NV counters; docs/formats/tpm.md §8.4).
	i3, v3, err := tp.DefineCounter(bytes.NewReader([]byte{0x12, 0x34}))
	require.NoError(t, err)
	require.Equal(t, i1, i3)
	require.GreaterOrEqual(t, v3, max(v1+1, v2))
	require.NoError(t, tp.UndefineCounter(i3))
	i3, _, err = tp.DefineCounter(rand.Reader)
	require.NoError(t, err)
	require.GreaterOrEqual(t, i3, tpm.CounterFirst)
	require.LessOrEqual(t, i3, tpm.CounterLast)
	require.NoError(t, tp.UndefineCounter(i3))
}

func testSeal(t *testing.T, tp *tpm.TPM) {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	blob, err := tp.Seal(secret)
	require.NoError(t, err)
	require.False(t, bytes.Contains(blob, secret), "the blob does not hold the secret in the clear")
	got, err := tp.Unseal(blob)
	require.NoError(t, err)
	require.Equal(t, secret, got)
	got, err = tp.Unseal(blob)
	require.NoError(t, err, "unseal is repeatable (no slot leak)")
	require.Equal(t, secret, got)

	for _, n := range []int{0, tpm.MaxSealed + 1} {
		b, err := tp.Seal(make([]byte, n))
		require.Error(t, err)
		require.Nil(t, b)
	}

	// Malformed blobs and key blobs never reach the TPM.
	_, keyBlob, err := tp.Generate(tpm.SignKey)
	require.NoError(t, err)
	for name, b := range map[string][]byte{
		"nil": nil, "short": {0, 200, 1}, "truncated": blob[:len(blob)-1],
		"trailing": append(append([]byte(nil), blob...), 0), "key blob": keyBlob,
	} {
		got, err := tp.Unseal(b)
		require.ErrorIs(t, err, tpm.ErrBlob, name)
		require.Nil(t, got, name)
	}

	// A flipped bit in the wrapped private area fails the TPM's integrity
	// check.
	bad := append([]byte(nil), blob...)
	bad[len(bad)-5] ^= 1
	got, err = tp.Unseal(bad)
	require.Error(t, err)
	require.Nil(t, got)
	require.NotContains(t, err.Error(), string(secret))
}
