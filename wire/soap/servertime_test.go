package soap

import (
	"bytes"
	"os"
	"testing"

	"github.com/prsim/prsim/drm"

	"github.com/stretchr/testify/require"
)

func testServerTime() *ServerTime {
	return &ServerTime{Time: 1_780_000_000, Nonce: [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		Chain: []byte("CHAI time-server chain")}
}

func TestServerTimeRoundTrip(t *testing.T) {
	signer := testSigner(t, "time")
	st := testServerTime()
	b, err := st.Sign(signer)
	require.NoError(t, err)
	require.Len(t, b, 36+len(st.Chain)+64)
	require.Equal(t, "PRST\x00\x00\x00\x01", string(b[:8]))
	p, err := ParseServerTime(b)
	require.NoError(t, err)
	require.Equal(t, st, p)
	require.Equal(t, b, p.Bytes())
	require.NoError(t, p.Verify(signer.Public()))
	require.ErrorIs(t, p.Verify(testSigner(t, "other").Public()), drm.ErrSecureTimeInvalidRequestData)
}

// Every byte is covered by the signature: flipping any field fails Verify.
func TestServerTimeTamper(t *testing.T) {
	signer := testSigner(t, "time")
	b, err := testServerTime().Sign(signer)
	require.NoError(t, err)
	for _, off := range []int{9, 15, 16, 31, 36, len(b) - 65, len(b) - 1} {
		c := bytes.Clone(b)
		c[off] ^= 1
		p, err := ParseServerTime(c)
		require.NoError(t, err, "offset %d", off)
		require.ErrorIs(t, p.Verify(signer.Public()), drm.ErrSecureTimeInvalidRequestData, "offset %d", off)
	}
}

func TestServerTimeMalformed(t *testing.T) {
	b, err := testServerTime().Sign(testSigner(t, "time"))
	require.NoError(t, err)
	cases := map[string][]byte{
		"empty":       nil,
		"truncated":   b[:len(b)-1],
		"extra byte":  append(bytes.Clone(b), 0),
		"bad magic":   append([]byte("XRST"), b[4:]...),
		"version 2":   append([]byte("PRST\x00\x00\x00\x02"), b[8:]...),
		"zero chain":  append(append(bytes.Clone(b[:32]), 0, 0, 0, 0), make([]byte, 64)...),
		"huge length": append(append(bytes.Clone(b[:32]), 0xFF, 0xFF, 0xFF, 0xFF), b[36:]...),
	}
	for name, in := range cases {
		p, err := ParseServerTime(in)
		require.ErrorIs(t, err, drm.ErrSecureTimeInvalidRequestData, name)
		require.Nil(t, p, name)
	}
	_, err = (&ServerTime{Time: 1}).Sign(testSigner(t, "time"))
	require.Error(t, err, "a statement without a chain is not signed")
}

// The response carries the blob in LicenseServerTime, inside the signed
// LicenseResponse, and parses it back.
func TestResponseServerTimeRoundTrip(t *testing.T) {
	signer := testSigner(t, "server")
	st, err := testServerTime().Sign(testSigner(t, "time"))
	require.NoError(t, err)
	r := testResponse(t)
	r.ServerTime = st
	msg, err := BuildResponse(r, signer)
	require.NoError(t, err)
	require.Contains(t, string(msg), "<LicenseServerTime>")
	p, err := ParseResponse(msg)
	require.NoError(t, err)
	require.Equal(t, st, p.ServerTime)
	require.NoError(t, p.VerifySignature(signer.Public()))
	r.Licenses = nil
	msg, err = BuildResponse(r, signer)
	require.NoError(t, err)
	p, err = ParseResponse(msg)
	require.NoError(t, err)
	require.Empty(t, p.Licenses, "a clock-sync response has no license")
	require.Equal(t, st, p.ServerTime)
	// Without one, the element is absent.
	r.ServerTime = nil
	msg, err = BuildResponse(r, signer)
	require.NoError(t, err)
	require.NotContains(t, string(msg), "LicenseServerTime")
}

func FuzzParseServerTime(f *testing.F) {
	if seedFiles(f, "FuzzParseServerTime") == 0 {
		f.Fatal("no seeds for FuzzParseServerTime")
	}
	// No Verify in the body (slow under coverage, see FuzzParseChallenge);
	// TestServerTimeTamper covers it.
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseServerTime(b)
		if err != nil {
			require.Nil(t, p)
			return
		}
		require.Equal(t, b, p.Bytes())
		q, err := ParseServerTime(p.Bytes())
		require.NoError(t, err)
		require.Equal(t, p, q)
	})
}

// TestServerTimeCorpus writes the committed fuzz seeds when run with
// PRSIM_WRITE_CORPUS=1, and otherwise checks they still parse as written.
func TestServerTimeCorpus(t *testing.T) {
	b, err := testServerTime().Sign(testSigner(t, "time"))
	require.NoError(t, err)
	seeds := map[string][]byte{"valid": b, "truncated": b[:40], "bad-version": append([]byte("PRST\x00\x00\x00\x09"), b[8:]...)}
	for name, data := range seeds {
		if os.Getenv("PRSIM_WRITE_CORPUS") == "1" {
			writeCorpus(t, "FuzzParseServerTime", name, data)
		}
	}
	p, err := ParseServerTime(b)
	require.NoError(t, err)
	require.Equal(t, b, p.Bytes())
}
