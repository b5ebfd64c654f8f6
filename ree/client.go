package ree

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/prsim/prsim/clock"
	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/store"
	"github.com/prsim/prsim/tee"
	"github.com/prsim/prsim/wire/bcert"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/pro"
	"github.com/prsim/prsim/wire/soap"
	"github.com/prsim/prsim/wire/xmr"
)

// maxResponse bounds a license server response.
const maxResponse = 4 << 20

// CertPath is where a prsim license server publishes its certificate chain.
const CertPath = "/prsim/server-cert"

// Config configures a Client.
type Config struct {
	Device *tee.Device
	Store  *store.Store // nil: persistent licenses are kept in memory only
	HTTP   *http.Client // nil: a client with a 30 s timeout
	// Roots are the trust anchors for license server certificates.
	Roots []ecc.Point
	// ClientVersion is sent as CLIENTINFO/CLIENTVERSION (e.g. "4.5.0.0").
	ClientVersion string
	// REEFeatures are advertised in the client data (soap.ClientData).
	REEFeatures []string
	// Clock gives ClientTime and the time certificates are checked at; nil =
	// the system clock. A hal.WallClock makes it user-settable.
	Clock clock.Clock
	Rand  io.Reader // nil = crypto/rand
	// Exchanges, if set, receives every SOAP message sent and received.
	Exchanges Recorder
}

// Client is one device's REE session.
type Client struct {
	cfg  Config
	http *http.Client

	mu      sync.Mutex
	keys    map[kid.ID]*tee.Key    // bound keys of this session
	trusted map[string]*bcert.Cert // leaf of each server chain verified this session, by raw chain
	rec     Recorder               // Config.Exchanges, or what SetRecorder set
}

// New returns a client.
func New(cfg Config) (*Client, error) {
	if cfg.Device == nil || len(cfg.Roots) == 0 {
		return nil, errors.New("ree: config needs a device and trusted roots")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.System()
	}
	if cfg.Rand == nil {
		cfg.Rand = cryptoRand{}
	}
	if cfg.ClientVersion == "" {
		cfg.ClientVersion = "4.5.0.0"
	}
	h := cfg.HTTP
	if h == nil {
		h = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{cfg: cfg, http: h, keys: map[kid.ID]*tee.Key{}, trusted: map[string]*bcert.Cert{}, rec: cfg.Exchanges}, nil
}

// SetRecorder makes r receive every SOAP message the client exchanges from
// now on (nil stops recording). It serves clients made by [OpenDevice],
// whose Config the caller does not build.
func (c *Client) SetRecorder(r Recorder) {
	c.mu.Lock()
	c.rec = r
	c.mu.Unlock()
}

// Close wipes every key handle of the session.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, k := range c.keys {
		k.Close()
		delete(c.keys, id)
	}
	return nil
}

// LicenseResult reports one license of a response.
type LicenseResult struct {
	KID              kid.ID
	Persistent       bool
	Bound            bool
	MinSecurityLevel uint16
	Err              error // why binding failed (wraps a drm.Code)
	// XMR is the license as received (its content key stays encrypted to
	// the device): what [Client.LicenseTimes] reads.
	XMR []byte
	// TransactionID is the response's TransactionID ("" without one): the
	// client then sent AcknowledgeLicense for every license of the
	// response, and AckErr says why that failed (nil: acknowledged).
	TransactionID string
	AckErr        error

	lid [16]byte // the license's RightsID, for its acknowledgement
}

// AcquireOption adjusts one license request.
type AcquireOption func(*acquireOptions)

type acquireOptions struct {
	header     http.Header
	customData string
	// onServerTime, if set, learns what the TEE made of the response's
	// License Server Time (a clock sync watches it).
	onServerTime func(time.Time, error)
	// listRefresh marks the acquisition that refreshes revocation
	// lists: it does not refresh again.
	listRefresh bool
}

// WithHeader adds an HTTP header to the license request (e.g. an
// entitlement message in X-AxDRM-Message). Header values are never logged
// or recorded: they may be bearer tokens.
func WithHeader(name, value string) AcquireOption {
	return func(o *acquireOptions) {
		if o.header == nil {
			o.header = http.Header{}
		}
		o.header.Add(name, value)
	}
}

// WithCustomData sets the challenge's CustomData element.
func WithCustomData(s string) AcquireOption {
	return func(o *acquireOptions) { o.customData = s }
}

