package soap

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/stretchr/testify/require"
)

func testSecureStop(t testing.TB) *SecureStopChallenge {
	return &SecureStopChallenge{
		Nonce:            [16]byte(mustB64(t, "7GYVLC7wvGVR0nqGYXs4DQ==")),
		ClientTime:       1764590125,
		ClientVersion:    "prsim <4.3>",
		CertificateChain: []byte("CHAI\x00\x00\x00\x01 not a real chain, only bytes"),
		Records:          []byte("\x00\x01 records are opaque here"),
	}
}

func buildTestSecureStop(t *testing.T) ([]byte, *SecureStopChallenge, Signer, func(ecc.Ciphertext) (ecc.Point, error)) {
	t.Helper()
	c := testSecureStop(t)
	pub, dec := serverKey(t, "server encrypt")
	s := testSigner(t, "device sign")
	msg, err := BuildSecureStopChallenge(c, pub, s, rand.Reader)
	require.NoError(t, err)
	return msg, c, s, dec
}

func TestSecureStopChallengeRoundTrip(t *testing.T) {
	msg, c, s, dec := buildTestSecureStop(t)
	p, err := ParseSecureStopChallenge(msg)
	require.NoError(t, err)
	require.Equal(t, msg, p.Bytes())
	require.Equal(t, c.Nonce, p.Nonce)
	require.Equal(t, c.ClientTime, p.ClientTime)
	require.Equal(t, c.ClientVersion, p.ClientVersion)
	require.Equal(t, s.Public(), p.SignerKey)
	require.NoError(t, p.VerifySignature())

	chain, recs, err := p.DecryptData(dec)
	require.NoError(t, err)
	require.Equal(t, c.CertificateChain, chain)
	require.Equal(t, c.Records, recs)

	// Byte-identical re-encoding from the parsed values.
	ss := encodeSecureStop(p.Nonce, p.ClientTime, p.ClientVersion, p.req.encKey, p.req.encData)
	require.Equal(t, p.req.signed, ss)
	require.Equal(t, msg, assembleRequest("ProcessSecureStopData", ss, p.req.sig.signedInfo, p.req.sig.value, p.SignerKey))

	action, err := ParseEnvelopeAction(msg)
	require.NoError(t, err)
	require.Equal(t, "ProcessSecureStopData", action)
	require.Equal(t, `"http://schemas.microsoft.com/DRM/2007/03/protocols/ProcessSecureStopData"`, ActionProcessSecureStopData)

	// The plaintext never shows up in the envelope.
	require.NotContains(t, string(msg), "records are opaque")
	require.NotContains(t, string(msg), "not a real chain")
}

func TestSecureStopChallengeTamper(t *testing.T) {
	msg, _, _, dec := buildTestSecureStop(t)
	for _, tc := range []struct {
		name, old, new string
		want           drm.Code
	}{
		{"client time", "<ClientTime>1764590125<", "<ClientTime>1764590126<", drm.ErrXMLSigSHAVerifyFailure},
		{"nonce", "<Nonce>7GYVLC7wvGVR0nqGYXs4DQ==<", "<Nonce>8GYVLC7wvGVR0nqGYXs4DQ==<", drm.ErrXMLSigSHAVerifyFailure},
		{"whitespace", "<Version>1</Version>", "<Version>1</Version> ", drm.ErrXMLSigSHAVerifyFailure},
		{"SignedInfo", `<Reference URI="#SignedData">`, `<Reference URI="#SignedData" >`, drm.ErrXMLSigECDSAVerifyFailure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseSecureStopChallenge(replaceOnce(t, msg, tc.old, tc.new))
			require.NoError(t, err)
			require.ErrorIs(t, p.VerifySignature(), tc.want)
		})
	}

	t.Run("wrong server key", func(t *testing.T) {
		p, err := ParseSecureStopChallenge(msg)
		require.NoError(t, err)
		_, wrong := serverKey(t, "other server")
		chain, recs, err := p.DecryptData(wrong)
		require.ErrorIs(t, err, drm.ErrXMLSigFormat)
		require.Nil(t, chain)
		require.Nil(t, recs)
		_, _, err = p.DecryptData(nil)
		require.Error(t, err)
		_, _, err = p.DecryptData(dec)
		require.NoError(t, err)
	})
}

