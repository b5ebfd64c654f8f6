package ree_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/demo"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/internal/fixture"
	"github.com/prsim/prsim/internal/keyseed"
	"github.com/prsim/prsim/internal/testmedia"
	"github.com/prsim/prsim/licsrv"
	"github.com/prsim/prsim/ree"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/pro"
)

var (
	fxOnce sync.Once
	theFx  *fixture.Fixture
)

// testFixture is the package's one PKI: generating one per test would
// dominate the run time.
func testFixture() *fixture.Fixture {
	fxOnce.Do(func() {
		fx, err := fixture.New(fixture.Options{})
		if err != nil {
			panic(err)
		}
		theFx = fx
	})
	return theFx
}

type env struct {
	fx    *fixture.Fixture
	srv   *httptest.Server
	laURL string
}

// newEnv starts the reference server on loopback; wrap, if set, sits in
// front of it (to tamper with traffic).
func newEnv(t *testing.T, wrap func(http.Handler) http.Handler) *env {
	t.Helper()
	return newEnvCfg(t, licsrv.Config{}, wrap)
}

// newEnvCfg is newEnv for a server configured by cfg (defects, keys…).
func newEnvCfg(t *testing.T, cfg licsrv.Config, wrap func(http.Handler) http.Handler) *env {
	t.Helper()
	fx := testFixture()
	s, err := fx.NewServer(cfg)
	require.NoError(t, err)
	var h http.Handler = s
	if wrap != nil {
		h = wrap(s)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{fx: fx, srv: srv, laURL: srv.URL + "/rightsmanager.asmx"}
}

func (e *env) device(t *testing.T, sl uint32, backend string) *ree.Device {
	t.Helper()
	d, err := e.fx.NewDevice(filepath.Join(t.TempDir(), "dev"), fixture.Device{SecurityLevel: sl, Backend: backend})
	require.NoError(t, err)
	t.Cleanup(func() { d.Close() })
	return d
}

var videoKID = kid.MustParse("20000000-2000-2000-2000-200000000001")

func header(t *testing.T, laURL string, ids ...kid.ID) *pro.Header {
	t.Helper()
	h := &pro.Header{Version: "4.2.0.0", LAURL: laURL}
	for _, id := range ids {
		ck, err := keyseed.Derive(keyseed.TestSeed(), id)
		require.NoError(t, err)
		sum, err := pro.Checksum("AESCTR", id, ck[:])
		require.NoError(t, err)
		h.KIDs = append(h.KIDs, pro.KeyInfo{ID: id, AlgID: "AESCTR", Checksum: sum})
	}
	return h
}

func TestAcquireNonPersistentAndPersistent(t *testing.T) {
	e := newEnv(t, nil)
	d := e.device(t, 2000, "soft")
	ctx := context.Background()
	audio := kid.MustParse("20000000-2000-2000-2000-200000000002")
	res, err := d.Client.Acquire(ctx, header(t, e.laURL, videoKID, audio), "")
	require.NoError(t, err)
	require.Len(t, res, 2)
	for _, r := range res {
		require.NoError(t, r.Err)
		require.True(t, r.Bound)
		require.False(t, r.Persistent)
		require.Equal(t, uint16(150), r.MinSecurityLevel)
	}
	stored, err := d.Client.StoredLicenses()
	require.NoError(t, err)
	require.Empty(t, stored, "non-persistent licenses must not reach the store")

	res, err = d.Client.Acquire(ctx, header(t, e.laURL, videoKID), e.laURL+"?cfg=(persist:true,sl:2000)")
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.True(t, res[0].Persistent)
	require.Equal(t, uint16(2000), res[0].MinSecurityLevel)
	stored, err = d.Client.StoredLicenses()
	require.NoError(t, err)
	require.Len(t, stored, 1)
	require.Equal(t, videoKID, stored[0].KID)

	// The stored license re-binds in a new session of the same device.
	dir := d.Dir
	require.NoError(t, d.Close())
	d2, err := ree.OpenDevice(dir)
	require.NoError(t, err)
	defer d2.Close()
	k, err := d2.Client.Key(videoKID)
	require.NoError(t, err)
	require.Equal(t, videoKID, k.KID())
	_, err = d2.Client.Key(audio)
	require.ErrorIs(t, err, drm.ErrLicenseNotFound)
}

func TestDeviceBelowLicenseMinimum(t *testing.T) {
	e := newEnv(t, nil)
	d := e.device(t, 150, "soft")
	// The reference server refuses a level above the device certificate's.
	_, err := d.Client.Acquire(context.Background(), header(t, e.laURL, videoKID), e.laURL+"?cfg=(sl:2000)")
	require.ErrorIs(t, err, drm.ErrDeviceSecurityLevelTooLow)

	// A server that issues it anyway meets the TEE's refusal.
	laURL := newEnvCfg(t, licsrv.Config{Defects: []licsrv.Defect{licsrv.DefectIssueAboveCertSL}}, nil).laURL
	res, err := d.Client.Acquire(context.Background(), header(t, laURL, videoKID), laURL+"?cfg=(sl:2000)")
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.False(t, res[0].Bound)
	require.ErrorIs(t, res[0].Err, drm.ErrDeviceSecurityLevelTooLow)
}

func TestServerFaultReachesCaller(t *testing.T) {
	e := newEnv(t, nil)
	d := e.device(t, 2000, "soft")
	for cfg, code := range map[string]drm.Code{
		"(errorcode:0x8004C605)": drm.ErrServerDomainRequired,
		"(revoked:true)":         drm.ErrDevCertRevoked,
		"(bogus:1)":              drm.ErrServerInvalidMessage,
	} {
		_, err := d.Client.Acquire(context.Background(), header(t, e.laURL, videoKID), e.laURL+"?cfg="+cfg)
		require.ErrorIs(t, err, code, cfg)
	}
}

// tamper rewrites the license response body.
func tamper(f func([]byte) []byte) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			w.WriteHeader(rec.Code)
			_, _ = w.Write(f(rec.Body.Bytes()))
		})
	}
}

