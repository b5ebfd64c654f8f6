package soap

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The secure-stop and AcknowledgeLicense targets assert what the license
// challenge target does (fuzz_test.go): no panic, nil on error, Bytes() is
// the input, and the parsed values re-encode canonically. No ECDSA or
// ElGamal in the bodies, for the same speed reason.

func FuzzParseSecureStopChallenge(f *testing.F) {
	if seedFiles(f, "FuzzParseSecureStopChallenge") == 0 {
		f.Fatal("no seeds for FuzzParseSecureStopChallenge")
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseSecureStopChallenge(b)
		if err != nil {
			require.Nil(t, p)
			return
		}
		require.Equal(t, b, p.Bytes())
		ss := encodeSecureStop(p.Nonce, p.ClientTime, p.ClientVersion, p.req.encKey, p.req.encData)
		q, err := ParseSecureStopChallenge(assembleRequest("ProcessSecureStopData", ss, p.req.sig.signedInfo, p.req.sig.value, p.SignerKey))
		require.NoError(t, err)
		require.Equal(t, p.Nonce, q.Nonce)
		require.Equal(t, p.ClientTime, q.ClientTime)
		require.Equal(t, p.ClientVersion, q.ClientVersion)
		require.Equal(t, p.SignerKey, q.SignerKey)
		require.Equal(t, p.req.encKey, q.req.encKey)
		require.Equal(t, p.req.encData, q.req.encData)
		require.Equal(t, p.req.sig, q.req.sig)
		require.Equal(t, ss, encodeSecureStop(q.Nonce, q.ClientTime, q.ClientVersion, q.req.encKey, q.req.encData), "canonical")
	})
}

// FuzzParseSecureStopData covers the parser of the decrypted plaintext.
func FuzzParseSecureStopData(f *testing.F) {
	if seedFiles(f, "FuzzParseSecureStopData") == 0 {
		f.Fatal("no seeds for FuzzParseSecureStopData")
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		chain, recs, err := parseSecureStopData(b)
		if err != nil {
			require.Nil(t, chain)
			require.Nil(t, recs)
			return
		}
		enc := encodeSecureStopData(chain, recs)
		c2, r2, err := parseSecureStopData(enc)
		require.NoError(t, err)
		require.Equal(t, chain, c2)
		require.Equal(t, recs, r2)
	})
}

func FuzzParseAcknowledgeLicense(f *testing.F) {
	if seedFiles(f, "FuzzParseAcknowledgeLicense") == 0 {
		f.Fatal("no seeds for FuzzParseAcknowledgeLicense")
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseAcknowledgeLicense(b)
		if err != nil {
			require.Nil(t, p)
			return
		}
		require.Equal(t, b, p.Bytes())
		ack := encodeAck(p.TransactionID, p.ClientVersion, p.Results, p.req.encKey, p.req.encData)
		q, err := ParseAcknowledgeLicense(assembleRequest("AcknowledgeLicense", ack, p.req.sig.signedInfo, p.req.sig.value, p.SignerKey))
		require.NoError(t, err)
		require.Equal(t, p.TransactionID, q.TransactionID)
		require.Equal(t, p.ClientVersion, q.ClientVersion)
		require.Equal(t, p.Results, q.Results)
		require.Equal(t, p.req.encData, q.req.encData)
		require.Equal(t, ack, encodeAck(q.TransactionID, q.ClientVersion, q.Results, q.req.encKey, q.req.encData), "canonical")
	})
}

func FuzzParseSecureStopResponse(f *testing.F) {
	if seedFiles(f, "FuzzParseSecureStopResponse") == 0 {
		f.Fatal("no seeds for FuzzParseSecureStopResponse")
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ack, err := ParseSecureStopResponse(b)
		if err != nil {
			require.Nil(t, ack)
			requireFaultRoundTrip(t, err)
			return
		}
		msg := BuildSecureStopResponse(ack)
		again, err := ParseSecureStopResponse(msg)
		require.NoError(t, err)
		require.Equal(t, ack, again)
		require.Equal(t, msg, BuildSecureStopResponse(again), "canonical")
	})
}

func FuzzParseLicenseAckResponse(f *testing.F) {
	if seedFiles(f, "FuzzParseLicenseAckResponse") == 0 {
		f.Fatal("no seeds for FuzzParseLicenseAckResponse")
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tid, err := parseLicenseAckResponse(b)
		if err != nil {
			require.Empty(t, tid)
			requireFaultRoundTrip(t, err)
			return
		}
		require.NoError(t, ParseLicenseAckResponse(b))
		msg := BuildLicenseAckResponse(tid)
		require.NotNil(t, msg, "a parsed transaction ID is valid text")
		again, err := parseLicenseAckResponse(msg)
		require.NoError(t, err)
		require.Equal(t, tid, again)
	})
}
