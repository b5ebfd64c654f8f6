package soap

import (
	"crypto/rand"
	"errors"
	"testing"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/wire/kid"
	"github.com/stretchr/testify/require"
)

func testLicenseAck(t testing.TB) *LicenseAck {
	return &LicenseAck{
		TransactionID:    "265e4a30-72f9-4f46-b41e-102a21ac4bc9",
		ClientVersion:    "10.0.16384.10011",
		CertificateChain: []byte("CHAI\x00\x00\x00\x01 device chain"),
		Results: []LicenseStorageResult{
			{KID: kid.MustParse("9eb4050d-e44b-4802-932e-27d75083e266"), LID: [16]byte{1, 2, 3}, Result: 0},
			{KID: kid.MustParse("6f651ae1-dbe4-4434-bcb4-690d1564c41c"), LID: [16]byte{4, 5, 6}, Result: uint32(drm.ErrLicenseExpired)},
		},
	}
}

func buildTestLicenseAck(t *testing.T) ([]byte, *LicenseAck, Signer, func(ecc.Ciphertext) (ecc.Point, error)) {
	t.Helper()
	a := testLicenseAck(t)
	pub, dec := serverKey(t, "server encrypt")
	s := testSigner(t, "device sign")
	msg, err := BuildAcknowledgeLicense(a, pub, s, rand.Reader)
	require.NoError(t, err)
	return msg, a, s, dec
}

func TestAcknowledgeLicenseRoundTrip(t *testing.T) {
	msg, a, s, dec := buildTestLicenseAck(t)
	p, err := ParseAcknowledgeLicense(msg)
	require.NoError(t, err)
	require.Equal(t, msg, p.Bytes())
	require.Equal(t, a.TransactionID, p.TransactionID)
	require.Equal(t, a.ClientVersion, p.ClientVersion)
	require.Equal(t, a.Results, p.Results)
	require.Equal(t, s.Public(), p.SignerKey)
	require.NoError(t, p.VerifySignature())
	chain, err := p.DecryptData(dec)
	require.NoError(t, err)
	require.Equal(t, a.CertificateChain, chain)

	ack := encodeAck(p.TransactionID, p.ClientVersion, p.Results, p.req.encKey, p.req.encData)
	require.Equal(t, p.req.signed, ack, "byte-identical re-encoding")
	require.Equal(t, msg, assembleRequest("AcknowledgeLicense", ack, p.req.sig.signedInfo, p.req.sig.value, p.SignerKey))

	// The wire form: KID as the little-endian GUID (as in a WRMHEADER), the
	// result as 0x and eight hex digits.
	require.Contains(t, string(msg), "<KID>DQW0nkvkAkiTLifXUIPiZg==</KID>")
	require.Contains(t, string(msg), "<Result>0x8004C009</Result>")
	require.Contains(t, string(msg), "<Result>0x00000000</Result>")
	action, err := ParseEnvelopeAction(msg)
	require.NoError(t, err)
	require.Equal(t, "AcknowledgeLicense", action)
}

func TestAcknowledgeLicenseTamper(t *testing.T) {
	msg, _, _, _ := buildTestLicenseAck(t)
	for name, c := range map[string][2]string{
		"result":         {"<Result>0x8004C009<", "<Result>0x00000000<"},
		"transaction ID": {"265e4a30", "365e4a30"},
	} {
		p, err := ParseAcknowledgeLicense(replaceOnce(t, msg, c[0], c[1]))
		require.NoError(t, err, name)
		require.ErrorIs(t, p.VerifySignature(), drm.ErrXMLSigSHAVerifyFailure, name)
	}
	p, err := ParseAcknowledgeLicense(msg)
	require.NoError(t, err)
	_, wrong := serverKey(t, "other server")
	chain, err := p.DecryptData(wrong)
	require.ErrorIs(t, err, drm.ErrXMLSigFormat)
	require.Nil(t, chain)
}

