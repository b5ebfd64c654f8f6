package pro

import (
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/wire/kid"
)

// Vectors: docs/formats/pro-header.md §8 (keys from the test key seed; CHECKSUMs as
// printed in the header spec and recomputed with openssl aes-128-ecb).
func TestChecksumAESCTR(t *testing.T) {
	for value, want := range map[string]string{
		"0IbHou/5s0yzM80yOkKEpQ==": "xNvWVxoWk04=", // header spec §3.4.2
		"/qgG2xbs4k2SKCxx6bhWqw==": "GnKaQIRacPU=", // header spec §3.4.2
		"q5HgCTj40kGeNVhTH9Gexw==": "w+OZVr8vzrQ=", // header spec §3.6.1
		"AAAAEAAQABAQABAAAAAAAQ==": "5TzIYQ2hrOY=", // docs/formats/pro-header.md §8 extra vector; shaka-packager agrees
	} {
		id := kid.MustParse(value)
		sum, err := Checksum(AlgAESCTR, id, testKeys[value])
		require.NoError(t, err, value)
		require.Equal(t, want, base64.StdEncoding.EncodeToString(sum), value)
		require.Len(t, sum, 8)
		require.Equal(t, 8, cap(sum))
		k := KeyInfo{ID: id, AlgID: AlgAESCTR, Checksum: sum}
		require.True(t, k.VerifyChecksum(testKeys[value]))
		k.AlgID = "" // 4.3.0.0 without ALGID: checked as AESCTR
		require.True(t, k.VerifyChecksum(testKeys[value]))
	}
}

// COCKTAIL (header spec §5): computed with an independent Python hashlib
// implementation of the same steps (21-byte buffer, SHA-1 over all 21 bytes
// five times, first 7 bytes); no published vector exists.
func TestChecksumCocktail(t *testing.T) {
	id := kid.MustParse("q5HgCTj40kGeNVhTH9Gexw==") // the checksum ignores the KID
	for keyHex, want := range map[string]string{
		"01020304050607":   "Jb+1UFxxpQ==",
		"0102030405060708": "sg8s5SGQ3Q==",
	} {
		sum, err := Checksum(AlgCocktail, id, mustHex(keyHex))
		require.NoError(t, err)
		require.Equal(t, want, base64.StdEncoding.EncodeToString(sum))
		require.True(t, KeyInfo{ID: id, AlgID: AlgCocktail, Checksum: sum}.VerifyChecksum(mustHex(keyHex)))
	}
	_, err := Checksum(AlgCocktail, id, nil)
	require.Error(t, err)
	_, err = Checksum(AlgCocktail, id, make([]byte, 22))
	require.Error(t, err)
}

func TestChecksumEdges(t *testing.T) {
	id := kid.MustParse("PV1LM/VEVk+kEOB8qqcWDg==")
	key := testKeys["PV1LM/VEVk+kEOB8qqcWDg=="]
	sum, err := Checksum(AlgAESCBC, id, key)
	require.NoError(t, err)
	require.Nil(t, sum)
	for _, alg := range []string{"", "AESECB", "aesctr"} {
		sum, err := Checksum(alg, id, key)
		require.Error(t, err, alg)
		require.Nil(t, sum, alg)
	}
	sum, err = Checksum(AlgAESCTR, id, key[:15])
	require.Error(t, err)
	require.Nil(t, sum)

	require.True(t, KeyInfo{ID: id, AlgID: AlgAESCBC}.VerifyChecksum(key))
	require.False(t, KeyInfo{ID: id, AlgID: AlgAESCBC, Checksum: make([]byte, 8)}.VerifyChecksum(key))
	good, err := Checksum(AlgAESCTR, id, key)
	require.NoError(t, err)
	k := KeyInfo{ID: id, AlgID: AlgAESCTR, Checksum: good}
	require.True(t, k.VerifyChecksum(key))
	require.False(t, k.VerifyChecksum(key[:15]))
	require.False(t, k.VerifyChecksum(testKeys["q5HgCTj40kGeNVhTH9Gexw=="]))
	k.Checksum = good[:7]
	require.False(t, k.VerifyChecksum(key))
	// The checksum is over the LE-GUID bytes: the same key with the KID read
	// in the wrong byte order does not match.
	g := id.GUID()
	swapped, err := kid.FromBytes(g[:])
	require.NoError(t, err)
	require.False(t, KeyInfo{ID: swapped, AlgID: AlgAESCTR, Checksum: good}.VerifyChecksum(key))
}
