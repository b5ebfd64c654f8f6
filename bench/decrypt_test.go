package bench

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/internal/keyseed"
	"github.com/prsim/prsim/policy"
	"github.com/prsim/prsim/tee"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/pro"
)

// cbcsPattern is the video pattern of cbcs content: 1 encrypted 16-byte
// block in every 10 (ISO/IEC 23001-7 §10.4; docs/formats/media.md §6).
var cbcsPattern = tee.Pattern{Crypt: 1, Skip: 9}

// Sample sizes: 1 MiB measures AES throughput, 4 KiB the per-sample
// overhead (key lookup, lock, cipher mode set-up; docs/formats/media.md §6).
var sampleSizes = []struct {
	suffix string
	n      int
}{{"", 1 << 20}, {"-4k", 4 << 10}}

// decryptKeys are TEE handles for a cenc and a cbcs key, and the same keys as
// bare crypto/cipher blocks (the reference server derives them from the
// public test key seed).
type decryptKeys struct {
	ctr, cbc       *tee.Key
	ctrRaw, cbcRaw cipher.Block
}

func newDecryptKeys(tb testing.TB) *decryptKeys {
	tb.Helper()
	c := newClient(tb, provision(tb, shared.soft))
	ctx := context.Background()
	dk := &decryptKeys{}
	for _, k := range []struct {
		id  kid.ID
		alg string
		tee **tee.Key
		raw *cipher.Block
	}{{ctrKID, pro.AlgAESCTR, &dk.ctr, &dk.ctrRaw}, {cbcKID, pro.AlgAESCBC, &dk.cbc, &dk.cbcRaw}} {
		require.NoError(tb, acquire(ctx, c, header(tb, k.id, k.alg), ""))
		key, err := c.Key(k.id)
		require.NoError(tb, err)
		*k.tee = key
		_, err = key.Enable(policy.Video, policy.StrategyBlock) // releases the decryptor
		require.NoError(tb, err)
		ck, err := keyseed.Derive(keyseed.TestSeed(), k.id)
		require.NoError(tb, err)
		*k.raw, err = aes.NewCipher(ck[:])
		require.NoError(tb, err)
	}
	require.False(tb, dk.ctr.CBC())
	require.True(tb, dk.cbc.CBC())
	return dk
}

// The bare baselines do the AES work the TEE does for one sample, with the
// cipher.Block already expanded (as the TEE caches it per key): a new CTR
// stream per sample from its IV, and one CBC chain per sample across the
// crypt blocks of the pattern.

func rawCENC(b cipher.Block, sample, iv []byte) {
	var ctr [16]byte
	copy(ctr[:], iv)
	cipher.NewCTR(b, ctr[:]).XORKeyStream(sample, sample)
}

func rawCBCS(b cipher.Block, sample, iv []byte, pat tee.Pattern) {
	m := cipher.NewCBCDecrypter(b, iv)
	crypt, stride := int(pat.Crypt)*16, int(pat.Crypt+pat.Skip)*16
	for off := 0; off < len(sample); off += stride {
		n := min(crypt, len(sample)-off) &^ 15
		m.CryptBlocks(sample[off:off+n], sample[off:off+n])
	}
}

func BenchmarkDecrypt(b *testing.B) {
	dk := newDecryptKeys(b)
	iv8 := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	iv16 := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	for _, sz := range sampleSizes {
		// Samples are decrypted in place, again and again: the AES work
		// does not depend on the bytes.
		sample := make([]byte, sz.n)
		cases := []struct {
			name string
			fn   func() error
		}{
			{"cenc-tee", func() error { return dk.ctr.DecryptCENC(sample, iv8, nil) }},
			{"cenc-raw", func() error { rawCENC(dk.ctrRaw, sample, iv8); return nil }},
			{"cbcs-tee", func() error { return dk.cbc.DecryptCBCS(sample, iv16, nil, cbcsPattern) }},
			{"cbcs-raw", func() error { rawCBCS(dk.cbcRaw, sample, iv16, cbcsPattern); return nil }},
		}
		for _, c := range cases {
			b.Run(c.name+sz.suffix, func(b *testing.B) {
				b.SetBytes(int64(len(sample)))
				b.ReportAllocs()
				for b.Loop() {
					if err := c.fn(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestDecryptBaselines checks that each bare baseline produces what the TEE
// produces, so the throughput ratios compare the same work.
func TestDecryptBaselines(t *testing.T) {
	dk := newDecryptKeys(t)
	iv8 := []byte{8, 7, 6, 5, 4, 3, 2, 1}
	iv16 := []byte{16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}
	for _, sz := range sampleSizes {
		// 1 MiB and 4 KiB plus a ragged tail: a partial pattern and block.
		for _, n := range []int{sz.n, sz.n + 100} {
			src := make([]byte, n)
			for i := range src {
				src[i] = byte(i*7 + 3)
			}
			a, b := append([]byte(nil), src...), append([]byte(nil), src...)
			require.NoError(t, dk.ctr.DecryptCENC(a, iv8, nil))
			rawCENC(dk.ctrRaw, b, iv8)
			require.NotEqual(t, src, a)
			require.Equal(t, a, b, "cenc %d bytes", n)

			a, b = append([]byte(nil), src...), append([]byte(nil), src...)
			require.NoError(t, dk.cbc.DecryptCBCS(a, iv16, nil, cbcsPattern))
			rawCBCS(dk.cbcRaw, b, iv16, cbcsPattern)
			require.NotEqual(t, src, a)
			require.Equal(t, src[16:160], a[16:160], "skipped blocks stay clear")
			require.Equal(t, a, b, "cbcs %d bytes", n)
		}
	}
	require.Error(t, dk.ctr.DecryptCBCS(make([]byte, 32), iv16, nil, cbcsPattern), "a cenc key must not decrypt cbcs")
}