func TestParseAcknowledgeLicenseErrors(t *testing.T) {
	msg, _, _, _ := buildTestLicenseAck(t)
	ss, _, _, _ := buildTestSecureStop(t)
	for _, tc := range []struct {
		name string
		in   []byte
		want drm.Code
	}{
		{"secure stop", ss, drm.ErrSOAPXMLWrongMessageType},
		{"version", replaceOnce(t, msg, "<Version>1</Version>", "<Version>0</Version>"), drm.ErrSOAPXMLProtocolNotSupported},
		{"no transaction", replaceOnce(t, msg, "<TransactionID>", "<X>"), drm.ErrSOAPXMLXMLFormat},
		{"empty transaction", replaceOnce(t, msg, "265e4a30-72f9-4f46-b41e-102a21ac4bc9", ""), drm.ErrSOAPXMLXMLFormat},
		{"no results", cut(t, msg, "<LicenseStorageResults>", "</LicenseStorageResults>"), drm.ErrSOAPXMLXMLFormat},
		{"empty results", cut(t, msg, "<License>", "</LicenseStorageResults>"), drm.ErrSOAPXMLXMLFormat},
		{"result decimal", replaceOnce(t, msg, "<Result>0x00000000<", "<Result>0<"), drm.ErrSOAPXMLXMLFormat},
		{"result short", replaceOnce(t, msg, "<Result>0x00000000<", "<Result>0x0<"), drm.ErrSOAPXMLXMLFormat},
		{"result sign", replaceOnce(t, msg, "<Result>0x00000000<", "<Result>0x+0000000<"), drm.ErrSOAPXMLXMLFormat},
		{"short KID", replaceOnce(t, msg, "<KID>DQW0nkvkAkiTLifXUIPiZg==<", "<KID>DQW0<"), drm.ErrSOAPXMLXMLFormat},
		{"no LID", replaceOnce(t, msg, "<LID>", "<X>"), drm.ErrSOAPXMLXMLFormat},
		{"no signature", cut(t, msg, "<Signature xmlns=", "</Signature>"), drm.ErrSOAPXMLSignatureMissing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseAcknowledgeLicense(tc.in)
			require.ErrorIs(t, err, tc.want)
			require.Nil(t, p)
		})
	}
}

func TestBuildAcknowledgeLicenseErrors(t *testing.T) {
	pub, _ := serverKey(t, "server encrypt")
	s := testSigner(t, "device sign")
	for name, edit := range map[string]func(a *LicenseAck){
		"no transaction": func(a *LicenseAck) { a.TransactionID = "" },
		"bad text":       func(a *LicenseAck) { a.TransactionID = "\x01" },
		"no chain":       func(a *LicenseAck) { a.CertificateChain = nil },
		"no results":     func(a *LicenseAck) { a.Results = nil },
		"too many":       func(a *LicenseAck) { a.Results = make([]LicenseStorageResult, MaxAckResults+1) },
	} {
		a := testLicenseAck(t)
		edit(a)
		msg, err := BuildAcknowledgeLicense(a, pub, s, rand.Reader)
		require.Error(t, err, name)
		require.Nil(t, msg, name)
	}
	_, err := BuildAcknowledgeLicense(nil, pub, s, rand.Reader)
	require.Error(t, err)
}

func TestLicenseAckResponse(t *testing.T) {
	tid := "265e4a30-72f9-4f46-b41e-102a21ac4bc9 <&>"
	msg := BuildLicenseAckResponse(tid)
	require.NoError(t, ParseLicenseAckResponse(msg))
	got, err := parseLicenseAckResponse(msg)
	require.NoError(t, err)
	require.Equal(t, tid, got)
	require.Equal(t, msg, BuildLicenseAckResponse(got), "canonical")
	require.Nil(t, BuildLicenseAckResponse(""))
	require.Nil(t, BuildLicenseAckResponse("\x00"))

	err = ParseLicenseAckResponse(BuildFault(&Fault{Code: drm.ErrServerUnknownTransactionID}))
	var f *Fault
	require.True(t, errors.As(err, &f))
	require.ErrorIs(t, err, drm.ErrServerUnknownTransactionID)

	for name, in := range map[string][]byte{
		"secure-stop response": BuildSecureStopResponse([]byte{1}),
		"version 2":            replaceOnce(t, msg, "<Version>1<", "<Version>2<"),
		"no LAck":              replaceOnce(t, msg, "<LAck ", "<Other "),
		"empty tid":            replaceOnce(t, msg, "265e4a30-72f9-4f46-b41e-102a21ac4bc9 &lt;&amp;&gt;", ""),
	} {
		require.Error(t, ParseLicenseAckResponse(in), name)
	}
}
