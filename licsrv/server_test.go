package licsrv_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	testfx "github.com/prsim/prsim/internal/fixture"
	"github.com/prsim/prsim/internal/keyseed"
	"github.com/prsim/prsim/internal/pki"
	"github.com/prsim/prsim/licsrv"
	"github.com/prsim/prsim/policy"
	"github.com/prsim/prsim/tee"
	"github.com/prsim/prsim/wire/bcert"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/pro"
	"github.com/prsim/prsim/wire/soap"
	"github.com/prsim/prsim/wire/xmr"
)

// fixture is a server and a TEE-level device of one shared-fixture PKI,
// with helpers to talk to the server as that device.
type fixture struct {
	fx  *testfx.Fixture
	p   *pki.PKI
	srv *licsrv.Server
	dev *tee.Device
	now time.Time
	// chain, if set, replaces the device's chain in challenges.
	chain []byte
}

func newFixture(t *testing.T, sl uint32, defects ...licsrv.Defect) *fixture {
	t.Helper()
	return newFixtureCfg(t, sl, func(c *licsrv.Config) { c.Defects = defects })
}

// newFixtureCfg builds a server whose config edit may change before New.
func newFixtureCfg(t *testing.T, sl uint32, edit func(*licsrv.Config)) *fixture {
	t.Helper()
	now := time.Now()
	fx, err := testfx.New(testfx.Options{Now: func() time.Time { return now }})
	require.NoError(t, err)
	cfg := fx.ServerConfig(licsrv.Config{DataDir: t.TempDir()})
	edit(&cfg)
	s, err := licsrv.New(cfg)
	require.NoError(t, err)
	b, err := tee.OpenBackend("soft")
	require.NoError(t, err)
	d, err := fx.ProvisionTEE(b, sl, "")
	require.NoError(t, err)
	return &fixture{fx: fx, p: fx.PKI, srv: s, dev: d, now: now}
}

var kidA = kid.MustParse("40000000-4000-4000-4000-400000000001")
var kidB = kid.MustParse("40000000-4000-4000-4000-400000000002")

func (f *fixture) challenge(t *testing.T, nonce [16]byte, clientTime time.Time, ids ...kid.ID) []byte {
	t.Helper()
	h := &pro.Header{Version: "4.2.0.0", LAURL: "http://127.0.0.1/rightsmanager.asmx"}
	for _, id := range ids {
		h.KIDs = append(h.KIDs, pro.KeyInfo{ID: id, AlgID: "AESCTR"})
	}
	return f.challengeFor(t, nonce, clientTime, h)
}

// challengeFor builds a challenge carrying header h.
func (f *fixture) challengeFor(t *testing.T, nonce [16]byte, clientTime time.Time, h *pro.Header) []byte {
	t.Helper()
	x, err := h.XML()
	require.NoError(t, err)
	enc, ok := f.p.Server.Chain.Leaf().KeyWithUsage(bcert.KeyUsageEncryptKey)
	require.True(t, ok)
	chain := f.dev.Chain()
	if f.chain != nil {
		chain = f.chain
	}
	body, err := f.dev.SignChallenge(&soap.Challenge{Version: 4, ContentHeader: x, ClientVersion: "4.5.0.0", Nonce: nonce,
		ClientTime: clientTime.Unix(), Data: soap.ClientData{CertificateChain: chain}}, enc, rand.Reader)
	require.NoError(t, err)
	return body
}

func (f *fixture) post(t *testing.T, query string, body []byte) (*httptest.ResponseRecorder, []byte) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/rightsmanager.asmx"+query, bytes.NewReader(body))
	r.Header.Set("SOAPAction", soap.ActionAcquireLicense)
	w := httptest.NewRecorder()
	f.srv.ServeHTTP(w, r)
	return w, w.Body.Bytes()
}

func requireFault(t *testing.T, w *httptest.ResponseRecorder, body []byte, code drm.Code) {
	t.Helper()
	require.Equal(t, http.StatusInternalServerError, w.Code)
	fault, err := soap.ParseFault(body)
	require.NoError(t, err)
	require.Equal(t, code, fault.Code, "got %v", fault.Code)
	require.NotContains(t, string(body), "goroutine")
	require.NotContains(t, string(body), ".go:")
}

func TestAcquireIssuesVerifiableLicenses(t *testing.T) {
	f := newFixture(t, 3000)
	nonce, err := f.dev.NewNonce()
	require.NoError(t, err)
	w, body := f.post(t, "?cfg=(kid:"+kidA.String()+",sl:2000),(kid:"+kidB.Base64GUID()+",persist:true)", f.challenge(t, nonce, f.now, kidA, kidB))
	require.Equal(t, http.StatusOK, w.Code, string(body))
	resp, err := soap.ParseResponse(body)
	require.NoError(t, err)
	pub, ok := f.p.Server.Chain.Leaf().KeyWithUsage(bcert.KeyUsageSignResponse)
	require.True(t, ok)
	require.NoError(t, resp.VerifySignature(pub))
	require.Equal(t, nonce, resp.Nonce)
	require.Len(t, resp.Licenses, 2)

	l0, err := xmr.Parse(resp.Licenses[0])
	require.NoError(t, err)
	require.False(t, l0.Persistent())
	require.Equal(t, nonce, l0.RightsID, "non-persistent rights ID = nonce")
	require.Equal(t, uint16(2000), l0.MinSecurityLevel())
	l1, err := xmr.Parse(resp.Licenses[1])
	require.NoError(t, err)
	require.True(t, l1.Persistent())
	require.NotEqual(t, nonce, l1.RightsID)

	// The keys are the test-seed keys and bind on the device.
	for i, id := range []kid.ID{kidA, kidB} {
		k, err := f.dev.Bind(resp.Licenses[i])
		require.NoError(t, err)
		require.Equal(t, id, k.KID())
		ck, _ := keyseed.Derive(keyseed.TestSeed(), id)
		sample := make([]byte, 64)
		enc := ctr(t, ck, sample)
		_, err = k.Enable(policy.Video, policy.StrategyBlock) // the TEE's output decision releases the decryptor
		require.NoError(t, err)
		require.NoError(t, k.DecryptCENC(enc, make([]byte, 8), nil))
		require.Equal(t, sample, enc)
	}
}

