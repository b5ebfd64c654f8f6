package licsrv_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/internal/pki"
	"github.com/prsim/prsim/licsrv"
	"github.com/prsim/prsim/policy"
	"github.com/prsim/prsim/tee"
	"github.com/prsim/prsim/wire/bcert"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/pro"
	"github.com/prsim/prsim/wire/securestop"
	"github.com/prsim/prsim/wire/soap"
	"github.com/prsim/prsim/wire/xmr"
)

// swDevice is a device whose keys the test holds in software, so that it
// can unwrap what the server sends and sign whatever it likes: the tests
// build secure-stop and acknowledgement challenges with the wire package
// directly, as a device would.
type swDevice struct {
	chain     *bcert.Chain
	sign, enc *ecdsa.PrivateKey
}

func newSWDevice(t *testing.T, p *pki.PKI, sl uint32) *swDevice {
	t.Helper()
	m, err := p.Model(sl)
	require.NoError(t, err)
	sign, err := pki.GenerateKey(rand.Reader)
	require.NoError(t, err)
	enc, err := pki.GenerateKey(rand.Reader)
	require.NoError(t, err)
	mf, _ := m.Chain.Leaf().Manufacturer()
	signPub := pki.KeySigner{Key: sign}.Public()
	ch, err := m.Issue(&bcert.Template{
		SecurityLevel: sl, Type: bcert.CertTypeDevice, DigestKey: signPub,
		Device:   &bcert.DeviceInfo{MaxLicenseSize: 10240, MaxHeaderSize: 15360, MaxChainDepth: 2},
		Features: []uint32{bcert.FeatureSecureClock, bcert.FeaturePR3},
		Keys: []bcert.Key{
			{Public: signPub, Usages: []uint32{bcert.KeyUsageSign}},
			{Public: pki.KeySigner{Key: enc}.Public(), Usages: []uint32{bcert.KeyUsageEncryptKey}},
		},
		Manufacturer: mf,
	})
	require.NoError(t, err)
	return &swDevice{chain: ch, sign: sign, enc: enc}
}

func (d *swDevice) signer() soap.Signer { return pki.KeySigner{Key: d.sign} }

func (d *swDevice) digestHex() string {
	dg := d.chain.Leaf().Basic().Digest
	return hex.EncodeToString(dg[:])
}

// ssServer is a server with a DataDir and a settable clock.
type ssServer struct {
	f   *fixture
	now *time.Time
	dir string
}

func newSSServer(t *testing.T, edit func(*licsrv.Config)) *ssServer {
	t.Helper()
	now := time.Now().Truncate(time.Second)
	s := &ssServer{now: &now, dir: t.TempDir()}
	s.f = newFixtureCfg(t, 3000, func(c *licsrv.Config) {
		c.DataDir = s.dir
		c.Now = func() time.Time { return *s.now }
		if edit != nil {
			edit(c)
		}
	})
	t.Cleanup(func() { _ = s.f.srv.Close() })
	return s
}

func (s *ssServer) serverEncKey(t *testing.T) ecc.Point {
	k, ok := s.f.p.Server.Chain.Leaf().KeyWithUsage(bcert.KeyUsageEncryptKey)
	require.True(t, ok)
	return k
}

func (s *ssServer) serverSignKey(t *testing.T) ecc.Point {
	k, ok := s.f.p.Server.Chain.Leaf().KeyWithUsage(bcert.KeyUsageSignResponse)
	require.True(t, ok)
	return k
}

func (s *ssServer) postAction(t *testing.T, query, action string, body []byte) (*httptest.ResponseRecorder, []byte) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/rightsmanager.asmx"+query, bytes.NewReader(body))
	r.Header.Set("SOAPAction", action)
	w := httptest.NewRecorder()
	s.f.srv.ServeHTTP(w, r)
	return w, w.Body.Bytes()
}

