package testvectors

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/internal/keyseed"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/pro"
)

// outcome evaluates a vector with keyseed and pro and returns its class.
func outcome(t *testing.T, v KeyVector) string {
	raw, err := base64.StdEncoding.DecodeString(v.KIDValueB64)
	if err != nil || len(raw) != kid.Size {
		return ExpectMalformedKID
	}
	id, err := kid.FromGUID(raw)
	require.NoError(t, err)
	require.Equal(t, v.GUID, id.String(), "guid field")
	require.Equal(t, v.KIDValueB64, id.Base64GUID())

	key, err := hex.DecodeString(v.KeyHex)
	require.NoError(t, err, "key_hex")
	if v.DerivedFromTestSeed {
		ck, err := keyseed.Derive(keyseed.TestSeed(), id)
		require.NoError(t, err)
		require.Equal(t, v.KeyHex, hex.EncodeToString(ck[:]), "test-seed derivation")
	}
	var sum []byte
	if v.ChecksumB64 != "" {
		sum, err = base64.StdEncoding.DecodeString(v.ChecksumB64)
		require.NoError(t, err, "checksum_b64")
	}
	computed, err := pro.Checksum(v.AlgID, id, key)
	if err != nil {
		require.Nil(t, computed)
		return ExpectMalformedKey
	}
	if !(pro.KeyInfo{ID: id, AlgID: v.AlgID, Checksum: sum}).VerifyChecksum(key) {
		require.False(t, sum != nil && bytes.Equal(computed, sum))
		return ExpectChecksumMismatch
	}
	// A verified checksum is the computed one; AESCBC has none.
	require.Equal(t, sum, computed)
	return ExpectOK
}

func TestKeys(t *testing.T) {
	vs := Keys()
	require.GreaterOrEqual(t, len(vs), 10)
	seen := map[string]bool{}
	classes := map[string]int{}
	for _, v := range vs {
		require.NotEmpty(t, v.Name)
		require.False(t, seen[v.Name], "duplicate name %s", v.Name)
		seen[v.Name] = true
		require.NotEmpty(t, v.Source, v.Name)
		classes[v.Expect]++
	}
	// Positive and every negative class are represented.
	for _, c := range []string{ExpectOK, ExpectChecksumMismatch, ExpectMalformedKID, ExpectMalformedKey} {
		require.NotZero(t, classes[c], c)
	}
	require.Len(t, classes, 4, "unknown expect class")

	for _, v := range vs {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, v.Expect, outcome(t, v))
		})
	}
}

func TestKeysIsCopy(t *testing.T) {
	a := Keys()
	a[0].KeyHex = "00"
	require.NotEqual(t, a[0].KeyHex, Keys()[0].KeyHex)
}

func byName(t *testing.T, name string) KeyVector {
	for _, v := range Keys() {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no vector %s", name)
	return KeyVector{}
}

// docs/formats/pro-header.md §8: the 4.2 string parses to two KIDs whose checksums
// verify with the v42 keys, and builds back byte for byte.
func TestWRMHeader42(t *testing.T) {
	h, err := pro.ParseHeaderXML(WRMHeader42)
	require.NoError(t, err)
	require.Len(t, h.KIDs, 2)
	for i, name := range []string{"v42-video", "v42-audio"} {
		v := byName(t, name)
		require.Equal(t, v.GUID, h.KIDs[i].ID.String())
		key, err := hex.DecodeString(v.KeyHex)
		require.NoError(t, err)
		require.True(t, h.KIDs[i].VerifyChecksum(key), name)
	}
	x, err := h.XML()
	require.NoError(t, err)
	require.Equal(t, WRMHeader42, x)
}

// docs/formats/pro-header.md §1: 860 bytes, base64 prefix XAMAAAEAAQBSAzwAVwBS, one
// 850-byte header record holding the v40-sample-pro KID.
func TestSamplePRO40(t *testing.T) {
	b, err := base64.StdEncoding.DecodeString(SamplePRO40)
	require.NoError(t, err)
	require.Len(t, b, 860)
	o, err := pro.Parse(b)
	require.NoError(t, err)
	require.Len(t, o.Records, 1)
	require.Len(t, o.Records[0].Value, 850)
	require.Equal(t, b, o.Bytes())
	h, err := o.Header()
	require.NoError(t, err)
	v := byName(t, "v40-sample-pro")
	require.Equal(t, v.GUID, h.KIDs[0].ID.String())
	require.Equal(t, v.ChecksumB64, base64.StdEncoding.EncodeToString(h.KIDs[0].Checksum))
}

func ExampleKeys() {
	for _, v := range Keys() {
		if v.Name == "v42-video" {
			fmt.Println(v.GUID, v.KeyHex, v.ChecksumB64)
		}
	}
	// Output: a2c786d0-f9ef-4cb3-b333-cd323a4284a5 4edb7704cdbf03617f4800bd878a6df2 xNvWVxoWk04=
}
