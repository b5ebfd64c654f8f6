package licsrv_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	testfx "github.com/prsim/prsim/internal/fixture"
	"github.com/prsim/prsim/internal/pki"
	"github.com/prsim/prsim/licsrv"
	"github.com/prsim/prsim/wire/bcert"
	"github.com/prsim/prsim/wire/pro"
	"github.com/prsim/prsim/wire/revocation"
	"github.com/prsim/prsim/wire/soap"
	"github.com/prsim/prsim/wire/xmr"
)

// authority is a revocation authority on the fixture PKI: it signs its
// current lists with the PKI's CRL signer each time the server asks, as
// `prsim pki revoke` re-signs the PKI's files.
type authority struct {
	p  *pki.PKI
	mu sync.Mutex
	// riv and the CRL versions only grow, as pki.Revoke makes them.
	riv, rtVer, appVer uint32
	entries            [][32]byte
	// override, when set, is served instead of the signed lists.
	override func() (*licsrv.RevocationLists, error)
}

func newAuthority(p *pki.PKI) *authority { return &authority{p: p, riv: 1, rtVer: 1, appVer: 1} }

func (a *authority) source() (*licsrv.RevocationLists, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.override != nil {
		return a.override()
	}
	return a.sign(a.riv, a.rtVer, a.appVer, a.entries)
}

func (a *authority) sign(riv, rtVer, appVer uint32, entries [][32]byte) (*licsrv.RevocationLists, error) {
	s, chain := a.p.CRLSigner.Signer(), a.p.CRLSigner.Chain.Bytes()
	ri := &revocation.RevInfo{RIV: riv, Issued: time.Unix(1_700_000_000, 0).UTC(), Lists: []revocation.ListVersion{
		{ID: revocation.ListRuntime, Version: uint64(rtVer)}, {ID: revocation.ListApp, Version: uint64(appVer)}}}
	rib, err := ri.Sign(s, chain)
	if err != nil {
		return nil, err
	}
	rt, err := (&revocation.CRL{ID: revocation.ListRuntime, Version: rtVer, Entries: entries}).Sign(s, chain)
	if err != nil {
		return nil, err
	}
	app, err := (&revocation.CRL{ID: revocation.ListApp, Version: appVer}).Sign(s, chain)
	if err != nil {
		return nil, err
	}
	return &licsrv.RevocationLists{RevInfo: rib, CRLs: [][]byte{rt, app}}, nil
}

// revoke adds a certificate digest to the runtime CRL, bumping its
// version and the RIV.
func (a *authority) revoke(d [32]byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.entries = append(a.entries, d)
	a.rtVer++
	a.riv++
}

func (a *authority) set(f func() (*licsrv.RevocationLists, error)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.override = f
}

// current returns the blobs the authority serves now.
func (a *authority) current(t *testing.T) *licsrv.RevocationLists {
	t.Helper()
	l, err := a.source()
	require.NoError(t, err)
	return l
}

// revServer is a reference server with revocation lists from an
// authority, a settable clock and a captured log.
type revServer struct {
	*ssServer
	auth *authority
	log  *syncBuf
}

// reload is the RevocationReload of revServer: tests move the injected
// clock past it instead of sleeping.
const reload = 100 * time.Millisecond

func newRevServer(t *testing.T, edit func(*licsrv.Config, *authority)) *revServer {
	t.Helper()
	now := time.Now().Truncate(time.Second)
	fx, err := testfx.New(testfx.Options{Now: func() time.Time { return now }})
	require.NoError(t, err)
	s := &revServer{ssServer: &ssServer{now: &now, dir: t.TempDir()}, auth: newAuthority(fx.PKI), log: &syncBuf{}}
	cfg := fx.ServerConfig(licsrv.Config{DataDir: s.dir, Now: func() time.Time { return *s.now },
		Revocation: s.auth.source, RevocationReload: reload, Log: slog.New(slog.NewTextHandler(s.log, nil))})
	if edit != nil {
		edit(&cfg, s.auth)
	}
	srv, err := licsrv.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	s.f = &fixture{fx: fx, p: fx.PKI, srv: srv, now: now}
	return s
}