// Acquire requests licenses for a header. laURL, if not empty, replaces the
// header's LA_URL (query string included). A transport, fault or response
// verification failure is returned as the error; per-license binding
// failures are reported in the results.
//
// A PlayReady 4.5 device with a secure clock takes the response's License
// Server Time before binding; if a license is refused because the clock is
// not set (DRM_E_SECURETIME_CLOCK_NOT_SET) and the response carried no
// usable time, it syncs the clock ([Client.SyncClock]) and binds those
// licenses again, once.
func (c *Client) Acquire(ctx context.Context, h *pro.Header, laURL string, opts ...AcquireOption) ([]LicenseResult, error) {
	var o acquireOptions
	for _, opt := range opts {
		opt(&o)
	}
	return c.acquire(ctx, h, laURL, o)
}

func (c *Client) acquire(ctx context.Context, h *pro.Header, laURL string, o acquireOptions) ([]LicenseResult, error) {
	if laURL == "" {
		laURL = h.LAURL
	}
	if laURL == "" {
		return nil, fmt.Errorf("ree: the header names no license URL (LA_URL): %w", drm.ErrSOAPXMLDataNotFound)
	}
	u, err := parseServerURL(laURL, "license")
	if err != nil {
		return nil, err
	}
	serverKey, err := c.serverKey(ctx, u)
	if err != nil {
		return nil, err
	}
	headerXML, err := h.XML()
	if err != nil {
		return nil, fmt.Errorf("ree: %w", err)
	}
	nonce, err := c.cfg.Device.NewNonce()
	if err != nil {
		return nil, err
	}
	// The TEE consumes the nonce as licenses bind under it; the REE only
	// abandons it when the exchange fails before any license is bound.
	answered := false
	defer func() {
		if !answered {
			c.cfg.Device.AbandonNonce(nonce)
		}
	}()
	ch := &soap.Challenge{
		Version:       laVersion(h.Version),
		ContentHeader: headerXML,
		ClientVersion: c.cfg.ClientVersion,
		Nonce:         nonce,
		ClientTime:    c.cfg.Clock.Now().Unix(),
		CustomData:    o.customData,
		Data: soap.ClientData{
			CertificateChain: c.cfg.Device.Chain(),
			Features:         []string{"AESCBC"},
			REEFeatures:      c.cfg.REEFeatures,
		},
	}
	// The lists the TEE holds, each at its version (0 = none held), so
	// that the server sends newer ones (docs/formats/revocation.md §4).
	_, held := c.cfg.Device.RevocationStatus()
	for _, l := range held {
		ch.RevLists = append(ch.RevLists, soap.RevListInfo{ListID: l.ID.GUID(), Version: l.Version})
	}
	body, err := c.cfg.Device.SignChallenge(ch, serverKey, c.cfg.Rand)
	if err != nil {
		return nil, fmt.Errorf("ree: failed to build challenge: %w", err)
	}
	respBody, err := c.post(ctx, laURL, soap.ActionAcquireLicense, body, o.header)
	if err != nil {
		return nil, err
	}
	resp, err := soap.ParseResponse(respBody)
	if err != nil {
		return nil, fmt.Errorf("ree: %w", err)
	}
	if err := c.verifyResponse(resp); err != nil {
		return nil, err
	}
	if resp.Nonce != nonce {
		return nil, fmt.Errorf("ree: response does not echo the challenge nonce: %w", drm.ErrLicenseMismatch)
	}
	answered = true
	d := c.cfg.Device
	// Revocation lists first: a license may need their RIV.
	revErr := c.ingestLists(resp.RevInfo)
	lst := d.Persona().LicenseServerTime()
	var timeErr error
	timeSet := false
	if len(resp.ServerTime) > 0 && lst {
		t, err := d.SetSecureTime(resp.ServerTime, nonce, true)
		timeErr, timeSet = err, err == nil
		if o.onServerTime != nil {
			o.onServerTime(t, err)
		}
	}
	var out []LicenseResult
	var unset, riv []int
	for i, lic := range resp.Licenses {
		r := c.bind(lic, true)
		if errors.Is(r.Err, drm.ErrSecureTimeClockNotSet) {
			unset = append(unset, i)
		}
		if errors.Is(r.Err, drm.ErrRIVTooSmall) {
			riv = append(riv, i)
		}
		out = append(out, r)
	}
	if len(riv) > 0 && !o.listRefresh {
		// The licenses need newer revocation information than the
		// response brought: one refresh, then bind them again (their
		// nonce is still outstanding: a RIV refusal comes before it is used).
		refreshErr := c.refreshLists(ctx, laURL)
		c.rebind(out, resp.Licenses, riv, refreshErr == nil,
			retryCause{"the revocation refresh that followed failed", refreshErr},
			retryCause{"a delivered revocation list was refused", revErr})
	}
	if len(unset) > 0 && lst {
		var syncErr error
		synced := false
		if timeErr == nil && !timeSet {
			// The clock-sync acquisition License Server Time defines;
			// the licenses' nonce stays outstanding meanwhile.
			_, syncErr = c.syncByAcquisition(ctx, laURL)
			synced = syncErr == nil
		}
		c.rebind(out, resp.Licenses, unset, synced,
			retryCause{"the response's License Server Time was refused", timeErr},
			retryCause{"the clock sync that followed failed", syncErr})
	}
	if resp.TransactionID != "" {
		c.acknowledge(ctx, laURL, resp.TransactionID, serverKey, out)
	}
	return out, nil
}