func TestTamperedResponseRejected(t *testing.T) {
	e := newEnv(t, tamper(func(b []byte) []byte {
		// Change one character inside the signed LicenseResponse (the ResponseID).
		i := strings.Index(string(b), "<ResponseID>") + len("<ResponseID>")
		out := append([]byte(nil), b...)
		if out[i] == 'A' {
			out[i] = 'B'
		} else {
			out[i] = 'A'
		}
		return out
	}))
	d := e.device(t, 2000, "soft")
	_, err := d.Client.Acquire(context.Background(), header(t, e.laURL, videoKID), "")
	require.ErrorIs(t, err, drm.ErrInvalidLicenseResponseSignature)
}

func TestUntrustedServerRejected(t *testing.T) {
	e := newEnv(t, nil)
	// A device whose trusted root is another PKI's.
	other, err := fixture.New(fixture.Options{})
	require.NoError(t, err)
	d, err := e.fx.NewDevice(filepath.Join(t.TempDir(), "dev"), fixture.Device{SecurityLevel: 2000,
		Roots: []ecc.Point{other.PKI.Root}})
	require.NoError(t, err)
	defer d.Close()
	_, err = d.Client.Acquire(context.Background(), header(t, e.laURL, videoKID), "")
	require.Error(t, err)
	_, isDRM := drm.CodeOf(err)
	require.True(t, isDRM, "%v", err)
}

func TestPlayDecryptsBothSchemes(t *testing.T) {
	e := newEnv(t, nil)
	for _, backend := range []string{"soft", "sim"} {
		d := e.device(t, 3000, backend)
		for i, scheme := range []string{"cenc", "cbcs"} {
			v := kid.MustParse("30000000-3000-3000-3000-30000000000" + string(rune('1'+2*i)))
			a := kid.MustParse("30000000-3000-3000-3000-30000000000" + string(rune('2'+2*i)))
			vk, _ := keyseed.Derive(keyseed.TestSeed(), v)
			ak, _ := keyseed.Derive(keyseed.TestSeed(), a)
			c, err := testmedia.Generate(testmedia.Options{Dir: filepath.Join(t.TempDir(), scheme), Scheme: scheme,
				Video: testmedia.Track{KID: v, Key: vk}, Audio: testmedia.Track{KID: a, Key: ak}, LAURL: e.laURL, Seed: 7})
			require.NoError(t, err)
			out := filepath.Join(t.TempDir(), "out")
			tracks, err := d.Client.Play(context.Background(), c.MPD, out, "")
			require.NoError(t, err, "%s %s", backend, scheme)
			require.Len(t, tracks, 2)
			for _, tr := range tracks {
				got, err := demo.SampleData(filepath.Join(out, tr.Out))
				require.NoError(t, err)
				require.Equal(t, c.Clear[tr.Type], got, "%s %s %s", backend, scheme, tr.Type)
				require.Equal(t, len(got), tr.Samples)
				require.NotEmpty(t, got)
			}
			require.Equal(t, v, tracks[0].KID)
			require.Equal(t, a, tracks[1].KID)
		}
		require.NoError(t, d.Close())
	}
}