// advance moves the server clock past the reload interval.
func (s *revServer) advance() { *s.now = s.now.Add(reload) }

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// acquireAdv posts a license challenge from d for kidA advertising adv.
func (s *revServer) acquireAdv(t *testing.T, d *swDevice, query string, adv ...soap.RevListInfo) (*httptest.ResponseRecorder, []byte) {
	t.Helper()
	h := &pro.Header{Version: "4.2.0.0", LAURL: "http://127.0.0.1/rightsmanager.asmx", KIDs: []pro.KeyInfo{{ID: kidA, AlgID: "AESCTR"}}}
	x, err := h.XML()
	require.NoError(t, err)
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	body, err := soap.BuildChallenge(&soap.Challenge{Version: 4, ContentHeader: x, ClientVersion: "4.5.0.0", Nonce: nonce,
		RevLists: adv, ClientTime: s.now.Unix(), Data: soap.ClientData{CertificateChain: d.chain.Bytes()}},
		s.serverEncKey(t), d.signer(), rand.Reader)
	require.NoError(t, err)
	return s.postAction(t, query, soap.ActionAcquireLicense, body)
}

// served acquires as d and returns the verified response.
func (s *revServer) served(t *testing.T, d *swDevice, adv ...soap.RevListInfo) *soap.ParsedResponse {
	t.Helper()
	w, b := s.acquireAdv(t, d, "", adv...)
	require.Equal(t, http.StatusOK, w.Code, string(b))
	resp, err := soap.ParseResponse(b)
	require.NoError(t, err)
	require.NoError(t, resp.VerifySignature(s.serverSignKey(t)))
	return resp
}

// refused acquires as d, expects DRM_E_DEVCERT_REVOKED and returns the
// reason.
func (s *revServer) refused(t *testing.T, d *swDevice) string {
	t.Helper()
	w, b := s.acquireAdv(t, d, "")
	requireFault(t, w, b, drm.ErrDevCertRevoked)
	f, err := soap.ParseFault(b)
	require.NoError(t, err)
	return f.Message
}

func certDigest(c *bcert.Cert) [32]byte { return c.Basic().Digest }

func b64(d [32]byte) string { return base64.StdEncoding.EncodeToString(d[:]) }

func adv(id [16]byte, v uint64) soap.RevListInfo { return soap.RevListInfo{ListID: id, Version: v} }

var (
	advRevInfo = revocation.ListRevInfo2.GUID()
	advRuntime = revocation.ListRuntime.GUID()
	advApp     = revocation.ListApp.GUID()
)

func TestRevokedDeviceRefused(t *testing.T) {
	s := newRevServer(t, nil)
	d := newSWDevice(t, s.f.p, 3000)
	other := newSWDevice(t, s.f.p, 3000)
	s.served(t, d)
	s.auth.revoke(certDigest(d.chain.Leaf()))
	s.advance()

	reason := s.refused(t, d)
	require.Equal(t, fmt.Sprintf("device certificate revoked: the leaf certificate (digest %s) is on the runtime CRL version 2",
		b64(certDigest(d.chain.Leaf()))), reason)
	s.served(t, other) // another device of the same model is not affected
	require.Contains(t, s.log.String(), "digest "+b64(certDigest(d.chain.Leaf())), "the request log names the certificate")

	// The same check guards secure-stop and acknowledgement challenges.
	w, b, _ := s.sendStopsRaw(t, d, s.now.Unix(), record([16]byte{1}, s.now.Add(-time.Minute), *s.now, kidA))
	requireFault(t, w, b, drm.ErrDevCertRevoked)
	w, b = s.sendAck(t, d, "7e2a1c34-5b6d-4e8f-9a0b-1c2d3e4f5a6b")
	requireFault(t, w, b, drm.ErrDevCertRevoked)
	w, b, _ = s.sendStopsRaw(t, other, s.now.Unix(), record([16]byte{1}, s.now.Add(-time.Minute), *s.now, kidA))
	require.Equal(t, http.StatusOK, w.Code, string(b))
}

func TestRevokedModelRefusesEveryDeviceUnderIt(t *testing.T) {
	s := newRevServer(t, nil)
	d3000 := newSWDevice(t, s.f.p, 3000)
	d2000 := newSWDevice(t, s.f.p, 2000)
	m, err := s.f.p.Model(3000)
	require.NoError(t, err)
	s.auth.revoke(certDigest(m.Chain.Leaf()))
	s.advance()
	require.Contains(t, s.refused(t, d3000), "the model certificate (digest "+b64(certDigest(m.Chain.Leaf()))+")")
	s.served(t, d2000)
}