// acquire asks for licenses for ids as d, with customData, and returns
// the parsed response (or fails the test).
func (s *ssServer) acquire(t *testing.T, d *swDevice, query, customData string, ids ...kid.ID) *soap.ParsedResponse {
	t.Helper()
	w, body := s.acquireRaw(t, d, query, customData, ids...)
	require.Equal(t, http.StatusOK, w.Code, string(body))
	resp, err := soap.ParseResponse(body)
	require.NoError(t, err)
	require.NoError(t, resp.VerifySignature(s.serverSignKey(t)))
	return resp
}

func (s *ssServer) acquireRaw(t *testing.T, d *swDevice, query, customData string, ids ...kid.ID) (*httptest.ResponseRecorder, []byte) {
	t.Helper()
	return s.postAction(t, query, soap.ActionAcquireLicense, s.acquireBody(t, d, customData, ids...))
}

func (s *ssServer) acquireBody(t *testing.T, d *swDevice, customData string, ids ...kid.ID) []byte {
	t.Helper()
	h := &pro.Header{Version: "4.2.0.0", LAURL: "http://127.0.0.1/rightsmanager.asmx"}
	for _, id := range ids {
		h.KIDs = append(h.KIDs, pro.KeyInfo{ID: id, AlgID: "AESCTR"})
	}
	x, err := h.XML()
	require.NoError(t, err)
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	body, err := soap.BuildChallenge(&soap.Challenge{Version: 4, ContentHeader: x, ClientVersion: "4.5.0.0", Nonce: nonce,
		ClientTime: s.now.Unix(), CustomData: customData, Data: soap.ClientData{CertificateChain: d.chain.Bytes()}},
		s.serverEncKey(t), d.signer(), rand.Reader)
	require.NoError(t, err)
	return body
}

// unwrap returns a license's SECURE_STOP ID and its SecureStop2 key, as
// the device's TEE would find them.
func (d *swDevice) unwrap(t *testing.T, b []byte) (*xmr.License, [16]byte, [16]byte) {
	t.Helper()
	l, err := xmr.Parse(b)
	require.NoError(t, err)
	ck, err := l.ContentKey()
	require.NoError(t, err)
	encD, err := d.enc.Bytes()
	require.NoError(t, err)
	m, err := ecc.Decrypt(encD, ecc.Ciphertext(ck.EncKey))
	require.NoError(t, err)
	x := m.X()
	require.NoError(t, l.VerifySignature(x[:16]))
	id := l.Policy().SecureStopID
	require.NotNil(t, id, "license has no SECURE_STOP")
	key, err := l.SecureStop2Key(x[:16])
	require.NoError(t, err)
	return l, *id, key
}

// sendStops posts recs in a secure-stop challenge signed by d and returns
// the verified acknowledgement.
func (s *ssServer) sendStops(t *testing.T, d *swDevice, recs ...securestop.Record) (*securestop.Ack, [16]byte) {
	t.Helper()
	w, body, nonce := s.sendStopsRaw(t, d, s.now.Unix(), recs...)
	require.Equal(t, http.StatusOK, w.Code, string(body))
	b, err := soap.ParseSecureStopResponse(body)
	require.NoError(t, err)
	ack, err := securestop.ParseAck(b)
	require.NoError(t, err)
	require.NoError(t, ack.Verify(s.serverSignKey(t)))
	require.Equal(t, nonce, ack.Nonce, "the ack echoes the challenge nonce")
	require.Equal(t, s.f.p.Server.Chain.Bytes(), ack.Chain)
	return ack, nonce
}

func (s *ssServer) sendStopsRaw(t *testing.T, d *swDevice, clientTime int64, recs ...securestop.Record) (*httptest.ResponseRecorder, []byte, [16]byte) {
	t.Helper()
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	body, err := soap.BuildSecureStopChallenge(&soap.SecureStopChallenge{Nonce: nonce, ClientTime: clientTime, ClientVersion: "4.5.0.0",
		CertificateChain: d.chain.Bytes(), Records: securestop.EncodeRecords(recs)}, s.serverEncKey(t), d.signer(), rand.Reader)
	require.NoError(t, err)
	w, b := s.postAction(t, "", soap.ActionProcessSecureStopData, body)
	return w, b, nonce
}

