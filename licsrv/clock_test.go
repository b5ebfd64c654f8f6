package licsrv_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/internal/pki"
	"github.com/prsim/prsim/licsrv"
	"github.com/prsim/prsim/wire/pro"
	"github.com/prsim/prsim/wire/soap"
	"github.com/prsim/prsim/wire/xmr"
)

// lstConfig turns License Server Time on with the fixture PKI's time server.
func (f *fixture) lstConfig(defects ...licsrv.Defect) licsrv.Config {
	return licsrv.Config{Defects: defects, LicenseServerTime: true, TimeChain: f.p.TimeServer.Chain, TimeKey: f.p.TimeServer.Key}
}

// lstFixture is an SL3000 fixture whose server has License Server Time on.
func lstFixture(t *testing.T, defects ...licsrv.Defect) *fixture {
	t.Helper()
	f := newFixture(t, 3000)
	srv, err := f.fx.NewServer(f.lstConfig(defects...))
	require.NoError(t, err)
	f.srv = srv
	return f
}

func (f *fixture) timeKey(t *testing.T) ecc.Point {
	k, ok := f.p.TimeServer.Chain.Leaf().KeyWithUsage(pki.KeyUsageSignSecureTime)
	require.True(t, ok)
	return k
}

// getTime calls GET /prsim/time on srv.
func getTime(t *testing.T, srv http.Handler, query string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, httptest.NewRequest(http.MethodGet, licsrv.TimePath+query, nil))
	return w
}

func TestClientTimeWindow(t *testing.T) {
	f := newFixture(t, 3000)
	send := func(off time.Duration) (*httptest.ResponseRecorder, []byte) {
		nonce, err := f.dev.NewNonce()
		require.NoError(t, err)
		return f.post(t, "", f.challenge(t, nonce, f.now.Add(off), kidA))
	}
	for _, off := range []time.Duration{2 * time.Hour, -2 * time.Hour, time.Hour + time.Second} {
		w, body := send(off)
		requireFault(t, w, body, drm.ErrClientTimeInvalid)
		fault, err := soap.ParseFault(body)
		require.NoError(t, err)
		require.Contains(t, fault.Message, "(window 1h0m0s)")
		require.Contains(t, fault.Message, (off.Abs().Truncate(time.Second)).String())
	}
	for _, off := range []time.Duration{30 * time.Minute, -30 * time.Minute, time.Hour - time.Second} {
		w, body := send(off)
		require.Equal(t, http.StatusOK, w.Code, "offset %s: %s", off, body)
	}

	// A narrower window (--clock-skew 10m) refuses 30 minutes.
	srv, err := f.fx.NewServer(licsrv.Config{ClientTimeSkew: 10 * time.Minute})
	require.NoError(t, err)
	f.srv = srv
	w, body := send(30 * time.Minute)
	requireFault(t, w, body, drm.ErrClientTimeInvalid)

	// The defect accepts any client clock.
	srv, err = f.fx.NewServer(licsrv.Config{Defects: []licsrv.Defect{licsrv.DefectNoClientTimeCheck}})
	require.NoError(t, err)
	f.srv = srv
	w, body = send(48 * time.Hour)
	require.Equal(t, http.StatusOK, w.Code, string(body))
}

// checkTime parses and verifies a time blob and returns its time.
func (f *fixture) checkTime(t *testing.T, blob []byte, nonce [16]byte) time.Time {
	t.Helper()
	st, err := soap.ParseServerTime(blob)
	require.NoError(t, err)
	require.NoError(t, st.Verify(f.timeKey(t)))
	require.Equal(t, nonce, st.Nonce)
	require.Equal(t, f.p.TimeServer.Chain.Bytes(), st.Chain)
	return time.Unix(st.Time, 0)
}

func TestLicenseServerTimeInResponse(t *testing.T) {
	f := lstFixture(t)
	nonce, resp := f.acquireOK(t, "")
	require.Len(t, resp.Licenses, 1)
	require.NoError(t, resp.VerifySignature(f.serverSignKey(t)), "the time element is inside the signed LicenseResponse")
	require.Equal(t, f.now.Unix(), f.checkTime(t, resp.ServerTime, nonce).Unix())

	// Off (the default): no element, no endpoint.
	g := newFixture(t, 3000)
	_, resp = g.acquireOK(t, "")
	require.Empty(t, resp.ServerTime)
	w := getTime(t, g.srv, "")
	require.Equal(t, http.StatusNotFound, w.Code)
	require.Contains(t, w.Body.String(), "--license-server-time")
}

// A 4.3 header with LICENSEREQUESTED="false" is a clock sync: no license,
// the signed time.
func TestClockSyncRequest(t *testing.T) {
	f := lstFixture(t)
	no := false
	h := &pro.Header{Version: pro.Version43, LAURL: "http://127.0.0.1/rightsmanager.asmx", LicenseRequested: &no,
		KIDs: []pro.KeyInfo{{ID: kidA, AlgID: pro.AlgAESCTR}}}
	nonce, err := f.dev.NewNonce()
	require.NoError(t, err)
	w, body := f.post(t, "", f.challengeFor(t, nonce, f.now, h))
	require.Equal(t, http.StatusOK, w.Code, string(body))
	resp, err := soap.ParseResponse(body)
	require.NoError(t, err)
	require.Empty(t, resp.Licenses)
	require.Equal(t, f.now.Unix(), f.checkTime(t, resp.ServerTime, nonce).Unix())
}