func TestAcceptRevokedDefect(t *testing.T) {
	s := newRevServer(t, func(c *licsrv.Config, _ *authority) { c.Defects = []licsrv.Defect{licsrv.DefectAcceptRevoked} })
	d := newSWDevice(t, s.f.p, 3000)
	s.auth.revoke(certDigest(d.chain.Leaf()))
	s.advance()
	s.served(t, d)
	w, b, _ := s.sendStopsRaw(t, d, s.now.Unix(), record([16]byte{1}, s.now.Add(-time.Minute), *s.now, kidA))
	require.Equal(t, http.StatusOK, w.Code, string(b))
}

// writeAllow writes a RevAllowInfo file in the Server SDK's shape.
func writeAllow(t *testing.T, path string, ds ...[32]byte) {
	t.Helper()
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<RevAllowInfo>\n  <AllowList>\n")
	for _, d := range ds {
		fmt.Fprintf(&b, "    <CertificateHash>%s</CertificateHash>\n", b64(d))
	}
	b.WriteString("  </AllowList>\n</RevAllowInfo>\n")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))
}

func TestAllowList(t *testing.T) {
	allow := filepath.Join(t.TempDir(), "allow.xml")
	writeAllow(t, allow)
	for _, defect := range []bool{false, true} {
		t.Run(fmt.Sprintf("ignore-allow-list=%v", defect), func(t *testing.T) {
			s := newRevServer(t, func(c *licsrv.Config, _ *authority) {
				c.RevAllowFile = allow
				if defect {
					c.Defects = []licsrv.Defect{licsrv.DefectIgnoreAllowList}
				}
			})
			writeAllow(t, allow)
			m, err := s.f.p.Model(3000)
			require.NoError(t, err)
			model := certDigest(m.Chain.Leaf())
			d := newSWDevice(t, s.f.p, 3000)
			leaf := certDigest(d.chain.Leaf())
			s.auth.revoke(model)
			s.advance()
			s.refused(t, d)

			// The revoked model on the allow list: served (unless the
			// defect ignores the list).
			writeAllow(t, allow, leaf, model)
			s.advance()
			require.Equal(t, 2, s.f.srv.RevocationStatus().Allowed)
			if defect {
				s.refused(t, d)
			} else {
				s.served(t, d)
			}

			// A revoked device under an allowed model is served too: the
			// operator serves what the allowed certificate issued.
			s.auth.revoke(leaf)
			writeAllow(t, allow, model)
			s.advance()
			if defect {
				s.refused(t, d)
			} else {
				s.served(t, d)
			}

			// Allowing only the leaf does not excuse its revoked model.
			writeAllow(t, allow, leaf)
			s.advance()
			want := "the model certificate"
			if defect {
				want = "the leaf certificate"
			}
			require.Contains(t, s.refused(t, d), want)
		})
	}
}

func TestRevocationReloadFollowsTheClock(t *testing.T) {
	s := newRevServer(t, nil)
	d := newSWDevice(t, s.f.p, 3000)
	s.auth.revoke(certDigest(d.chain.Leaf()))

	// Before the interval has passed the old lists are in force.
	*s.now = s.now.Add(reload - time.Millisecond)
	s.served(t, d)
	require.Equal(t, uint32(1), s.f.srv.RevocationStatus().RIV)
	*s.now = s.now.Add(time.Millisecond)
	s.refused(t, d)
	require.Equal(t, uint32(2), s.f.srv.RevocationStatus().RIV)
	require.Contains(t, s.log.String(), `msg="revocation reload" what=lists outcome=updated riv=2`)
}

