package soap

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/stretchr/testify/require"
)

func TestResponseRoundTrip(t *testing.T) {
	r := testResponse(t)
	s := testSigner(t, "server sign response")
	msg, err := BuildResponse(r, s)
	require.NoError(t, err)

	p, err := ParseResponse(msg)
	require.NoError(t, err)
	require.Equal(t, *r, p.Response)
	require.Equal(t, msg, p.Bytes())
	require.True(t, p.HasNonce())
	require.NoError(t, p.VerifySignature(s.Public()))
	require.NotContains(t, string(msg), "KeyInfo", "response signature has no KeyInfo")

	err = p.VerifySignature(testSigner(t, "someone else").Public())
	require.ErrorIs(t, err, drm.ErrInvalidLicenseResponseSignature)
}

func TestResponseEmpty(t *testing.T) {
	// With License Server Time a response may carry no license
	// (docs/formats/soap.md §5).
	r := &Response{Nonce: [16]byte{1}, ResponseID: []byte{2}}
	s := testSigner(t, "server sign response")
	msg, err := BuildResponse(r, s)
	require.NoError(t, err)
	require.Contains(t, string(msg), "<Licenses></Licenses>")
	p, err := ParseResponse(msg)
	require.NoError(t, err)
	require.Equal(t, *r, p.Response)
	require.NoError(t, p.VerifySignature(s.Public()))
}

func TestResponseTamper(t *testing.T) {
	s := testSigner(t, "server sign response")
	msg, err := BuildResponse(testResponse(t), s)
	require.NoError(t, err)
	sv := regexp.MustCompile(`<SignatureValue>([^<]*)</SignatureValue>`).FindSubmatch(msg)
	require.NotNil(t, sv)
	sig := mustB64(t, string(sv[1]))
	sig[63] ^= 0x80
	lic := base64.StdEncoding.EncodeToString([]byte("XMR\x00license one"))

	for _, tc := range []struct {
		name, old, new string
		want           drm.Code
	}{
		{"license", lic, base64.StdEncoding.EncodeToString([]byte("XMR\x00license 0ne")), drm.ErrInvalidLicenseResponseSignature},
		{"attribute order", `xmlns="` + NSProtocols + `" Id="SignedData"`, `Id="SignedData" xmlns="` + NSProtocols + `"`, drm.ErrInvalidLicenseResponseSignature},
		{"whitespace", "<Licenses>", "<Licenses> ", drm.ErrInvalidLicenseResponseSignature},
		{"SignedInfo", `<Reference URI="#SignedData">`, `<Reference  URI="#SignedData">`, drm.ErrInvalidLicenseResponseSignature},
		{"SignatureValue", string(sv[1]), base64.StdEncoding.EncodeToString(sig), drm.ErrInvalidLicenseResponseSignature},
		{"no signature", string(msg[strings.Index(string(msg), "<Signature ") : strings.Index(string(msg), "</Signature>")+len("</Signature>")]), "", drm.ErrLicenseResponseSignatureMissing},
		{"no nonce", "<LicenseNonce>7GYVLC7wvGVR0nqGYXs4DQ==</LicenseNonce>", "", drm.ErrLicenseResponseSignatureMissing},
		{"no response ID", "<ResponseID>", "<ResponseIDx>", drm.ErrLicenseResponseSignatureMissing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := replaceOnce(t, msg, tc.old, tc.new)
			if tc.name == "no response ID" {
				in = replaceOnce(t, in, "</ResponseID>", "</ResponseIDx>")
			}
			p, err := ParseResponse(in)
			require.NoError(t, err)
			require.ErrorIs(t, p.VerifySignature(s.Public()), tc.want)
		})
	}
}