// retryCause is why a license bound again may still be refused.
type retryCause struct {
	what string
	err  error // nil: not the cause
}

// rebind binds the licenses at idx again when retry is set; each one still
// refused says why that did not help: the first cause with an error.
func (c *Client) rebind(out []LicenseResult, lics [][]byte, idx []int, retry bool, causes ...retryCause) {
	for _, i := range idx {
		if retry {
			out[i] = c.bind(lics[i], true)
		}
		if out[i].Err == nil {
			continue
		}
		for _, rc := range causes {
			if rc.err != nil {
				out[i].Err = fmt.Errorf("%w (%s: %v)", out[i].Err, rc.what, rc.err)
				break
			}
		}
	}
}

// BindLicense binds a license that reached the device by another path than
// [Client.Acquire] (a conformance runner sending its own challenges): the
// TEE applies every binding rule, a non-persistent license needs an
// outstanding nonce of this device, and a persistent one is stored. The key
// then serves [Client.Play] like an acquired one.
func (c *Client) BindLicense(lic []byte) LicenseResult { return c.bind(lic, true) }

// bind binds one license, keeps its key for the session and stores it if
// persistent (and store is set).
func (c *Client) bind(lic []byte, store bool) LicenseResult {
	r := LicenseResult{XMR: lic}
	if l, err := xmr.Parse(lic); err == nil {
		if ck, err := l.ContentKey(); err == nil {
			r.KID = ck.KID
		}
		r.Persistent = l.Persistent()
		r.MinSecurityLevel = l.MinSecurityLevel()
		r.lid = l.RightsID
	}
	k, err := c.cfg.Device.Bind(lic)
	if err != nil {
		r.Err = err
		return r
	}
	r.Bound = true
	if store && k.Persistent() && c.cfg.Store != nil {
		if err := c.storeLicense(k, lic); err != nil {
			r.Err = err
		}
	}
	c.mu.Lock()
	if old, ok := c.keys[k.KID()]; ok {
		old.Close()
	}
	c.keys[k.KID()] = k
	c.mu.Unlock()
	return r
}

func (c *Client) storeLicense(k *tee.Key, lic []byte) error {
	return c.cfg.Store.PutLicense(store.License{KID: k.KID(), LID: k.RightsID(), Stored: c.cfg.Clock.Now().UTC(), XMR: lic})
}

// Key returns a bound key for id: from this session, else by re-binding a
// stored persistent license.
func (c *Client) Key(id kid.ID) (*tee.Key, error) {
	c.mu.Lock()
	k, ok := c.keys[id]
	c.mu.Unlock()
	if ok {
		return k, nil
	}
	if c.cfg.Store != nil {
		ls, err := c.cfg.Store.LicensesFor(id)
		if err != nil {
			return nil, err
		}
		var lastErr error
		for _, l := range ls {
			r := c.bind(l.XMR, false)
			if r.Bound {
				c.mu.Lock()
				k = c.keys[id]
				c.mu.Unlock()
				return k, nil
			}
			lastErr = r.Err
		}
		if lastErr != nil {
			// Licenses to re-acquire, or past their removal date, are
			// deleted so that they are not tried again.
			c.removeStale(id)
			return nil, lastErr
		}
	}
	return nil, fmt.Errorf("ree: no license for %s: %w", id, drm.ErrLicenseNotFound)
}

// StoredLicenses lists the persistent licenses in the store.
func (c *Client) StoredLicenses() ([]store.License, error) {
	if c.cfg.Store == nil {
		return nil, nil
	}
	return c.cfg.Store.Licenses()
}

func laVersion(headerVersion string) int {
	switch headerVersion {
	case "4.2.0.0":
		return 4
	case "4.3.0.0":
		return 5
	}
	return 1
}

