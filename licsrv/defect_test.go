package licsrv_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/internal/keyseed"
	"github.com/prsim/prsim/licsrv"
	"github.com/prsim/prsim/policy"
	"github.com/prsim/prsim/wire/bcert"
	"github.com/prsim/prsim/wire/pro"
	"github.com/prsim/prsim/wire/soap"
	"github.com/prsim/prsim/wire/xmr"
)

func TestDefectNames(t *testing.T) {
	want := []licsrv.Defect{"no-nonce-echo", "unsigned-response", "bad-response-signature", "ignore-sl", "ignore-persist",
		"wrong-content-key", "accept-bad-signature", "accept-untrusted-root", "fault-as-200", "ignore-license-requested",
		"issue-above-cert-sl", "no-limits", "no-timeouts", "mis-encode-opl", "drop-play-enabler", "keep-unsupported-key",
		"no-client-time-check", "stale-server-time", "unsigned-server-time", "mis-encode-dates", "drop-ack", "accept-tampered-ss2",
		"double-count-resend", "ignore-stream-stops", "accept-revoked", "stale-revinfo", "ignore-allow-list", "riv-zero"}
	require.Equal(t, want, licsrv.Defects())
	for _, d := range licsrv.Defects() {
		require.NotEmpty(t, d.Description(), d)
		got, err := licsrv.ParseDefect(string(d))
		require.NoError(t, err)
		require.Equal(t, d, got)
	}
	got, err := licsrv.ParseDefect("IGNORE-SL")
	require.NoError(t, err)
	require.Equal(t, licsrv.DefectIgnoreSL, got)
	_, err = licsrv.ParseDefect("no-such-bug")
	require.ErrorContains(t, err, `"no-such-bug"`)
	require.ErrorContains(t, err, "accept-untrusted-root")
	require.Empty(t, licsrv.Defect("no-such-bug").Description())

	// New rejects an unknown defect, naming the valid ones.
	f := newFixture(t, 150)
	_, err = f.fx.NewServer(licsrv.Config{Defects: []licsrv.Defect{"bogus"}})
	require.ErrorContains(t, err, `"bogus"`)
	require.ErrorContains(t, err, "ignore-license-requested")
}

// acquireOK posts a challenge for kidA and parses the 200 response.
func (f *fixture) acquireOK(t *testing.T, query string) ([16]byte, *soap.ParsedResponse) {
	t.Helper()
	nonce, err := f.dev.NewNonce()
	require.NoError(t, err)
	w, body := f.post(t, query, f.challenge(t, nonce, f.now, kidA))
	require.Equal(t, http.StatusOK, w.Code, string(body))
	resp, err := soap.ParseResponse(body)
	require.NoError(t, err)
	return nonce, resp
}

func (f *fixture) serverSignKey(t *testing.T) ecc.Point {
	pub, ok := f.p.Server.Chain.Leaf().KeyWithUsage(bcert.KeyUsageSignResponse)
	require.True(t, ok)
	return pub
}

// Each defect test runs the same request against a clean server and one
// with the defect, and checks the one property the defect breaks.

func TestDefectNoNonceEcho(t *testing.T) {
	for _, bad := range []bool{false, true} {
		f := defectFixture(t, bad, licsrv.DefectNoNonceEcho)
		nonce, resp := f.acquireOK(t, "")
		require.NoError(t, resp.VerifySignature(f.serverSignKey(t)), "the signature still verifies")
		require.Equal(t, !bad, nonce == resp.Nonce, "defect %v", bad)
	}
}

func TestDefectUnsignedResponse(t *testing.T) {
	for _, bad := range []bool{false, true} {
		f := defectFixture(t, bad, licsrv.DefectUnsignedResponse)
		nonce, resp := f.acquireOK(t, "")
		require.Equal(t, nonce, resp.Nonce)
		require.Len(t, resp.Licenses, 1)
		err := resp.VerifySignature(f.serverSignKey(t))
		if bad {
			require.ErrorIs(t, err, drm.ErrLicenseResponseSignatureMissing)
			require.NotContains(t, string(resp.Bytes()), "<Signature")
		} else {
			require.NoError(t, err)
		}
	}
}

func TestDefectBadResponseSignature(t *testing.T) {
	for _, bad := range []bool{false, true} {
		f := defectFixture(t, bad, licsrv.DefectBadResponseSignature)
		_, resp := f.acquireOK(t, "")
		err := resp.VerifySignature(f.serverSignKey(t))
		if bad {
			require.ErrorIs(t, err, drm.ErrInvalidLicenseResponseSignature)
		} else {
			require.NoError(t, err)
		}
	}
}

func TestDefectIgnoreSL(t *testing.T) {
	for _, bad := range []bool{false, true} {
		f := defectFixture(t, bad, licsrv.DefectIgnoreSL)
		_, resp := f.acquireOK(t, "?cfg=(sl:3000)")
		l, err := xmr.Parse(resp.Licenses[0])
		require.NoError(t, err)
		want := uint16(3000)
		if bad {
			want = 150
		}
		require.Equal(t, want, l.MinSecurityLevel())
	}
}

func TestDefectIgnorePersist(t *testing.T) {
	for _, bad := range []bool{false, true} {
		f := defectFixture(t, bad, licsrv.DefectIgnorePersist)
		_, resp := f.acquireOK(t, "?cfg=(persist:true)")
		l, err := xmr.Parse(resp.Licenses[0])
		require.NoError(t, err)
		require.Equal(t, !bad, l.Persistent())
	}
}