func TestPlayWithoutLicenseServer(t *testing.T) {
	e := newEnv(t, nil)
	d := e.device(t, 2000, "soft")
	c := testSeedContent(t, t.TempDir(), "http://127.0.0.1:1/rightsmanager.asmx", videoKID,
		kid.MustParse("20000000-2000-2000-2000-200000000002"), 0)
	_, err := d.Client.Play(context.Background(), c.MPD, t.TempDir(), "")
	require.Error(t, err, "no license and no reachable server must fail")
	// With the server URL given explicitly it plays.
	_, err = d.Client.Play(context.Background(), c.MPD, t.TempDir(), e.laURL)
	require.NoError(t, err)
}

func TestHeadersFromMPDVariants(t *testing.T) {
	h := header(t, "http://example.test/rightsmanager.asmx", videoKID)
	o, err := pro.NewObject(h)
	require.NoError(t, err)
	proB64 := encodeB64(o.Bytes())
	u16, err := h.UTF16()
	require.NoError(t, err)
	bare := encodeB64(u16)
	for name, cp := range map[string]string{
		"as-level-upper-case-scheme": `<AdaptationSet><ContentProtection schemeIdUri="urn:uuid:9A04F079-9840-4286-AB92-E65BE0885F95"><mspr:pro>` + proB64 + `</mspr:pro></ContentProtection><Representation id="1"/></AdaptationSet>`,
		"representation-level":       `<AdaptationSet><Representation id="1"><ContentProtection schemeIdUri="urn:uuid:9a04f079-9840-4286-ab92-e65be0885f95"><mspr:pro>` + proB64 + `</mspr:pro></ContentProtection></Representation></AdaptationSet>`,
		"bare-wrmheader-in-pro":      `<AdaptationSet><ContentProtection schemeIdUri="urn:uuid:9a04f079-9840-4286-ab92-e65be0885f95"><mspr:pro>` + bare + `</mspr:pro></ContentProtection><Representation id="1"/></AdaptationSet>`,
	} {
		m := `<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011" xmlns:mspr="urn:microsoft:playready" xmlns:cenc="urn:mpeg:cenc:2013" type="static"><Period>` + cp + `</Period></MPD>`
		hs, err := ree.HeadersFromMPD([]byte(m))
		require.NoError(t, err, name)
		require.Len(t, hs, 1, name)
		require.Equal(t, videoKID, hs[0].KIDs[0].ID, name)
	}
	_, err = ree.HeadersFromMPD([]byte(`<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"><Period><AdaptationSet/></Period></MPD>`))
	require.ErrorIs(t, err, ree.ErrNoHeader)
}

// Content packaged with another key than the server issues: the header
// CHECKSUM catches it before any garbage is written.
func TestPlayDetectsWrongKeyByChecksum(t *testing.T) {
	e := newEnv(t, nil)
	d := e.device(t, 2000, "soft")
	a := kid.MustParse("20000000-2000-2000-2000-200000000002")
	ak, _ := keyseed.Derive(keyseed.TestSeed(), a)
	wrong := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	c, err := testmedia.Generate(testmedia.Options{Dir: t.TempDir(), Scheme: "cenc",
		Video: testmedia.Track{KID: videoKID, Key: wrong}, Audio: testmedia.Track{KID: a, Key: ak}, LAURL: e.laURL})
	require.NoError(t, err)
	_, err = d.Client.Play(context.Background(), c.MPD, t.TempDir(), "")
	require.ErrorIs(t, err, drm.ErrLicenseMismatch)
}