func (s *ssServer) reports(t *testing.T) []map[string]any {
	t.Helper()
	w := httptest.NewRecorder()
	s.f.srv.ServeHTTP(w, httptest.NewRequest(http.MethodGet, licsrv.ReportsPath, nil))
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "application/json", w.Header().Get("Content-Type"))
	var out []map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &out))
	require.NotNil(t, out, "an empty list is [], not null")
	return out
}

// record makes a stopped session record for a license.
func record(pub [16]byte, start, stop time.Time, ids ...kid.ID) securestop.Record {
	r := securestop.Record{Version: 1, Publisher: pub, KIDs: ids, Start: start.Unix(), Update: stop.Unix(), Stopped: true}
	_, _ = rand.Read(r.Session[:])
	return r
}

func TestSecureStopLicenseObjects(t *testing.T) {
	s := newSSServer(t, nil)
	d := newSWDevice(t, s.f.p, 3000)
	resp := s.acquire(t, d, "?cfg=(securestop:true)", "", kidA, kidB)
	require.Len(t, resp.Licenses, 2)
	la, idA, keyA := d.unwrap(t, resp.Licenses[0])
	_, idB, keyB := d.unwrap(t, resp.Licenses[1])
	require.False(t, la.Persistent())
	require.NotEqual(t, idA, idB, "a SECURE_STOP ID per license")
	require.NotEqual(t, keyA, keyB, "a SecureStop2 key per KID")
	require.NotEqual(t, [16]byte{}, keyA)

	// The same KID gets the same key every time, even from a restarted
	// server (the seed's ISecureStop2Handler), and a fresh ID.
	again := s.acquire(t, d, "?cfg=(securestop:true)", "", kidA)
	_, idA2, keyA2 := d.unwrap(t, again.Licenses[0])
	require.Equal(t, keyA, keyA2)
	require.NotEqual(t, idA, idA2)

	// Without securestop a license has neither object.
	plain := s.acquire(t, d, "", "", kidA)
	l, err := xmr.Parse(plain.Licenses[0])
	require.NoError(t, err)
	require.Nil(t, l.Policy().SecureStopID)
	require.Empty(t, l.Policy().SecureStop2)

	// Secure stop is for non-persistent licenses only.
	w, b := s.acquireRaw(t, d, "?cfg=(securestop:true,persist:true)", "", kidA)
	requireFault(t, w, b, drm.ErrServerInvalidMessage)
	f, _ := soap.ParseFault(b)
	require.Contains(t, f.Message, "cfg securestop:")
	w, b = s.acquireRaw(t, d, "?cfg=(securestop:maybe)", "", kidA)
	requireFault(t, w, b, drm.ErrServerInvalidMessage)
}