func TestDefectWrongContentKey(t *testing.T) {
	ck, err := keyseed.Derive(keyseed.TestSeed(), kidA)
	require.NoError(t, err)
	sample := bytes.Repeat([]byte("prsim sample "), 5)
	for _, bad := range []bool{false, true} {
		f := defectFixture(t, bad, licsrv.DefectWrongContentKey)
		_, resp := f.acquireOK(t, "")
		k, err := f.dev.Bind(resp.Licenses[0])
		require.NoError(t, err, "the license still binds")
		enc := ctr(t, ck, sample)
		_, err = k.Enable(policy.Video, policy.StrategyBlock) // the TEE's output decision releases the decryptor
		require.NoError(t, err)
		require.NoError(t, k.DecryptCENC(enc, make([]byte, 8), nil))
		require.Equal(t, !bad, bytes.Equal(sample, enc), "defect %v", bad)
	}
}

func TestDefectAcceptBadSignature(t *testing.T) {
	for _, bad := range []bool{false, true} {
		f := defectFixture(t, bad, licsrv.DefectAcceptBadSignature)
		nonce, _ := f.dev.NewNonce()
		ch := f.challenge(t, nonce, f.now, kidA)
		i := bytes.Index(ch, []byte("<SignatureValue>")) + len("<SignatureValue>")
		if ch[i] == 'A' { // another base64 digit: a different, well-formed signature value
			ch[i] = 'B'
		} else {
			ch[i] = 'A'
		}
		w, body := f.post(t, "", ch)
		if bad {
			require.Equal(t, http.StatusOK, w.Code, string(body))
		} else {
			requireFault(t, w, body, drm.ErrXMLSigECDSAVerifyFailure)
			requireReason(t, body, "challenge signature does not verify with the device's signing key")
		}
	}
}

func TestDefectAcceptUntrustedRoot(t *testing.T) {
	other := newFixture(t, 2000) // a device from another PKI
	for _, bad := range []bool{false, true} {
		f := defectFixture(t, bad, licsrv.DefectAcceptUntrustedRoot)
		nonce, _ := other.dev.NewNonce()
		o := *other
		o.p = f.p // encrypt to f's server
		w, body := f.post(t, "", o.challenge(t, nonce, f.now, kidA))
		if bad {
			require.Equal(t, http.StatusOK, w.Code, string(body))
		} else {
			requireFault(t, w, body, drm.ErrBCertIssuerKeyKeyInfoMismatch)
			requireReason(t, body, "device certificate chain invalid: certificate 2: issuer key is not a trust anchor")
		}
	}
	// The defect skips only the root check: a broken leaf signature is
	// still caught.
	f := newFixture(t, 2000, licsrv.DefectAcceptUntrustedRoot)
	chain, err := bcert.ParseChain(f.dev.Chain())
	require.NoError(t, err)
	f.chain = f.dev.Chain()
	// The leaf's SIGNATURE object ends the leaf: type, length, r‖s, key bits, issuer key.
	f.chain[bcert.ChainHeaderSize+len(chain.Leaf().Bytes())-4-64-1] ^= 1
	nonce, _ := f.dev.NewNonce()
	w, body := f.post(t, "", f.challenge(t, nonce, f.now, kidA))
	requireFault(t, w, body, drm.ErrInvalidDeviceCertificate)
	requireReason(t, body, "device certificate chain invalid: leaf signature does not verify")
}

func TestDefectFaultAs200(t *testing.T) {
	for _, bad := range []bool{false, true} {
		f := defectFixture(t, bad, licsrv.DefectFaultAs200)
		nonce, _ := f.dev.NewNonce()
		w, body := f.post(t, "?cfg=(revoked:true)", f.challenge(t, nonce, f.now, kidA))
		want := http.StatusInternalServerError
		if bad {
			want = http.StatusOK
		}
		require.Equal(t, want, w.Code)
		fault, err := soap.ParseFault(body)
		require.NoError(t, err)
		require.Equal(t, drm.ErrDevCertRevoked, fault.Code)
	}
}

func TestDefectIgnoreLicenseRequested(t *testing.T) {
	no := false
	for _, bad := range []bool{false, true} {
		f := defectFixture(t, bad, licsrv.DefectIgnoreLicenseRequested)
		nonce, _ := f.dev.NewNonce()
		h := &pro.Header{Version: "4.3.0.0", LAURL: "http://127.0.0.1/rightsmanager.asmx", LicenseRequested: &no,
			KIDs: []pro.KeyInfo{{ID: kidA, AlgID: "AESCTR"}}}
		w, body := f.post(t, "", f.challengeFor(t, nonce, f.now, h))
		require.Equal(t, http.StatusOK, w.Code, string(body))
		resp, err := soap.ParseResponse(body)
		require.NoError(t, err)
		want := 0
		if bad {
			want = 1
		}
		require.Len(t, resp.Licenses, want)
	}
}

func defectFixture(t *testing.T, bad bool, d licsrv.Defect) *fixture {
	t.Helper()
	if bad {
		return newFixture(t, 3000, d)
	}
	return newFixture(t, 3000)
}

// requireReason checks the fault's faultstring.
func requireReason(t *testing.T, body []byte, want string) {
	t.Helper()
	f, err := soap.ParseFault(body)
	require.NoError(t, err)
	require.Equal(t, want, f.Message)
}