func TestTimeEndpoint(t *testing.T) {
	f := lstFixture(t)
	nonce := [16]byte{0xA1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0xFF}
	w := getTime(t, f.srv, fmt.Sprintf("?nonce=%x", nonce))
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "application/octet-stream", w.Header().Get("Content-Type"))
	require.Equal(t, f.now.Unix(), f.checkTime(t, w.Body.Bytes(), nonce).Unix())
	w = getTime(t, f.srv, "")
	require.Equal(t, http.StatusOK, w.Code)
	f.checkTime(t, w.Body.Bytes(), [16]byte{})
	for _, bad := range []string{"?nonce=zz", "?nonce=0102", fmt.Sprintf("?nonce=%x00", nonce)} {
		w = getTime(t, f.srv, bad)
		require.Equal(t, http.StatusBadRequest, w.Code, bad)
		require.Contains(t, w.Body.String(), "32 hex digits")
	}
}

// Two server instances on one clock sign the same time, before and after
// the clock moves.
func TestTwoInstancesAgreeOnTime(t *testing.T) {
	f := newFixture(t, 3000)
	clock := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	var srvs []*licsrv.Server
	for range 2 {
		cfg := f.lstConfig()
		cfg.Now = now
		s, err := f.fx.NewServer(cfg)
		require.NoError(t, err)
		srvs = append(srvs, s)
	}
	for _, want := range []time.Time{clock, clock.Add(36 * time.Hour)} {
		clock = want
		var got []int64
		for _, s := range srvs {
			w := getTime(t, s, "")
			require.Equal(t, http.StatusOK, w.Code)
			got = append(got, f.checkTime(t, w.Body.Bytes(), [16]byte{}).Unix())
		}
		require.Equal(t, []int64{want.Unix(), want.Unix()}, got)
	}
}

func TestServerTimeDefects(t *testing.T) {
	stale := lstFixture(t, licsrv.DefectStaleServerTime)
	nonce, resp := stale.acquireOK(t, "")
	require.Equal(t, stale.now.Add(-24*time.Hour).Unix(), stale.checkTime(t, resp.ServerTime, nonce).Unix())

	unsigned := lstFixture(t, licsrv.DefectUnsignedServerTime)
	for _, blob := range [][]byte{getTime(t, unsigned.srv, "").Body.Bytes(), func() []byte { _, r := unsigned.acquireOK(t, ""); return r.ServerTime }()} {
		st, err := soap.ParseServerTime(blob)
		require.NoError(t, err)
		require.Equal(t, unsigned.now.Unix(), st.Time)
		require.ErrorIs(t, st.Verify(unsigned.timeKey(t)), drm.ErrSecureTimeInvalidRequestData)
	}
}

func TestLicenseServerTimeConfigRefused(t *testing.T) {
	f := newFixture(t, 3000)
	for name, cfg := range map[string]licsrv.Config{
		"no chain":   {LicenseServerTime: true, TimeKey: f.p.TimeServer.Key},
		"no key":     {LicenseServerTime: true, TimeChain: f.p.TimeServer.Chain},
		"wrong key":  {LicenseServerTime: true, TimeChain: f.p.TimeServer.Chain, TimeKey: f.p.Server.SignKey},
		"wrong cert": {LicenseServerTime: true, TimeChain: f.p.Server.Chain, TimeKey: f.p.Server.SignKey},
	} {
		_, err := f.fx.NewServer(cfg)
		require.Error(t, err, name)
		require.NotContains(t, err.Error(), "PRIVATE", name)
	}
}

// begindate:clienttime, and an end date asked alone, take the challenge's
// ClientTime as the begin date; an explicit begin date is kept.
func TestBeginDateClientTime(t *testing.T) {
	f := newFixture(t, 3000)
	ct := f.now.Add(-20 * time.Minute)
	policyOf := func(query string) xmr.Policy {
		nonce, err := f.dev.NewNonce()
		require.NoError(t, err)
		w, body := f.post(t, query, f.challenge(t, nonce, ct, kidA))
		require.Equal(t, http.StatusOK, w.Code, string(body))
		resp, err := soap.ParseResponse(body)
		require.NoError(t, err)
		require.Len(t, resp.Licenses, 1)
		l, err := xmr.Parse(resp.Licenses[0])
		require.NoError(t, err)
		return l.Policy()
	}
	end := uint32(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Unix())
	cases := map[string]xmr.Expiration{
		"?cfg=(begindate:clienttime,enddate:20300101)": {Begin: uint32(ct.Unix()), End: end},
		"?cfg=(begindate:ClientTime)":                  {Begin: uint32(ct.Unix()), End: xmr.ExpirationUnlimited},
		"?cfg=(enddate:20300101)":                      {Begin: uint32(ct.Unix()), End: end},
		"?cfg=(begindate:20200101,enddate:20300101)":   {Begin: uint32(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Unix()), End: end},
	}
	for q, want := range cases {
		p := policyOf(q)
		require.NotNil(t, p.Expiration, q)
		require.Equal(t, want, *p.Expiration, q)
	}
	require.Nil(t, policyOf("?cfg=(persist:false)").Expiration, "no date asked, no EXPIRATION")

	srv, err := f.fx.NewServer(licsrv.Config{Defects: []licsrv.Defect{licsrv.DefectMisEncodeDates}})
	require.NoError(t, err)
	f.srv = srv
	require.Equal(t, xmr.Expiration{Begin: 0, End: end + 86400}, *policyOf("?cfg=(enddate:20300101)").Expiration)
}
