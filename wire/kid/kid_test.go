package kid

import (
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"
)

// Vector: docs/formats/pro-header.md §5 (PlayReady Header spec v4.2 KID).
func TestByteOrders(t *testing.T) {
	id, err := Parse("0IbHou/5s0yzM80yOkKEpQ==")
	require.NoError(t, err)
	require.Equal(t, "a2c786d0-f9ef-4cb3-b333-cd323a4284a5", id.String())
	require.Equal(t, "a2c786d0f9ef4cb3b333cd323a4284a5", id.Hex())
	g := id.GUID()
	require.Equal(t, "d086c7a2eff9b34cb333cd323a4284a5", hex.EncodeToString(g[:]))
	require.Equal(t, "0IbHou/5s0yzM80yOkKEpQ==", id.Base64GUID())
	back, err := FromGUID(g[:])
	require.NoError(t, err)
	require.Equal(t, id, back)
	for _, s := range []string{"A2C786D0-F9EF-4CB3-B333-CD323A4284A5", "{a2c786d0-f9ef-4cb3-b333-cd323a4284a5}", "a2c786d0f9ef4cb3b333cd323a4284a5"} {
		v, err := Parse(s)
		require.NoError(t, err, s)
		require.Equal(t, id, v, s)
	}
}

func TestParseRejects(t *testing.T) {
	for _, s := range []string{"", "xyz", "a2c786d0-f9ef-4cb3-b333-cd323a4284", "AAAA", "zzc786d0f9ef4cb3b333cd323a4284a5"} {
		_, err := Parse(s)
		require.ErrorIs(t, err, ErrFormat, s)
	}
	_, err := FromGUID(make([]byte, 15))
	require.ErrorIs(t, err, ErrFormat)
}
