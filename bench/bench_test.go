package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/internal/demo"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/internal/fixture"
	"github.com/prsim/prsim/internal/keyseed"
	"github.com/prsim/prsim/internal/pki"
	"github.com/prsim/prsim/internal/testmedia"
	"github.com/prsim/prsim/licsrv"
	"github.com/prsim/prsim/ree"
	"github.com/prsim/prsim/tee"
	"github.com/prsim/prsim/wire/bcert"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/pro"
	"github.com/prsim/prsim/wire/soap"
	"github.com/prsim/prsim/wire/xmr"
)

const (
	// laURL is never resolved: every request goes through memTransport.
	laURL = "http://licsrv.test/rightsmanager.asmx"
	// tpmURI is the simulator with a fixed seed (tee.OpenBackend).
	tpmURI = "sim:1"
	// persistCfg asks the reference server for a persistent license, which
	// binds without an outstanding nonce (tee.Device.Bind).
	persistCfg = "?cfg=(persist:true)"
)

// KIDs of the benchmark headers; their keys come from the public test key
// seed (keyseed.TestSeed), as the reference server derives them.
var (
	ctrKID = kid.MustParse("10000000-1000-1000-1000-100000000001")
	cbcKID = kid.MustParse("10000000-1000-1000-1000-100000000002")
)

// backends are the sub-benchmark names of the key backends.
var backends = []string{"soft", "tpm"}

// env is what every test and benchmark of the package shares: one test PKI,
// the reference server, and the two key backends.
type env struct {
	fx     *fixture.Fixture
	pki    *pki.PKI
	server *licsrv.Server
	soft   *tee.Backend
	tpm    *tee.Backend // nil when the simulator cannot be opened (no cgo)
	tpmErr error
}

// shared is set by TestMain before any test or benchmark runs and is only
// read afterwards. The simulator is one per process (docs/formats/tpm.md §9), so it
// is opened here once rather than per benchmark.
var shared *env