func (c *Client) post(ctx context.Context, u, action string, body []byte, extra http.Header) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("ree: %w", err)
	}
	for k, vs := range extra {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Content-Type", soap.ContentType)
	req.Header.Set("SOAPAction", action)
	c.record("challenge", body)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ree: license request failed: %w", transportErr(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil || len(b) > maxResponse {
		return nil, fmt.Errorf("ree: license response unreadable or too large: %w", drm.ErrSOAPXMLXMLFormat)
	}
	if resp.StatusCode != http.StatusOK {
		c.record("fault", b)
		if f, err := soap.ParseFault(b); err == nil {
			return nil, fmt.Errorf("ree: server fault: %w", f)
		}
		return nil, fmt.Errorf("ree: license server answered HTTP %d: %w", resp.StatusCode, drm.ErrSOAPXMLXMLFormat)
	}
	c.record("response", b)
	return b, nil
}

func (c *Client) record(kind string, body []byte) {
	c.mu.Lock()
	r := c.rec
	c.mu.Unlock()
	if r != nil {
		r.Record(kind, body)
	}
}

func (c *Client) verifyResponse(resp *soap.ParsedResponse) error {
	leaf, err := c.trustedLeaf(resp.SigningChain)
	if err != nil {
		return fmt.Errorf("ree: response signing chain not trusted (%v): %w", err, drm.ErrInvalidLicenseResponseSignature)
	}
	pub, ok := leaf.KeyWithUsage(bcert.KeyUsageSignResponse)
	if !ok {
		return fmt.Errorf("ree: response signer lacks SIGN_RESPONSE: %w", drm.ErrInvalidLicenseResponseSignature)
	}
	if err := resp.VerifySignature(pub); err != nil {
		return fmt.Errorf("ree: %w", err)
	}
	return nil
}

// trustedLeaf parses and verifies a server certificate chain against the
// device's roots and returns its leaf. A chain verified once is remembered
// for the session: the same server chain arrives with every response and
// its ECDSA checks would otherwise be repeated on each acquisition.
func (c *Client) trustedLeaf(raw []byte) (*bcert.Cert, error) {
	c.mu.Lock()
	leaf, ok := c.trusted[string(raw)]
	c.mu.Unlock()
	if ok {
		return leaf, nil
	}
	chain, err := bcert.ParseChain(raw)
	if err != nil {
		return nil, err
	}
	if err := chain.Verify(bcert.VerifyOptions{Roots: c.cfg.Roots, CurrentTime: c.cfg.Clock.Now()}); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.trusted[string(raw)] = chain.Leaf()
	c.mu.Unlock()
	return chain.Leaf(), nil
}

// serverKey returns the license server's challenge encryption key, from the
// store's cache or fetched from the origin and verified.
func (c *Client) serverKey(ctx context.Context, u *url.URL) (ecc.Point, error) {
	origin := u.Scheme + "://" + u.Host
	var raw []byte
	if c.cfg.Store != nil {
		var err error
		if raw, err = c.cfg.Store.ServerCert(origin); err != nil {
			return ecc.Point{}, err
		}
	}
	fetched := false
	if raw == nil {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, origin+CertPath, nil)
		if err != nil {
			return ecc.Point{}, fmt.Errorf("ree: %w", err)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return ecc.Point{}, fmt.Errorf("ree: server certificate fetch from %s failed: %w", origin, transportErr(err))
		}
		defer resp.Body.Close()
		raw, err = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if err != nil || resp.StatusCode != http.StatusOK {
			return ecc.Point{}, fmt.Errorf("ree: server certificate unavailable (HTTP %d): %w", resp.StatusCode, drm.ErrSOAPXMLDataNotFound)
		}
		fetched = true
	}
	leaf, err := c.trustedLeaf(raw)
	if err != nil {
		return ecc.Point{}, fmt.Errorf("ree: server certificate not trusted: %w", err)
	}
	key, ok := leaf.KeyWithUsage(bcert.KeyUsageEncryptKey)
	if !ok {
		return ecc.Point{}, fmt.Errorf("ree: server certificate has no encryption key: %w", drm.ErrBCertRequiredKeyUsageMissing)
	}
	if fetched && c.cfg.Store != nil {
		if err := c.cfg.Store.PutServerCert(origin, raw); err != nil {
			return ecc.Point{}, err
		}
	}
	return key, nil
}

// parseServerURL parses a URL the client sends to (what names it in the
// error): http or https, with a host. The URL is not quoted: its query may
// carry test-server secrets (the cfg contentkey).
func parseServerURL(raw, what string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("ree: the %s URL is not an http:// or https:// URL with a host: %w", what, drm.ErrSOAPXMLDataNotFound)
	}
	return u, nil
}

// transportErr drops the URL net/http puts in its errors: a license URL's
// query may carry secrets (the test server's cfg contentkey), and errors
// must not echo them. The cause (connection refused, timeout, …) is kept.
func transportErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