func TestParseResponseErrors(t *testing.T) {
	msg, err := BuildResponse(testResponse(t), testSigner(t, "server sign response"))
	require.NoError(t, err)
	s := string(msg)
	sub := func(old, new string) []byte {
		require.Contains(t, s, old)
		return []byte(strings.Replace(s, old, new, 1))
	}
	challenge, _, _, _ := buildTestChallenge(t)
	for _, tc := range []struct {
		name string
		in   []byte
		want drm.Code
	}{
		{"empty", nil, drm.ErrSOAPXMLXMLFormat},
		{"challenge", challenge, drm.ErrSOAPXMLWrongMessageType},
		{"bad license", sub("<License>", "<License>*"+marker), drm.ErrSOAPXMLXMLFormat},
		{"two nonces", sub("<ResponseID>", "<LicenseNonce>7GYVLC7wvGVR0nqGYXs4DQ==</LicenseNonce><ResponseID>"), drm.ErrSOAPXMLXMLFormat},
		{"short nonce", sub("7GYVLC7wvGVR0nqGYXs4DQ==", "AAAA"), drm.ErrSOAPXMLXMLFormat},
		{"bad list ID", sub("ioydTlK2p0WXkWklprR5Hw==", "AAAA"), drm.ErrSOAPXMLXMLFormat},
		{"wrong Id", sub(`Id="SignedData"`, `Id="Other"`), drm.ErrXMLSigFormat},
		{"bad signature", sub("<SignatureValue>", "<SignatureValue>AAAA"), drm.ErrXMLSigFormat},
		{"no LicenseResponse", sub("<LicenseResponse ", "<"+marker+" "), drm.ErrSOAPXMLXMLFormat},
		{"doctype", sub("<soap:Envelope", "<!DOCTYPE x><soap:Envelope"), drm.ErrSOAPXMLXMLFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseResponse(tc.in)
			require.ErrorIs(t, err, tc.want)
			require.Nil(t, p)
			require.NotContains(t, err.Error(), marker)
		})
	}
}

func TestParseResponseFault(t *testing.T) {
	f := &Fault{Code: drm.ErrDevCertRevoked, Message: "Device Certificate Revoked."}
	p, err := ParseResponse(BuildFault(f))
	require.Nil(t, p)
	var got *Fault
	require.True(t, errors.As(err, &got))
	require.Equal(t, f, got)
	require.ErrorIs(t, err, drm.ErrDevCertRevoked)
	c, ok := drm.CodeOf(err)
	require.True(t, ok)
	require.Equal(t, drm.ErrDevCertRevoked, c)
}

func TestBuildResponseErrors(t *testing.T) {
	s := testSigner(t, "server sign response")
	_, err := BuildResponse(nil, s)
	require.Error(t, err)
	_, err = BuildResponse(testResponse(t), nil)
	require.Error(t, err)
	r := testResponse(t)
	r.CustomData = "\x01"
	_, err = BuildResponse(r, s)
	require.Error(t, err)
	msg, err := BuildResponse(testResponse(t), badSigner{s})
	require.Error(t, err)
	require.Nil(t, msg)
}

// replaySigner signs with key unless a signature from an earlier run is
// given: the golden file then stays byte-identical and still verifies.
type replaySigner struct {
	Signer
	sig *[64]byte
}

func (r replaySigner) SignDigest(d []byte) ([64]byte, error) {
	if r.sig != nil {
		if !ecc.Verify(r.Public(), d, r.sig[:]) {
			return [64]byte{}, errors.New("replayed signature does not match the digest")
		}
		return *r.sig, nil
	}
	return r.Signer.SignDigest(d)
}

func TestResponseGolden(t *testing.T) {
	file := filepath.Join("testdata", "response.xml")
	s := replaySigner{Signer: testSigner(t, "server sign response")}
	if !*update {
		golden, err := os.ReadFile(file)
		require.NoError(t, err)
		p, err := ParseResponse(golden)
		require.NoError(t, err)
		sig := p.sig.value
		s.sig = &sig
	}
	msg, err := BuildResponse(testResponse(t), s)
	require.NoError(t, err)
	if *update {
		require.NoError(t, os.WriteFile(file, msg, 0o644))
		writeCorpus(t, "FuzzParseResponse", "response", msg)
		writeCorpus(t, "FuzzParseResponse", "fault", BuildFault(&Fault{Code: drm.ErrServerProtocolRedirect, RedirectURL: "https://example.test/"}))
	}
	golden, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Equal(t, string(golden), string(msg))

	p, err := ParseResponse(golden)
	require.NoError(t, err)
	require.NoError(t, p.VerifySignature(s.Public()))
	require.Equal(t, *testResponse(t), p.Response)
}

func TestNewSigner(t *testing.T) {
	k := testKey(t, "signer")
	s, err := NewSigner(k, rand.Reader)
	require.NoError(t, err)
	raw, err := k.Bytes()
	require.NoError(t, err)
	require.NotContains(t, fmt.Sprint(s), hex.EncodeToString(raw), "no key material in %v")
	d := sha256.Sum256([]byte("x"))
	sig, err := s.SignDigest(d[:])
	require.NoError(t, err)
	require.True(t, ecc.Verify(s.Public(), d[:], sig[:]))

	s, err = NewSigner(nil, rand.Reader)
	require.Error(t, err)
	require.Nil(t, s)
	s, err = NewSigner(k, nil)
	require.Error(t, err)
	require.Nil(t, s)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	s, err = NewSigner(p384, rand.Reader)
	require.Error(t, err)
	require.Nil(t, s)
}