func TestRevocationReloadKeepsPreviousOnFailure(t *testing.T) {
	s := newRevServer(t, nil)
	d := newSWDevice(t, s.f.p, 3000)
	s.auth.revoke(certDigest(d.chain.Leaf()))
	s.advance()
	s.refused(t, d)
	good := s.auth.current(t)

	bad := map[string]func() (*licsrv.RevocationLists, error){
		"unreadable": func() (*licsrv.RevocationLists, error) { return nil, os.ErrNotExist },
		"truncated": func() (*licsrv.RevocationLists, error) {
			return &licsrv.RevocationLists{RevInfo: good.RevInfo[:20], CRLs: good.CRLs}, nil
		},
		"broken signature": func() (*licsrv.RevocationLists, error) {
			// The signed entries change, the signature stays.
			c, err := revocation.ParseCRL(good.CRLs[0])
			if err != nil {
				return nil, err
			}
			c.Entries = nil
			return &licsrv.RevocationLists{RevInfo: good.RevInfo, CRLs: [][]byte{c.Bytes(), good.CRLs[1]}}, nil
		},
		"older": func() (*licsrv.RevocationLists, error) { return s.auth.sign(1, 1, 1, nil) },
		"runtime CRL missing": func() (*licsrv.RevocationLists, error) {
			return &licsrv.RevocationLists{RevInfo: good.RevInfo, CRLs: good.CRLs[1:]}, nil
		},
		"not a CRL signer": func() (*licsrv.RevocationLists, error) {
			k := pki.KeySigner{Key: s.f.p.Server.SignKey}
			rt, err := (&revocation.CRL{ID: revocation.ListRuntime, Version: 9}).Sign(k, s.f.p.Server.Chain.Bytes())
			return &licsrv.RevocationLists{RevInfo: good.RevInfo, CRLs: [][]byte{rt, good.CRLs[1]}}, err
		},
	}
	for name, f := range bad {
		t.Run(name, func(t *testing.T) {
			s.auth.set(f)
			before := strings.Count(s.log.String(), "outcome=\"kept previous\"")
			s.advance()
			s.refused(t, d)
			require.Equal(t, uint32(2), s.f.srv.RevocationStatus().RIV)
			require.Equal(t, before+1, strings.Count(s.log.String(), "outcome=\"kept previous\""), "the failed reload is logged")
		})
	}
	s.auth.set(nil)
	s.advance()
	require.Equal(t, uint32(2), s.f.srv.RevocationStatus().RIV)
	require.Contains(t, s.log.String(), "went back from version 2 to 1")
	require.Contains(t, s.log.String(), "runtime list (version 2) is missing")
}

func TestAllowFileReloadKeepsPreviousOnFailure(t *testing.T) {
	allow := filepath.Join(t.TempDir(), "allow.xml")
	writeAllow(t, allow)
	s := newRevServer(t, func(c *licsrv.Config, _ *authority) { c.RevAllowFile = allow })
	d := newSWDevice(t, s.f.p, 3000)
	leaf := certDigest(d.chain.Leaf())
	s.auth.revoke(leaf)
	writeAllow(t, allow, leaf)
	s.advance()
	s.served(t, d)
	require.NoError(t, os.WriteFile(allow, []byte("<RevAllowInfo><AllowList><CertificateHash>nope</CertificateHash></AllowList></RevAllowInfo>"), 0o600))
	s.advance()
	s.served(t, d)
	require.Contains(t, s.log.String(), "CertificateHash 1 (line 1) is not the base64 of a 32-byte SHA-256 digest")
	require.NoError(t, os.Remove(allow))
	s.advance()
	s.served(t, d)
	require.Equal(t, 1, s.f.srv.RevocationStatus().Allowed)
}

func TestNewRefusesBadRevocationConfig(t *testing.T) {
	fx, err := testfx.New(testfx.Options{})
	require.NoError(t, err)
	a := newAuthority(fx.PKI)
	bad := filepath.Join(t.TempDir(), "allow.xml")
	require.NoError(t, os.WriteFile(bad, []byte("<RevAllowInfo><Other/></RevAllowInfo>"), 0o600))
	for _, c := range []struct {
		cfg  licsrv.Config
		want string
	}{
		{licsrv.Config{Revocation: a.source, RevocationReload: 8 * 24 * time.Hour}, "at most 168h0m0s (weekly)"},
		{licsrv.Config{Revocation: a.source, RevocationReload: -time.Second}, "RevocationReload -1s"},
		{licsrv.Config{Revocation: func() (*licsrv.RevocationLists, error) { return nil, os.ErrNotExist }}, "revocation lists: cannot read them"},
		{licsrv.Config{Revocation: func() (*licsrv.RevocationLists, error) { return &licsrv.RevocationLists{}, nil }}, "no RevInfo v2 blob"},
		{licsrv.Config{RevAllowFile: filepath.Join(t.TempDir(), "missing.xml")}, "allow list"},
		{licsrv.Config{RevAllowFile: bad}, `unexpected element "Other"`},
	} {
		_, err := fx.NewServer(c.cfg)
		require.ErrorContains(t, err, c.want)
	}
	// Lists signed by another PKI's CRL signer do not verify to this root.
	other, err := testfx.New(testfx.Options{})
	require.NoError(t, err)
	_, err = fx.NewServer(licsrv.Config{Revocation: newAuthority(other.PKI).source})
	require.ErrorContains(t, err, "RevInfo v2 (RIV 1) does not verify")
}