func TestParseSecureStopChallengeErrors(t *testing.T) {
	msg, _, _, _ := buildTestSecureStop(t)
	lic, _, _, _ := buildTestChallenge(t)
	for _, tc := range []struct {
		name string
		in   []byte
		want drm.Code
	}{
		{"license challenge", lic, drm.ErrSOAPXMLWrongMessageType},
		{"version 2", replaceOnce(t, msg, "<Version>1</Version>", "<Version>2</Version>"), drm.ErrSOAPXMLProtocolNotSupported},
		{"no nonce", replaceOnce(t, msg, "<Nonce>", "<X>"), drm.ErrSOAPXMLXMLFormat},
		{"short nonce", replaceOnce(t, msg, "<Nonce>7GYVLC7wvGVR0nqGYXs4DQ==<", "<Nonce>7GYVLC7w<"), drm.ErrSOAPXMLXMLFormat},
		{"duplicate nonce", replaceOnce(t, msg, "<ClientTime>", "<Nonce>7GYVLC7wvGVR0nqGYXs4DQ==</Nonce><ClientTime>"), drm.ErrSOAPXMLXMLFormat},
		{"client time", replaceOnce(t, msg, "<ClientTime>1764590125<", "<ClientTime>x<"), drm.ErrSOAPXMLXMLFormat},
		{"no signature", cut(t, msg, "<Signature xmlns=", "</Signature>"), drm.ErrSOAPXMLSignatureMissing},
		{"Id", replaceOnce(t, msg, `Id="SignedData"`, `Id="Other"`), drm.ErrXMLSigFormat},
		{"no encrypted data", cut(t, msg, "<EncryptedData", "</EncryptedData>"), drm.ErrXMLSigFormat},
		{"wrong namespace", replaceOnce(t, msg, `<SecureStop xmlns="http://schemas.microsoft.com/DRM/2007/03/protocols"`, `<SecureStop xmlns="urn:x"`), drm.ErrSOAPXMLXMLFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseSecureStopChallenge(tc.in)
			require.ErrorIs(t, err, tc.want)
			require.Nil(t, p)
		})
	}
}

// cut removes the first range from the start of from to the end of to.
func cut(t testing.TB, msg []byte, from, to string) []byte {
	t.Helper()
	i := bytes.Index(msg, []byte(from))
	j := bytes.Index(msg[i:], []byte(to))
	require.True(t, i >= 0 && j >= 0, "test input lacks %q…%q", from, to)
	return append(bytes.Clone(msg[:i]), msg[i+j+len(to):]...)
}

func TestBuildSecureStopChallengeErrors(t *testing.T) {
	pub, _ := serverKey(t, "server encrypt")
	s := testSigner(t, "device sign")
	for name, edit := range map[string]func(c *SecureStopChallenge){
		"no chain":       func(c *SecureStopChallenge) { c.CertificateChain = nil },
		"no records":     func(c *SecureStopChallenge) { c.Records = nil },
		"records > max":  func(c *SecureStopChallenge) { c.Records = make([]byte, MaxSecureStopRecords+1) },
		"client version": func(c *SecureStopChallenge) { c.ClientVersion = "\x00" },
	} {
		c := testSecureStop(t)
		edit(c)
		msg, err := BuildSecureStopChallenge(c, pub, s, rand.Reader)
		require.Error(t, err, name)
		require.Nil(t, msg, name)
	}
	_, err := BuildSecureStopChallenge(nil, pub, s, rand.Reader)
	require.Error(t, err)
	_, err = BuildSecureStopChallenge(testSecureStop(t), ecc.Point{}, s, rand.Reader)
	require.ErrorIs(t, err, ecc.ErrPoint)
	_, err = BuildSecureStopChallenge(testSecureStop(t), pub, nil, rand.Reader)
	require.Error(t, err)
	_, err = BuildSecureStopChallenge(testSecureStop(t), pub, s, nil)
	require.Error(t, err)
}