func TestSecureStopReports(t *testing.T) {
	s := newSSServer(t, nil)
	d := newSWDevice(t, s.f.p, 3000)
	resp := s.acquire(t, d, "?cfg=(securestop:true)", "", kidA, kidB)
	_, idA, keyA := d.unwrap(t, resp.Licenses[0])
	_, idB, keyB := d.unwrap(t, resp.Licenses[1])
	start := s.now.Add(-2 * time.Minute)
	stop := s.now.Add(-time.Minute)

	ss1 := record(idA, start, stop, kidA)
	ss2 := record(idB, start, stop, kidB)
	ss2.SignSS2(keyB)
	tampered := record(idA, start, stop, kidA)
	tampered.SignSS2(keyA)
	tampered.Update++ // after signing: the MAC no longer covers it
	wrongKey := record(idA, start, stop, kidA)
	wrongKey.SignSS2(keyB) // kidB's key on a kidA record

	ack, _ := s.sendStops(t, d, ss1, ss2, tampered, wrongKey)
	require.ElementsMatch(t, [][16]byte{ss1.Session, ss2.Session, tampered.Session, wrongKey.Session}, ack.Sessions)

	reps := s.reports(t)
	require.Len(t, reps, 4)
	want := map[[16]byte]string{ss1.Session: kid.ID{}.String(), ss2.Session: kid.ID(ss2.Session).String(),
		tampered.Session: kid.ID{}.String(), wrongKey.Session: kid.ID{}.String()}
	recs := []securestop.Record{ss1, ss2, tampered, wrongKey}
	for i, r := range reps {
		require.Equal(t, kid.ID(recs[i].Session).String(), r["session"], "reports in arrival order")
		require.Equal(t, want[recs[i].Session], r["verified_ss2"], "record %d", i)
		require.Equal(t, d.digestHex(), r["device"])
		require.Equal(t, []any{recs[i].KIDs[0].String()}, r["kids"])
		require.Equal(t, start.UTC().Format(time.RFC3339), r["start"])
		require.Equal(t, time.Unix(recs[i].Update, 0).UTC().Format(time.RFC3339), r["stop"])
		require.Len(t, r, 6, "exactly the documented fields")
	}

	// A resend (the device lost the response) is acknowledged again and
	// changes nothing.
	ack, _ = s.sendStops(t, d, ss1, ss2)
	require.ElementsMatch(t, [][16]byte{ss1.Session, ss2.Session}, ack.Sessions)
	require.Equal(t, reps, s.reports(t))

	// The reports survive a restart: they are in DataDir/securestop.db.
	require.NoError(t, s.f.srv.Close())
	cfg := s.f.fx.ServerConfig(licsrv.Config{DataDir: s.dir, Now: func() time.Time { return *s.now }})
	srv, err := licsrv.New(cfg)
	require.NoError(t, err)
	s.f.srv = srv
	require.Equal(t, reps, s.reports(t))
	// and the restarted server derives the same SecureStop2 keys.
	again := s.acquire(t, d, "?cfg=(securestop:true)", "", kidB)
	_, _, keyB2 := d.unwrap(t, again.Licenses[0])
	require.Equal(t, keyB, keyB2)
}