func TestMain(m *testing.M) {
	e, err := newEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	shared = e
	code := m.Run()
	if err := e.close(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func newEnv() (*env, error) {
	fx, err := fixture.New(fixture.Options{})
	if err != nil {
		return nil, err
	}
	p := fx.PKI
	srv, err := fx.NewServer(licsrv.Config{})
	if err != nil {
		return nil, err
	}
	soft, err := tee.OpenBackend("soft")
	if err != nil {
		return nil, err
	}
	e := &env{fx: fx, pki: p, server: srv, soft: soft}
	e.tpm, e.tpmErr = tee.OpenBackend(tpmURI)
	return e, nil
}

func (e *env) close() error {
	var errs []error
	if e.tpm != nil {
		errs = append(errs, e.tpm.Close())
	}
	errs = append(errs, e.soft.Close())
	return errors.Join(errs...)
}

// backend returns the named backend, skipping tb if it is unavailable.
func backend(tb testing.TB, name string) *tee.Backend {
	tb.Helper()
	switch name {
	case "soft":
		return shared.soft
	case "tpm":
		if shared.tpm == nil {
			tb.Skipf("TPM simulator unavailable: %v", shared.tpmErr)
		}
		return shared.tpm
	}
	tb.Fatalf("unknown backend %q", name)
	return nil
}

// provisionRequest is an SL3000 device with the features ree gives a 4.5
// device (no version recorded in the leaf).
func provisionRequest(tb testing.TB) tee.ProvisionRequest {
	tb.Helper()
	req, err := shared.fx.ProvisionRequest(3000, "")
	require.NoError(tb, err)
	return req
}

func provision(tb testing.TB, b *tee.Backend) *tee.Device {
	tb.Helper()
	d, err := tee.Provision(b, provisionRequest(tb))
	require.NoError(tb, err)
	return d
}

// memTransport serves HTTP requests by calling the handler directly: no
// sockets, no goroutines, so the benchmarks measure prsim and not the
// loopback network stack.
type memTransport struct{ h http.Handler }

func (t memTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	if r.Body != nil {
		r.Body.Close()
	}
	return rec.Result(), nil
}

func newClient(tb testing.TB, d *tee.Device) *ree.Client {
	tb.Helper()
	c, err := ree.New(ree.Config{Device: d, HTTP: &http.Client{Transport: memTransport{shared.server}},
		Roots: []ecc.Point{shared.pki.Root}})
	require.NoError(tb, err)
	tb.Cleanup(func() { c.Close() })
	return c
}

// header is a one-KID header: 4.0.0.0 with a CHECKSUM for AESCTR, 4.3.0.0
// for AESCBC (docs/formats/pro-header.md §6).
func header(tb testing.TB, id kid.ID, alg string) *pro.Header {
	tb.Helper()
	if alg == pro.AlgAESCBC {
		return &pro.Header{Version: pro.Version43, KIDs: []pro.KeyInfo{{ID: id, AlgID: alg}}, LAURL: laURL}
	}
	ck, err := keyseed.Derive(keyseed.TestSeed(), id)
	require.NoError(tb, err)
	sum, err := pro.Checksum(alg, id, ck[:])
	require.NoError(tb, err)
	return &pro.Header{Version: pro.Version40, KIDs: []pro.KeyInfo{{ID: id, AlgID: alg, Checksum: sum}}, LAURL: laURL}
}

// acquire is one full acquisition of a one-license response.
func acquire(ctx context.Context, c *ree.Client, h *pro.Header, url string) error {
	res, err := c.Acquire(ctx, h, url)
	if err != nil {
		return err
	}
	if len(res) != 1 {
		return fmt.Errorf("got %d licenses, want 1", len(res))
	}
	if !res[0].Bound {
		return fmt.Errorf("license not bound: %w", res[0].Err)
	}
	return nil
}

// revLists are the lists ree advertises at version 0 (ree/client.go), so
// that hand-built challenges have the size of real ones.
var revLists = [...]string{
	"4E9D8C8A-B652-45A7-9791-6925A6B4791F",
	"28082E80-C7A3-40B1-8256-19E5B6D89B27",
	"52D1FF11-D388-4EDD-82B7-68EA4C20A16C",
	"CD75E604-543D-4A9C-9F09-FE6D24E8BF90",
}

// newChallenge fills a challenge as ree.Client.Acquire does for a 4.0.0.0
// header (LA version 1).
func newChallenge(d *tee.Device, headerXML string, nonce [16]byte) *soap.Challenge {
	ch := &soap.Challenge{
		Version:       1,
		ContentHeader: headerXML,
		ClientVersion: "4.5.0.0",
		Nonce:         nonce,
		ClientTime:    time.Now().Unix(),
		Data:          soap.ClientData{CertificateChain: d.Chain(), Features: []string{"AESCBC"}},
	}
	for _, g := range revLists {
		ch.RevLists = append(ch.RevLists, soap.RevListInfo{ListID: kid.MustParse(g).GUID()})
	}
	return ch
}

// buildChallenge returns a signed challenge body from d for h.
func buildChallenge(tb testing.TB, d *tee.Device, h *pro.Header) []byte {
	tb.Helper()
	x, err := h.XML()
	require.NoError(tb, err)
	nonce, err := d.NewNonce()
	require.NoError(tb, err)
	serverKey, err := ecc.PublicKey(&shared.pki.Server.EncKey.PublicKey)
	require.NoError(tb, err)
	body, err := d.SignChallenge(newChallenge(d, x, nonce), serverKey, rand.Reader)
	require.NoError(tb, err)
	return body
}

// post posts a challenge to the server in process.
func post(body []byte, query string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/rightsmanager.asmx"+query, bytes.NewReader(body))
	req.Header.Set("Content-Type", soap.ContentType)
	req.Header.Set("SOAPAction", soap.ActionAcquireLicense)
	rec := httptest.NewRecorder()
	shared.server.ServeHTTP(rec, req)
	return rec
}

// serve posts a challenge to the server in process and returns the 200 body.
func serve(body []byte, query string) ([]byte, error) {
	rec := post(body, query)
	if rec.Code != http.StatusOK {
		return nil, fmt.Errorf("server answered HTTP %d", rec.Code)
	}
	return rec.Body.Bytes(), nil
}

// clientSide is the client's half of an acquisition, without the server: a
// device and a canned response (one persistent license built for it).
type clientSide struct {
	dev         *tee.Device
	header      *pro.Header
	serverChain []byte
	serverKey   ecc.Point // ENCRYPT_KEY of the verified server chain
	signKey     ecc.Point // SIGN_RESPONSE of the verified server chain
	response    []byte
}

func newClientSide(tb testing.TB, d *tee.Device) *clientSide {
	tb.Helper()
	h := header(tb, ctrKID, pro.AlgAESCTR)
	resp, err := serve(buildChallenge(tb, d, h), persistCfg)
	require.NoError(tb, err)
	cs := &clientSide{dev: d, header: h, serverChain: shared.pki.Server.Chain.Bytes(), response: resp}
	// ree.Client verifies a server chain once per session and caches it.
	sc, err := bcert.ParseChain(cs.serverChain)
	require.NoError(tb, err)
	require.NoError(tb, sc.Verify(bcert.VerifyOptions{Roots: []ecc.Point{shared.pki.Root}}))
	var ok1, ok2 bool
	cs.serverKey, ok1 = sc.Leaf().KeyWithUsage(bcert.KeyUsageEncryptKey)
	cs.signKey, ok2 = sc.Leaf().KeyWithUsage(bcert.KeyUsageSignResponse)
	require.True(tb, ok1 && ok2)
	return cs
}

// run does what ree.Client.Acquire does around the HTTP exchange, in the
// same order, with the server chain already verified (the client caches
// verified chains per session): draw a nonce, build the signed and
// encrypted challenge, parse the response, match its signing chain to the
// cached one and verify its signature, and bind its license in the TEE.
// The canned response answers another nonce, which a persistent license
// does not need.
func (cs *clientSide) run() error {
	hx, err := cs.header.XML()
	if err != nil {
		return err
	}
	nonce, err := cs.dev.NewNonce()
	if err != nil {
		return err
	}
	// As in ree.Client.Acquire, a nonce whose response verifies stays in
	// the TEE (its FIFO drops the oldest) until its licenses bind.
	if _, err := cs.dev.SignChallenge(newChallenge(cs.dev, hx, nonce), cs.serverKey, rand.Reader); err != nil {
		return err
	}
	resp, err := soap.ParseResponse(cs.response)
	if err != nil {
		return err
	}
	if !bytes.Equal(resp.SigningChain, cs.serverChain) {
		return errors.New("response signed by an unexpected chain")
	}
	pub := cs.signKey
	if err := resp.VerifySignature(pub); err != nil {
		return err
	}
	if len(resp.Licenses) != 1 {
		return fmt.Errorf("canned response holds %d licenses", len(resp.Licenses))
	}
	// ree reads the license once for its report, then the TEE binds it.
	if _, err := xmr.Parse(resp.Licenses[0]); err != nil {
		return err
	}
	k, err := cs.dev.Bind(resp.Licenses[0])
	if err != nil {
		return err
	}
	return k.Close()
}

// play is bound cenc test content and a client to play it.
type play struct {
	client  *ree.Client
	content *testmedia.Content
	out     string
	bytes   int64 // sample bytes of all tracks
}

func newPlay(tb testing.TB) *play {
	tb.Helper()
	dir := tb.TempDir()
	tracks := [2]testmedia.Track{
		{KID: kid.MustParse("20000000-2000-2000-2000-200000000001")},
		{KID: kid.MustParse("20000000-2000-2000-2000-200000000002")},
	}
	for i := range tracks {
		ck, err := keyseed.Derive(keyseed.TestSeed(), tracks[i].KID)
		require.NoError(tb, err)
		tracks[i].Key = ck
	}
	content, err := testmedia.Generate(testmedia.Options{Dir: filepath.Join(dir, "content"), Scheme: testmedia.SchemeCENC,
		Video: tracks[0], Audio: tracks[1], LAURL: laURL, Segments: 3, Seed: 1})
	require.NoError(tb, err)
	mpd, err := os.ReadFile(content.MPD)
	require.NoError(tb, err)
	hs, err := ree.HeadersFromMPD(mpd)
	require.NoError(tb, err)
	c := newClient(tb, provision(tb, shared.soft))
	for _, h := range hs {
		require.NoError(tb, acquire(context.Background(), c, h, ""))
	}
	p := &play{client: c, content: content, out: filepath.Join(dir, "out")}
	for _, samples := range content.Clear {
		for _, s := range samples {
			p.bytes += int64(len(s))
		}
	}
	return p
}

func (p *play) run(ctx context.Context) ([]ree.Track, error) {
	tracks, err := p.client.Play(ctx, p.content.MPD, p.out, "")
	if err != nil {
		return nil, err
	}
	if len(tracks) != 2 {
		return nil, fmt.Errorf("played %d tracks, want 2", len(tracks))
	}
	return tracks, nil
}

// --- Benchmarks.

func BenchmarkAcquireClient(b *testing.B) {
	for _, name := range backends {
		b.Run(name, func(b *testing.B) {
			cs := newClientSide(b, provision(b, backend(b, name)))
			b.ReportAllocs()
			for b.Loop() {
				if err := cs.run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAcquireServer(b *testing.B) {
	body := buildChallenge(b, provision(b, shared.soft), header(b, ctrKID, pro.AlgAESCTR))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := serve(body, ""); err != nil {
			b.Fatal(err)
		}
	}
}

// amplifying is the attack of docs/protocol.md §4 (Limits): a signed
// challenge whose header names 100 KIDs, with 2730 empty cfg groups, which
// would yield 273,000 licenses. The reference server refuses it from its
// counts, before any cryptography.
func amplifying(tb testing.TB) ([]byte, string) {
	tb.Helper()
	h := &pro.Header{Version: pro.Version42, LAURL: laURL}
	for i := range 100 {
		id := ctrKID
		id[15] = byte(i)
		h.KIDs = append(h.KIDs, pro.KeyInfo{ID: id, AlgID: pro.AlgAESCTR})
	}
	return buildChallenge(tb, provision(tb, shared.soft), h), "?cfg=" + strings.TrimSuffix(strings.Repeat("(),", 2730), ",")
}

// refused serves a request the server must refuse with a fault.
func refused(body []byte, query string) error {
	if rec := post(body, query); rec.Code != http.StatusInternalServerError {
		return fmt.Errorf("server answered HTTP %d, want a 500 fault", rec.Code)
	}
	return nil
}

func BenchmarkAcquireServerRefused(b *testing.B) {
	body, query := amplifying(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := refused(body, query); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPlay(b *testing.B) {
	p := newPlay(b)
	ctx := context.Background()
	b.SetBytes(p.bytes)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.run(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkProvision(b *testing.B) {
	for _, name := range backends {
		b.Run(name, func(b *testing.B) {
			be := backend(b, name)
			req := provisionRequest(b)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tee.Provision(be, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// --- Tests: every benchmark body once, on every backend available.

func TestAcquire(t *testing.T) {
	for _, name := range backends {
		t.Run(name, func(t *testing.T) {
			c := newClient(t, provision(t, backend(t, name)))
			require.NoError(t, acquire(context.Background(), c, header(t, ctrKID, pro.AlgAESCTR), ""))
			k, err := c.Key(ctrKID)
			require.NoError(t, err)
			require.False(t, k.Persistent())
		})
	}
}

func TestAcquireClient(t *testing.T) {
	for _, name := range backends {
		t.Run(name, func(t *testing.T) {
			cs := newClientSide(t, provision(t, backend(t, name)))
			require.NoError(t, cs.run())
			require.NoError(t, cs.run(), "the canned response must bind again")

			other := newClientSide(t, provision(t, backend(t, name)))
			cs.response = other.response
			require.Error(t, cs.run(), "a license for another device must not bind")
		})
	}
}

func TestAcquireServer(t *testing.T) {
	body := buildChallenge(t, provision(t, shared.soft), header(t, ctrKID, pro.AlgAESCTR))
	resp, err := serve(body, "")
	require.NoError(t, err)
	p, err := soap.ParseResponse(resp)
	require.NoError(t, err)
	require.Len(t, p.Licenses, 1)

	_, err = serve(body[:len(body)/2], "")
	require.Error(t, err)
}

func TestAcquireServerRefused(t *testing.T) {
	body, query := amplifying(t)
	require.NoError(t, refused(body, query))
	_, err := serve(body, "")
	require.Error(t, err, "100 KIDs alone are over the bound too")
}

func TestProvision(t *testing.T) {
	for _, name := range backends {
		t.Run(name, func(t *testing.T) {
			d := provision(t, backend(t, name))
			require.Equal(t, uint32(3000), d.SecurityLevel())
			c, err := bcert.ParseChain(d.Chain())
			require.NoError(t, err)
			require.NoError(t, c.Verify(bcert.VerifyOptions{Roots: []ecc.Point{shared.pki.Root}, LeafType: bcert.CertTypeDevice}))
		})
	}
}

func TestPlay(t *testing.T) {
	p := newPlay(t)
	require.Positive(t, p.bytes)
	tracks, err := p.run(context.Background())
	require.NoError(t, err)
	for _, tr := range tracks {
		got, err := demo.SampleData(filepath.Join(p.out, tr.Out))
		require.NoError(t, err)
		require.Equal(t, p.content.Clear[tr.Type], got, "%s samples", tr.Type)
	}
}