func TestMalformedChallengesGetFaults(t *testing.T) {
	f := newFixture(t, 2000)
	nonce, _ := f.dev.NewNonce()
	good := f.challenge(t, nonce, f.now, kidA)
	la := bytes.Index(good, []byte("<Version>"))
	flipped := append([]byte(nil), good...)
	flipped[la+len("<Version>")] = '5' // inside the signed LA element
	cases := map[string]struct {
		body []byte
		code drm.Code
	}{
		"garbage":      {[]byte("\x00\x01 not xml"), drm.ErrServerInvalidMessage},
		"empty":        {nil, drm.ErrServerInvalidMessage},
		"truncated":    {good[:len(good)/2], drm.ErrSOAPXMLXMLFormat},
		"flipped-la":   {flipped, drm.ErrXMLSigSHAVerifyFailure},
		"doctype":      {[]byte(`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`), drm.ErrServerInvalidMessage},
		"other-action": {[]byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><JoinDomain xmlns="http://schemas.microsoft.com/DRM/2007/03/protocols"/></soap:Body></soap:Envelope>`), drm.ErrServerProtocolVersionMismatch},
	}
	for name, c := range cases {
		w, body := f.post(t, "", c.body)
		require.Equal(t, http.StatusInternalServerError, w.Code, name)
		fault, err := soap.ParseFault(body)
		require.NoError(t, err, name)
		require.True(t, strings.HasPrefix(fault.Code.Hex(), "0x8004"), name)
		if name != "truncated" { // the parser may name either a format or a signature-format failure
			require.Equal(t, c.code, fault.Code, "%s: got %v", name, fault.Code)
		}
		require.NotContains(t, string(body), "goroutine", name)
	}
	// The server is still up and serves a good challenge.
	w, body := f.post(t, "", good)
	require.Equal(t, http.StatusOK, w.Code, string(body))
}

func TestPolicyFaults(t *testing.T) {
	f := newFixture(t, 2000)
	nonce, _ := f.dev.NewNonce()
	ch := f.challenge(t, nonce, f.now, kidA)
	w, b := f.post(t, "?cfg=(errorcode:0x8004C6FF)", ch)
	requireFault(t, w, b, drm.Code(0x8004C6FF))
	w, b = f.post(t, "?cfg=(revoked:true)", ch)
	requireFault(t, w, b, drm.ErrDevCertRevoked)
	w, b = f.post(t, "?cfg=(kid:"+kidB.String()+")", ch)
	requireFault(t, w, b, drm.ErrServerInvalidMessage)
	w, b = f.post(t, "?cfg=(sl:9999)", ch)
	requireFault(t, w, b, drm.ErrServerInvalidMessage)
	w, b = f.post(t, "?cfg=(msg:clientinfo)", ch)
	requireFault(t, w, b, drm.ErrServerServiceSpecific)
	fault, _ := soap.ParseFault(b)
	require.Contains(t, fault.CustomData, "Security Level: 2000")
	// Client time outside the window.
	w, b = f.post(t, "", f.challenge(t, nonce, f.now.Add(-2*time.Hour), kidA))
	requireFault(t, w, b, drm.ErrClientTimeInvalid)
}

func TestUntrustedDeviceRejected(t *testing.T) {
	f := newFixture(t, 2000)
	other := newFixture(t, 2000) // a device from another PKI
	nonce, _ := other.dev.NewNonce()
	other.p = f.p // encrypt to f's server
	w, b := f.post(t, "", other.challenge(t, nonce, f.now, kidA))
	require.Equal(t, http.StatusInternalServerError, w.Code)
	fault, err := soap.ParseFault(b)
	require.NoError(t, err)
	require.NotEqual(t, drm.ErrServerInternalError, fault.Code)
}

func TestServerCertEndpoint(t *testing.T) {
	f := newFixture(t, 150)
	r := httptest.NewRequest(http.MethodGet, licsrv.CertPath, nil)
	w := httptest.NewRecorder()
	f.srv.ServeHTTP(w, r)
	require.Equal(t, http.StatusOK, w.Code)
	b, _ := io.ReadAll(w.Body)
	require.Equal(t, f.p.Server.Chain.Bytes(), b)
	w = httptest.NewRecorder()
	f.srv.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/nope", nil))
	require.Equal(t, http.StatusNotFound, w.Code)
}

// A Server holds its private keys and the SecureStop2 secret: formatting
// it never prints them.
func TestServerFormatRedacts(t *testing.T) {
	f := newFixture(t, 150)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		require.Equal(t, "licsrv.Server", fmt.Sprintf(verb, f.srv), verb)
	}
}