func TestSecureStopFaults(t *testing.T) {
	s := newSSServer(t, nil)
	d := newSWDevice(t, s.f.p, 3000)
	pub := [16]byte{1}
	good := record(pub, s.now.Add(-time.Minute), *s.now, kidA)

	active := good
	active.Stopped = false
	w, b, _ := s.sendStopsRaw(t, d, s.now.Unix(), active)
	requireFault(t, w, b, drm.ErrServerInvalidMessage)
	f, _ := soap.ParseFault(b)
	require.Contains(t, f.Message, "is not stopped")

	backwards := good
	backwards.Update = backwards.Start - 1
	w, b, _ = s.sendStopsRaw(t, d, s.now.Unix(), backwards)
	requireFault(t, w, b, drm.ErrServerInvalidMessage)

	w, b, _ = s.sendStopsRaw(t, d, s.now.Add(-3*time.Hour).Unix(), good)
	requireFault(t, w, b, drm.ErrClientTimeInvalid)

	// A device of another PKI is not trusted.
	other := newSSServer(t, nil)
	stranger := newSWDevice(t, other.f.p, 3000)
	w, b, _ = s.sendStopsRaw(t, stranger, s.now.Unix(), good)
	require.Equal(t, http.StatusInternalServerError, w.Code)
	f, err := soap.ParseFault(b)
	require.NoError(t, err)
	require.Contains(t, f.Message, "device certificate chain invalid")

	// Signed by a key that is not the leaf's.
	impostor := *d
	impostor.sign = newSWDevice(t, s.f.p, 3000).sign
	w, b, _ = s.sendStopsRaw(t, &impostor, s.now.Unix(), good)
	requireFault(t, w, b, drm.ErrXMLSigECDSAVerifyFailure)

	// A flipped byte in the signed element.
	var nonce [16]byte
	body, err := soap.BuildSecureStopChallenge(&soap.SecureStopChallenge{Nonce: nonce, ClientTime: s.now.Unix(), ClientVersion: "4.5.0.0",
		CertificateChain: d.chain.Bytes(), Records: securestop.EncodeRecords([]securestop.Record{good})}, s.serverEncKey(t), d.signer(), rand.Reader)
	require.NoError(t, err)
	i := bytes.Index(body, []byte("<ClientTime>"))
	require.Positive(t, i)
	body[i+len("<ClientTime>")] ^= 1 // a digit becomes another digit
	w, b = s.postAction(t, "", soap.ActionProcessSecureStopData, body)
	require.Equal(t, http.StatusInternalServerError, w.Code)
	f, err = soap.ParseFault(b)
	require.NoError(t, err)
	require.Contains(t, []drm.Code{drm.ErrXMLSigSHAVerifyFailure, drm.ErrClientTimeInvalid}, f.Code, f.Message)

	w, b = s.postAction(t, "", soap.ActionProcessSecureStopData, []byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><ProcessSecureStopData xmlns="http://schemas.microsoft.com/DRM/2007/03/protocols"/></soap:Body></soap:Envelope>`))
	require.Equal(t, http.StatusInternalServerError, w.Code)
	_, err = soap.ParseFault(b)
	require.NoError(t, err)

	require.Empty(t, s.reports(t), "nothing refused is stored")
}

func TestSecureStopDefects(t *testing.T) {
	setup := func(t *testing.T, defects ...licsrv.Defect) (*ssServer, *swDevice, securestop.Record, securestop.Record) {
		s := newSSServer(t, func(c *licsrv.Config) { c.Defects = defects })
		d := newSWDevice(t, s.f.p, 3000)
		resp := s.acquire(t, d, "?cfg=(securestop:true)", "", kidA)
		_, id, key := d.unwrap(t, resp.Licenses[0])
		good := record(id, s.now.Add(-time.Minute), *s.now, kidA)
		good.SignSS2(key)
		bad := record(id, s.now.Add(-time.Minute), *s.now, kidA)
		bad.SignSS2(key)
		bad.MAC[0] ^= 1
		return s, d, good, bad
	}
	run := func(t *testing.T, defects ...licsrv.Defect) (acked int, reports []map[string]any, badVerified bool) {
		s, d, good, bad := setup(t, defects...)
		ack, _ := s.sendStops(t, d, good, bad)
		acked = len(ack.Sessions)
		ack, _ = s.sendStops(t, d, good) // resend
		acked += len(ack.Sessions)
		reports = s.reports(t)
		for _, r := range reports {
			if r["session"] == kid.ID(bad.Session).String() {
				badVerified = r["verified_ss2"] == r["session"]
			}
		}
		return acked, reports, badVerified
	}
	acked, reps, badVerified := run(t)
	require.Equal(t, 3, acked)
	require.Len(t, reps, 2)
	require.False(t, badVerified)

	acked, reps, _ = run(t, licsrv.DefectDropAck)
	require.Zero(t, acked, "drop-ack: the ack names no session")
	require.Len(t, reps, 2, "drop-ack: the reports are stored all the same")

	_, reps, badVerified = run(t, licsrv.DefectAcceptTamperedSS2)
	require.Len(t, reps, 2)
	require.True(t, badVerified, "accept-tampered-ss2: a bad MAC is reported verified")

	_, reps, _ = run(t, licsrv.DefectDoubleCountResend)
	require.Len(t, reps, 3, "double-count-resend: the resend is a second report")
}

func TestStreamLimit(t *testing.T) {
	s := newSSServer(t, func(c *licsrv.Config) { c.MaxStreamsPerAccount = 2 })
	d := newSWDevice(t, s.f.p, 3000)
	other := newSWDevice(t, s.f.p, 3000)
	ss := "?cfg=(securestop:true)"

	first := s.acquire(t, d, ss, "alice", kidA)
	s.acquire(t, other, ss, "alice", kidB) // another device of the account
	// Licenses without secure stop and other accounts are not counted.
	s.acquire(t, d, "", "alice", kidA)
	s.acquire(t, d, ss, "bob", kidA, kidB)
	s.acquire(t, d, ss, "", kidA)

	w, b := s.acquireRaw(t, d, ss, "alice", kidA)
	requireFault(t, w, b, drm.ErrServerDeviceLimitReached)
	f, _ := soap.ParseFault(b)
	_, idA, _ := d.unwrap(t, first.Licenses[0])
	require.Contains(t, f.Message, `account "alice" has 2 open streams`)
	require.Contains(t, f.Message, kid.ID(idA).String(), "the reason names the open streams")
	require.Contains(t, f.Message, "--max-streams-per-account")
	// bob asked for two at once: a third would pass the limit too.
	w, b = s.acquireRaw(t, d, ss, "bob", kidA)
	requireFault(t, w, b, drm.ErrServerDeviceLimitReached)

	// A report of the first license closes its stream.
	s.sendStops(t, d, record(idA, s.now.Add(-time.Minute), *s.now, kidA))
	s.acquire(t, d, ss, "alice", kidA)
	w, b = s.acquireRaw(t, d, ss, "alice", kidA)
	requireFault(t, w, b, drm.ErrServerDeviceLimitReached)

	// An unreported stream is dropped after StreamLifetime.
	*s.now = s.now.Add(licsrv.StreamLifetime)
	s.acquire(t, d, ss, "alice", kidA, kidB)

	// An over-long account is refused.
	w, b = s.acquireRaw(t, d, ss, strings.Repeat("x", 200), kidA)
	requireFault(t, w, b, drm.ErrServerInvalidMessage)
}

func TestStreamLimitCountsConcurrentRequestsOnce(t *testing.T) {
	s := newSSServer(t, func(c *licsrv.Config) { c.MaxStreamsPerAccount = 3 })
	d := newSWDevice(t, s.f.p, 3000)
	const n = 8
	codes := make(chan int, n)
	for range n {
		body := s.acquireBody(t, d, "carol", kidA)
		go func() {
			w, _ := s.postAction(t, "?cfg=(securestop:true)", soap.ActionAcquireLicense, body)
			codes <- w.Code
		}()
	}
	ok := 0
	for range n {
		if <-codes == http.StatusOK {
			ok++
		}
	}
	require.Equal(t, 3, ok, "exactly the limit passes")
}

func (s *ssServer) sendAck(t *testing.T, d *swDevice, tid string, results ...soap.LicenseStorageResult) (*httptest.ResponseRecorder, []byte) {
	t.Helper()
	if len(results) == 0 {
		results = []soap.LicenseStorageResult{{KID: kidA}}
	}
	body, err := soap.BuildAcknowledgeLicense(&soap.LicenseAck{TransactionID: tid, ClientVersion: "4.5.0.0",
		CertificateChain: d.chain.Bytes(), Results: results}, s.serverEncKey(t), d.signer(), rand.Reader)
	require.NoError(t, err)
	return s.postAction(t, "", soap.ActionAcknowledgeLicense, body)
}

func (s *ssServer) acks(t *testing.T) []map[string]any {
	t.Helper()
	w := httptest.NewRecorder()
	s.f.srv.ServeHTTP(w, httptest.NewRequest(http.MethodGet, licsrv.AcksPath, nil))
	require.Equal(t, http.StatusOK, w.Code)
	var out []map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &out))
	require.NotNil(t, out)
	return out
}

func TestAcknowledgeLicense(t *testing.T) {
	s := newSSServer(t, nil)
	d := newSWDevice(t, s.f.p, 3000)
	other := newSWDevice(t, s.f.p, 3000)
	const tid = "7e2a1c34-5b6d-4e8f-9a0b-1c2d3e4f5a6b"
	require.Empty(t, s.acks(t))

	// No response carried the TID yet.
	w, b := s.sendAck(t, d, tid)
	requireFault(t, w, b, drm.ErrServerUnknownTransactionID)

	resp := s.acquire(t, d, "?cfg=(tid:"+tid+")", "", kidA)
	require.Equal(t, tid, resp.TransactionID)
	l, err := xmr.Parse(resp.Licenses[0])
	require.NoError(t, err)

	// Another device cannot acknowledge it.
	w, b = s.sendAck(t, other, tid)
	requireFault(t, w, b, drm.ErrServerUnknownTransactionID)

	res := []soap.LicenseStorageResult{{KID: kidA, LID: l.RightsID, Result: 0}, {KID: kidB, LID: [16]byte{9}, Result: uint32(drm.ErrLicenseMismatch)}}
	w, b = s.sendAck(t, d, tid, res...)
	require.Equal(t, http.StatusOK, w.Code, string(b))
	require.NoError(t, soap.ParseLicenseAckResponse(b))

	acks := s.acks(t)
	require.Len(t, acks, 1)
	a := acks[0]
	require.Equal(t, tid, a["transaction_id"])
	require.Equal(t, d.digestHex(), a["device"])
	require.Equal(t, s.now.UTC().Format(time.RFC3339), a["time"])
	require.Equal(t, []any{
		map[string]any{"kid": kidA.String(), "lid": base64.StdEncoding.EncodeToString(l.RightsID[:]), "result": "0x00000000"},
		map[string]any{"kid": kidB.String(), "lid": base64.StdEncoding.EncodeToString([]byte{9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}),
			"result": drm.ErrLicenseMismatch.Hex()},
	}, a["licenses"])

	// A replayed acknowledgement finds no pending TID.
	w, b = s.sendAck(t, d, tid, res...)
	requireFault(t, w, b, drm.ErrServerUnknownTransactionID)
	require.Len(t, s.acks(t), 1)

	// A signature by a key that is not the device's is refused before
	// the TID is looked at.
	s.acquire(t, d, "?cfg=(tid:"+tid+")", "", kidA)
	impostor := *d
	impostor.sign = other.sign
	w, b = s.sendAck(t, &impostor, tid)
	requireFault(t, w, b, drm.ErrXMLSigECDSAVerifyFailure)
	w, _ = s.sendAck(t, d, tid)
	require.Equal(t, http.StatusOK, w.Code, "the pending TID survived the refused one")
}

func TestEntitlementSecureStopAndAccount(t *testing.T) {
	f := newFixtureCfg(t, 3000, func(c *licsrv.Config) {
		c.CommKeys = map[string][]byte{commKeyID: commKey}
		c.MaxStreamsPerAccount = 1
	})
	t.Cleanup(func() { _ = f.srv.Close() })
	token := func(sub string, persist bool) string {
		m := seedMessage(t)
		m["license"] = map[string]any{"allow_persistence": persist, "playready": map[string]any{"secure_stop": true}}
		c := jwt.MapClaims{"version": 1, "com_key_id": commKeyID, "message": m, "exp": f.now.Add(time.Minute).Unix()}
		if sub != "" {
			c["sub"] = sub
		}
		return signClaims(t, c, commKey)
	}
	w, b, _ := f.send(t, req{header: token("dave", false)})
	ls := licenses(t, w, b)
	require.Len(t, ls, 1)
	require.NotNil(t, ls[0].Policy().SecureStopID)
	require.Len(t, ls[0].Policy().SecureStop2, 24)

	// The sub claim is the account: dave has his one stream.
	w, b, _ = f.send(t, req{header: token("dave", false)})
	require.Contains(t, entFault(t, w, b, drm.ErrServerDeviceLimitReached), `account "dave" has 1 open streams`)
	// The token in the header, the account in CustomData.
	w, b, _ = f.send(t, req{header: token("", false), customData: "dave"})
	entFault(t, w, b, drm.ErrServerDeviceLimitReached)
	w, b, _ = f.send(t, req{header: token("erin", false)})
	require.Equal(t, http.StatusOK, w.Code, string(b))

	w, b, _ = f.send(t, req{header: token("erin", true)})
	require.Contains(t, entFault(t, w, b, drm.ErrServerInvalidMessage), "secure_stop applies to non-persistent licenses only")
}

// TestSecureStopWithTEE runs the whole exchange with TEE devices: the
// license opens a session at play, Close stops it, the TEE's challenge is
// verified and stored, and its acknowledgement deletes it. A 4.5 SL3000
// device sends SecureStop2, a 3.0 one SecureStop1, an SL2000 one nothing.
func TestSecureStopWithTEE(t *testing.T) {
	for _, tc := range []struct {
		sl       uint32
		version  string
		sessions int
		verified bool
	}{{3000, "4.5", 1, true}, {3000, "3.0", 1, false}, {2000, "4.5", 0, false}} {
		t.Run(fmt.Sprintf("SL%d-%s", tc.sl, tc.version), func(t *testing.T) {
			f := newFixtureCfg(t, tc.sl, func(c *licsrv.Config) { c.DataDir = t.TempDir() })
			t.Cleanup(func() { _ = f.srv.Close() })
			b, err := tee.OpenBackend("soft")
			require.NoError(t, err)
			f.dev, err = f.fx.ProvisionTEE(b, tc.sl, tc.version)
			require.NoError(t, err)
			nonce, err := f.dev.NewNonce()
			require.NoError(t, err)
			w, body := f.post(t, "?cfg=(securestop:true)", f.challenge(t, nonce, f.now, kidA))
			require.Equal(t, http.StatusOK, w.Code, string(body))
			resp, err := soap.ParseResponse(body)
			require.NoError(t, err)
			k, err := f.dev.Bind(resp.Licenses[0])
			require.NoError(t, err)
			_, err = k.Enable(policy.Video, policy.StrategyBlock)
			require.NoError(t, err)
			session, ok := k.SecureStopSession()
			require.Equal(t, tc.sessions == 1, ok)
			k.Close()

			enc, ok := f.p.Server.Chain.Leaf().KeyWithUsage(bcert.KeyUsageEncryptKey)
			require.True(t, ok)
			ch, n, sessions, err := f.dev.SecureStopChallenge(enc, tc.version+".0.0", rand.Reader)
			require.NoError(t, err)
			require.Equal(t, tc.sessions, sessions)
			if sessions == 0 {
				require.Nil(t, ch)
				return
			}
			r := httptest.NewRequest(http.MethodPost, "/rightsmanager.asmx", bytes.NewReader(ch))
			r.Header.Set("SOAPAction", soap.ActionProcessSecureStopData)
			rw := httptest.NewRecorder()
			f.srv.ServeHTTP(rw, r)
			require.Equal(t, http.StatusOK, rw.Code, rw.Body.String())
			ack, err := soap.ParseSecureStopResponse(rw.Body.Bytes())
			require.NoError(t, err)
			deleted, err := f.dev.AcceptSecureStopAck(ack, n)
			require.NoError(t, err)
			require.Equal(t, 1, deleted)
			require.Empty(t, f.dev.SecureStopSessions())

			gw := httptest.NewRecorder()
			f.srv.ServeHTTP(gw, httptest.NewRequest(http.MethodGet, licsrv.ReportsPath, nil))
			var reps []licsrv.Report
			require.NoError(t, json.Unmarshal(gw.Body.Bytes(), &reps))
			require.Len(t, reps, 1)
			require.Equal(t, kid.ID(session).String(), reps[0].Session)
			require.Equal(t, []kid.ID{kidA}, reps[0].KIDs)
			want := kid.ID{}.String()
			if tc.verified {
				want = reps[0].Session
			}
			require.Equal(t, want, reps[0].VerifiedSS2)
		})
	}
}