func TestZeroParsedSecureStop(t *testing.T) {
	var p ParsedSecureStopChallenge
	require.ErrorIs(t, p.VerifySignature(), drm.ErrSOAPXMLSignatureMissing)
	_, _, err := p.DecryptData(func(ecc.Ciphertext) (ecc.Point, error) { return ecc.Point{}, nil })
	require.ErrorIs(t, err, drm.ErrXMLSigFormat)
	require.Nil(t, p.Bytes())
	var a ParsedLicenseAck
	require.ErrorIs(t, a.VerifySignature(), drm.ErrSOAPXMLSignatureMissing)
	_, err = a.DecryptData(func(ecc.Ciphertext) (ecc.Point, error) { return ecc.Point{}, nil })
	require.ErrorIs(t, err, drm.ErrXMLSigFormat)
}

func TestSecureStopResponse(t *testing.T) {
	ack := []byte("PRSA\x00\x00\x00\x01 an ack blob")
	msg := BuildSecureStopResponse(ack)
	got, err := ParseSecureStopResponse(msg)
	require.NoError(t, err)
	require.Equal(t, ack, got)
	require.Equal(t, msg, BuildSecureStopResponse(got), "canonical")
	action, err := ParseEnvelopeAction(msg)
	require.NoError(t, err)
	require.Equal(t, "ProcessSecureStopDataResponse", action)

	// A fault is returned as the error.
	fmsg := BuildFault(&Fault{Code: drm.ErrServerDeviceLimitReached, Message: "m"})
	got, err = ParseSecureStopResponse(fmsg)
	require.Nil(t, got)
	var f *Fault
	require.True(t, errors.As(err, &f))
	require.ErrorIs(t, err, drm.ErrServerDeviceLimitReached)

	for name, in := range map[string][]byte{
		"license response": mustBuildResponse(t),
		"empty ack":        BuildSecureStopResponse(nil),
		"not base64":       replaceOnce(t, msg, "<SecureStopAck>", "<SecureStopAck>*"),
		"no ack":           replaceOnce(t, msg, "<SecureStopAck>", "<Other>"),
		"garbage":          []byte("<x/>"),
	} {
		got, err := ParseSecureStopResponse(in)
		require.Error(t, err, name)
		require.Nil(t, got, name)
	}
}

func mustBuildResponse(t *testing.T) []byte {
	b, err := BuildResponse(testResponse(t), testSigner(t, "server sign"))
	require.NoError(t, err)
	return b
}

// TestSecureStopCorpus commits (with -update) the seeds of the secure-stop
// and acknowledgement fuzz targets and checks that they still parse.
func TestSecureStopCorpus(t *testing.T) {
	ss, _, _, _ := buildTestSecureStop(t)
	la, _, _, _ := buildTestLicenseAck(t)
	resp := BuildSecureStopResponse([]byte("PRSA ack"))
	lresp := BuildLicenseAckResponse("265e4a30-72f9-4f46-b41e-102a21ac4bc9")
	fault := BuildFault(&Fault{Code: drm.ErrServerUnknownTransactionID, Message: "unknown"})
	seeds := map[string]map[string][]byte{
		"FuzzParseSecureStopChallenge": {"challenge": ss},
		"FuzzParseAcknowledgeLicense":  {"ack": la},
		"FuzzParseSecureStopResponse":  {"response": resp, "fault": fault},
		"FuzzParseLicenseAckResponse":  {"response": lresp, "fault": fault},
		"FuzzParseSecureStopData":      {"data": encodeSecureStopData([]byte("chain"), []byte("records"))},
	}
	for target, files := range seeds {
		for name, data := range files {
			if *update {
				writeCorpus(t, target, name, data)
			}
			b, err := os.ReadFile(filepath.Join("testdata", "fuzz", target, name))
			require.NoError(t, err, "run go test -run TestSecureStopCorpus -update")
			require.True(t, strings.HasPrefix(string(b), "go test fuzz v1\n"))
		}
	}
}