func TestRevocationListsDelivered(t *testing.T) {
	s := newRevServer(t, nil)
	d := newSWDevice(t, s.f.p, 3000)
	s.auth.revoke([32]byte{1})
	s.auth.revoke([32]byte{2}) // RIV 3, runtime CRL 3, app CRL 1
	s.advance()
	cur := s.auth.current(t)

	// Older RevInfo and runtime CRL: both sent, as the authority signed
	// them; the app CRL is current and the WMDRMNET list unknown here.
	resp := s.served(t, d, adv(advRevInfo, 2), adv(advRuntime, 0), adv(advApp, 1), adv(revocation.ListWMDRMNET.GUID(), 0))
	require.Equal(t, []soap.Revocation{{ListID: advRevInfo, Data: cur.RevInfo}, {ListID: advRuntime, Data: cur.CRLs[0]}}, resp.RevInfo)

	// A list the challenge does not name is not sent, nor one named twice
	// sent twice.
	resp = s.served(t, d, adv(advApp, 0), adv(advApp, 0))
	require.Equal(t, []soap.Revocation{{ListID: advApp, Data: cur.CRLs[1]}}, resp.RevInfo)
	require.Empty(t, s.served(t, d).RevInfo)
	require.Empty(t, s.served(t, d, adv(advRevInfo, 3), adv(advRuntime, 7)).RevInfo, "current or newer: nothing to send")

	// The delivered blobs verify to the root and carry the new entries.
	ri, err := revocation.ParseRevInfo(cur.RevInfo)
	require.NoError(t, err)
	_, err = ri.Verify([]ecc.Point{s.f.p.Root}, *s.now)
	require.NoError(t, err)
	require.Equal(t, uint32(3), ri.RIV)
}

func TestStaleRevInfoDefect(t *testing.T) {
	s := newRevServer(t, func(c *licsrv.Config, _ *authority) { c.Defects = []licsrv.Defect{licsrv.DefectStaleRevInfo} })
	d := newSWDevice(t, s.f.p, 3000)
	resp := s.served(t, d, adv(advRevInfo, 0), adv(advRuntime, 0), adv(advApp, 0))
	require.Empty(t, resp.RevInfo)
	require.Equal(t, uint32(1), licenseRIV(t, resp), "licenses still demand the current RIV")
}

func licenseRIV(t *testing.T, resp *soap.ParsedResponse) uint32 {
	t.Helper()
	require.NotEmpty(t, resp.Licenses)
	var riv uint32
	for i, b := range resp.Licenses {
		l, err := xmr.Parse(b)
		require.NoError(t, err)
		// xmr.Parse refuses a license without 0x0032 (or 0x0020 in v1).
		if i > 0 {
			require.Equal(t, riv, l.Policy().RIV)
		}
		riv = l.Policy().RIV
	}
	return riv
}

func TestLicensesCarryTheServedRIV(t *testing.T) {
	s := newRevServer(t, nil)
	d := newSWDevice(t, s.f.p, 3000)
	require.Equal(t, uint32(1), licenseRIV(t, s.served(t, d)))
	s.auth.revoke([32]byte{1})
	s.auth.revoke([32]byte{2})
	s.advance()
	require.Equal(t, uint32(3), licenseRIV(t, s.served(t, d)))

	z := newRevServer(t, func(c *licsrv.Config, _ *authority) { c.Defects = []licsrv.Defect{licsrv.DefectRIVZero} })
	require.Equal(t, uint32(0), licenseRIV(t, z.served(t, newSWDevice(t, z.f.p, 3000))))

	// Without lists licenses carry RIV 0 and nothing is delivered.
	n := newRevServer(t, func(c *licsrv.Config, _ *authority) { c.Revocation = nil })
	resp := n.served(t, newSWDevice(t, n.f.p, 3000), adv(advRevInfo, 0))
	require.Equal(t, uint32(0), licenseRIV(t, resp))
	require.Empty(t, resp.RevInfo)
	require.Equal(t, licsrv.RevocationStatus{}, n.f.srv.RevocationStatus())
}

func TestRevocationStatus(t *testing.T) {
	s := newRevServer(t, nil)
	st := s.f.srv.RevocationStatus()
	require.Equal(t, uint32(1), st.RIV)
	require.Equal(t, []revocation.ListVersion{{ID: revocation.ListRevInfo2, Version: 1}, {ID: revocation.ListApp, Version: 1},
		{ID: revocation.ListRuntime, Version: 1}}, st.Lists)
	require.Equal(t, *s.now, st.Loaded)
}
