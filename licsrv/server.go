package licsrv

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/internal/keyseed"
	"github.com/prsim/prsim/internal/safetext"
	"github.com/prsim/prsim/wire/bcert"
	"github.com/prsim/prsim/wire/pro"
	"github.com/prsim/prsim/wire/soap"
	"github.com/prsim/prsim/wire/xmr"
)

// CertPath is where the server publishes its certificate chain.
const CertPath = "/prsim/server-cert"

// TimePath is the secure time endpoint: GET returns the signed License
// Server Time blob (docs/protocol.md), when License Server Time is on.
const TimePath = "/prsim/time"

// staleServerTime is how far DefectStaleServerTime sets the signed time
// back: far outside any clock window, so a client must notice.
const staleServerTime = 24 * time.Hour

// A body over Limits.MaxBody gets a DRM_E_SERVER_INVALID_MESSAGE fault; the
// server first reads and discards up to maxDrain more bytes (within
// ReadTimeout), so a client still sending its body receives the fault
// rather than a connection reset.

// maxDrain bounds how much of an oversized body is discarded before the
// fault is sent; beyond it the connection is closed after the reply.
const maxDrain = 64 << 20

// Config configures a Server.
type Config struct {
	// Chain is the server certificate chain (leaf: SIGN_RESPONSE and
	// ENCRYPT_KEY keys). SignKey and EncKey are the leaf's private keys.
	Chain   *bcert.Chain
	SignKey *ecdsa.PrivateKey
	EncKey  *ecdsa.PrivateKey
	// Roots are the trusted root keys for device chains.
	Roots []ecc.Point
	// DataDir, if set, receives issued.jsonl: one line per issued license
	// (KID, LID, device certificate digest, time; never key bytes), and
	// securestop.db: secure-stop reports, open streams and license
	// acknowledgements (docs/protocol.md §11), which are otherwise kept in
	// memory. Close or Shutdown closes the database.
	DataDir string
	// MaxStreamsPerAccount, if positive, bounds an account's open streams:
	// secure-stop licenses issued to it and not yet reported (see
	// [StreamLifetime]); a request past it gets
	// DRM_E_SERVER_DEVICE_LIMIT_REACHED. 0 = no limit.
	MaxStreamsPerAccount int
	// ClientTimeSkew is the accepted |ClientTime − server time|; 0 = 1 h.
	ClientTimeSkew time.Duration
	// LicenseServerTime, when set, signs the server's time (Now) into
	// every license response and serves GET [TimePath]
	// (docs/protocol.md). It needs TimeChain, whose leaf is of type
	// SECURETIMESERVER, and TimeKey, that leaf's key with usage
	// soap.KeyUsageSignSecureTime. Server instances that share a clock
	// (Now) sign the same time.
	LicenseServerTime bool
	TimeChain         *bcert.Chain
	TimeKey           *ecdsa.PrivateKey
	// Defects are known bugs to inject (see [Defects]); New rejects an
	// unknown one. Empty for a correct server.
	Defects []Defect
	Now     func() time.Time // nil = time.Now
	Rand    io.Reader        // nil = crypto/rand
	// Log receives one record per request (see the package doc); nil =
	// discard.
	Log *slog.Logger
	// Limits bound requests and connections; zero fields take defaults.
	Limits Limits
	// CommKeys are the communication keys of entitlement messages, by ID
	// (the JWT's com_key_id), each the HMAC key bytes; empty = entitlement
	// messages are refused. See [EntitlementHeader].
	CommKeys map[string][]byte
	// Revocation, if set, supplies the signed revocation lists (RevInfo
	// v2 and CRLs; docs/protocol.md §12). Each must verify to Roots with
	// a CRL_SIGNER chain. The server refuses device chains on the runtime
	// CRL (DRM_E_DEVCERT_REVOKED), sends newer lists to challenges that
	// advertise older ones, and puts the RevInfo's RIV in licenses (0
	// without lists).
	Revocation RevocationSource
	// RevAllowFile, if set, is a RevAllowInfo XML file: digests of
	// revoked certificates to serve anyway (docs/protocol.md §12).
	RevAllowFile string
	// RevocationReload is how often Revocation and RevAllowFile are read
	// again, lazily on the request path; 0 = [DefaultRevocationReload],
	// at most [MaxRevocationReload]. A list or file that fails on reload
	// keeps the previous one and is logged.
	RevocationReload time.Duration
}

// Server is an http.Handler.
type Server struct {
	cfg     Config
	signer  signer
	encD    []byte
	defects defectSet
	mu      sync.Mutex // serialises issued.jsonl appends
	http    *http.Server
	conns   *connLimiter
	timeSig *signer // nil = License Server Time off
	// db holds secure-stop reports, open streams and acknowledgements.
	db        kvStore
	closeOnce sync.Once
	closeErr  error
	// ss2Secret derives the SecureStop2 keys; must be kept secret.
	ss2Secret []byte
	// rev holds the revocation lists and allow list; nil = none.
	rev *revState
}

// String and GoString keep the server's keys (encD, ss2Secret, the
// private keys of cfg) out of %v, %+v and %#v.
func (s *Server) String() string   { return "licsrv.Server" }
func (s *Server) GoString() string { return "licsrv.Server" }

// New validates the configuration.
func New(cfg Config) (*Server, error) {
	if cfg.Chain == nil || cfg.SignKey == nil || cfg.EncKey == nil || len(cfg.Roots) == 0 {
		return nil, errors.New("licsrv: config needs a chain, both server keys and a root")
	}
	leaf := cfg.Chain.Leaf()
	if leaf == nil {
		return nil, errors.New("licsrv: server certificate chain is empty")
	}
	sp, err1 := ecc.PublicKey(&cfg.SignKey.PublicKey)
	ep, err2 := ecc.PublicKey(&cfg.EncKey.PublicKey)
	cs, ok1 := leaf.KeyWithUsage(bcert.KeyUsageSignResponse)
	ce, ok2 := leaf.KeyWithUsage(bcert.KeyUsageEncryptKey)
	if err1 != nil || err2 != nil || !ok1 || !ok2 || cs != sp || ce != ep {
		return nil, errors.New("licsrv: server keys do not match the certificate")
	}
	defects, err := newDefectSet(cfg.Defects)
	if err != nil {
		return nil, err
	}
	if cfg.Limits, err = cfg.Limits.withDefaults(); err != nil {
		return nil, err
	}
	cfg.Defects = slices.Clone(cfg.Defects)
	keys := make(map[string][]byte, len(cfg.CommKeys))
	for id, k := range cfg.CommKeys {
		if id == "" || len(k) < minCommKeyLen {
			return nil, fmt.Errorf("licsrv: communication key %s: needs an ID and at least %d bytes", quote(id), minCommKeyLen)
		}
		keys[id] = slices.Clone(k)
	}
	cfg.CommKeys = keys
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.ClientTimeSkew == 0 {
		cfg.ClientTimeSkew = time.Hour
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("licsrv: data dir: %w", err)
		}
	}
	if cfg.MaxStreamsPerAccount < 0 {
		return nil, fmt.Errorf("licsrv: MaxStreamsPerAccount is negative (%d)", cfg.MaxStreamsPerAccount)
	}
	d, err := cfg.EncKey.Bytes()
	if err != nil {
		return nil, errors.New("licsrv: bad encryption key")
	}
	sd, err := cfg.SignKey.Bytes()
	if err != nil {
		return nil, errors.New("licsrv: bad signing key")
	}
	ss2, err := ss2Secret(sd)
	clear(sd)
	if err != nil {
		return nil, errors.New("licsrv: cannot derive the SecureStop2 secret")
	}
	s := &Server{cfg: cfg, signer: signer{key: cfg.SignKey, pub: sp, rand: cfg.Rand}, encD: d, defects: defects,
		conns: newConnLimiter(cfg.Limits.MaxConns), ss2Secret: ss2}
	if cfg.LicenseServerTime {
		ts, err := timeSigner(cfg)
		if err != nil {
			return nil, err
		}
		s.timeSig = ts
	}
	if s.rev, err = s.newRevState(cfg.Now()); err != nil {
		return nil, err
	}
	// Opened last: nothing after it can fail and leave it open.
	if s.db, err = openStore(cfg.DataDir); err != nil {
		return nil, err
	}
	s.http = s.newHTTPServer()
	return s, nil
}

// timeSigner checks the time-server chain and key of License Server Time.
func timeSigner(cfg Config) (*signer, error) {
	if cfg.TimeChain == nil || cfg.TimeKey == nil || cfg.TimeChain.Leaf() == nil {
		return nil, errors.New("licsrv: License Server Time needs the time-server chain and key (a PKI made before it existed has none: run prsim pki init again)")
	}
	leaf := cfg.TimeChain.Leaf()
	pub, err := ecc.PublicKey(&cfg.TimeKey.PublicKey)
	k, ok := leaf.KeyWithUsage(soap.KeyUsageSignSecureTime)
	if err != nil || !ok || k != pub || leaf.Basic().Type != bcert.CertTypeSecureTimeServer {
		return nil, errors.New("licsrv: the time key does not match a SECURETIMESERVER certificate with the secure-time key usage")
	}
	return &signer{key: cfg.TimeKey, pub: pub, rand: cfg.Rand}, nil
}

// serverTime returns the signed License Server Time blob for nonce.
// DefectStaleServerTime signs a time a day old; DefectUnsignedServerTime
// sends the statement with a zero signature.
func (s *Server) serverTime(nonce [16]byte) ([]byte, error) {
	now := s.cfg.Now()
	if s.defects[DefectStaleServerTime] {
		now = now.Add(-staleServerTime)
	}
	st := &soap.ServerTime{Time: now.Unix(), Nonce: nonce, Chain: s.cfg.TimeChain.Bytes()}
	if s.defects[DefectUnsignedServerTime] {
		return st.Bytes(), nil
	}
	return st.Sign(*s.timeSig)
}

// serveTime answers GET TimePath: the signed time, with the nonce of the
// optional query parameter nonce (32 hex digits) so that a device can tell
// a fresh answer from a replayed one.
func (s *Server) serveTime(w http.ResponseWriter, r *http.Request, ev *event) {
	ev.action = "time"
	fail := func(status int, reason string) {
		ev.outcome, ev.status, ev.reason = outcomeNotFound, status, reason
		switch status {
		case http.StatusBadRequest:
			ev.outcome, ev.code = outcomeFault, drm.ErrSecureTimeInvalidRequestData
		case http.StatusInternalServerError:
			ev.outcome, ev.code = outcomeFault, drm.ErrServerInternalError
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, reason+"\n")
	}
	if s.timeSig == nil {
		fail(http.StatusNotFound, "License Server Time is not enabled on this server (prsim server --license-server-time)")
		return
	}
	var nonce [16]byte
	if v := r.URL.Query().Get("nonce"); v != "" {
		b, err := hex.DecodeString(v)
		if err != nil || len(b) != len(nonce) {
			fail(http.StatusBadRequest, "query parameter nonce is not 32 hex digits")
			return
		}
		nonce = [16]byte(b)
	}
	b, err := s.serverTime(nonce)
	if err != nil {
		ev.internal = true
		fail(http.StatusInternalServerError, internalReason)
		return
	}
	ev.outcome, ev.status = outcomeOK, http.StatusOK
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}

type signer struct {
	key  *ecdsa.PrivateKey
	pub  ecc.Point
	rand io.Reader
	flip bool // DefectBadResponseSignature
}

func (s signer) Public() ecc.Point { return s.pub }
func (s signer) SignDigest(d []byte) ([64]byte, error) {
	sig, err := ecc.Sign(s.rand, s.key, d)
	if s.flip {
		sig[ecc.SignatureSize-1] ^= 1
	}
	return sig, err
}

// Outcomes of a request, as logged.
const (
	outcomeOK       = "ok"
	outcomeFault    = "fault"
	outcomeNotFound = "notfound"
)

// event is what the request log line reports.
type event struct {
	action    string
	outcome   string
	code      drm.Code
	reason    string
	internal  bool   // the fault hides an internal error
	device    string // hex leaf digest, once the chain parsed
	licenses  int
	status    int
	recordErr string
}

// ServeHTTP routes requests and logs one record per request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.cfg.Now()
	ev := &event{}
	switch {
	case r.URL.Path == CertPath && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		ev.action, ev.outcome, ev.status = "server-cert", outcomeOK, http.StatusOK
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(s.cfg.Chain.Bytes())
	case r.URL.Path == TimePath && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		s.serveTime(w, r, ev)
	case r.URL.Path == ReportsPath && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		reports, err := s.Reports()
		s.serveJSON(w, ev, "securestop-reports", reports, err)
	case r.URL.Path == AcksPath && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		acks, err := s.Acks()
		s.serveJSON(w, ev, "acks", acks, err)
	case strings.HasSuffix(strings.ToLower(r.URL.Path), "rightsmanager.asmx") && r.Method == http.MethodPost:
		s.serveSOAP(w, r, ev)
	default:
		ev.outcome, ev.status = outcomeNotFound, http.StatusNotFound
		http.NotFound(w, r)
	}
	s.logRequest(r, start, ev)
}

// logRequest writes the request's one log record. It never carries the
// query string (cfg may hold content keys) or any body bytes.
func (s *Server) logRequest(r *http.Request, start time.Time, ev *event) {
	level := slog.LevelInfo
	switch {
	case ev.internal:
		level = slog.LevelError
	case ev.outcome == outcomeFault:
		level = slog.LevelWarn
	}
	code := ""
	if ev.outcome == outcomeFault {
		code = ev.code.String()
	}
	attrs := []slog.Attr{
		slog.String("method", safetext.ASCII(r.Method, 16)),
		slog.String("path", safetext.ASCII(r.URL.Path, 200)),
		slog.String("action", ev.action),
		slog.String("outcome", ev.outcome),
		slog.Int("status", ev.status),
		slog.String("drm_code", code),
		slog.String("reason", ev.reason),
		slog.Duration("duration", s.cfg.Now().Sub(start)),
		slog.String("device_digest", ev.device),
		slog.Int("licenses", ev.licenses),
	}
	if ev.recordErr != "" {
		attrs = append(attrs, slog.String("record_error", ev.recordErr))
	}
	s.cfg.Log.LogAttrs(r.Context(), level, "request", attrs...)
}

// faultError carries a fault to send.
type faultError struct{ f soap.Fault }

func (e *faultError) Error() string { return e.f.Code.String() + ": " + e.f.Message }

// fault returns a fault whose faultstring is reason: it says what was wrong
// and never carries a secret or raw request bytes.
func fault(code drm.Code, reason string) error {
	return &faultError{soap.Fault{Code: code, Message: reason}}
}

const internalReason = "internal server error"

func (s *Server) serveSOAP(w http.ResponseWriter, r *http.Request, ev *event) {
	ev.action = "AcquireLicense"
	var resp []byte
	err := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				ev.internal = true
				err = fault(drm.ErrServerInternalError, internalReason)
				ev.reason = internalReason + " (recovered from a panic)"
			}
		}()
		maxBody := s.cfg.Limits.MaxBody
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			return fault(drm.ErrServerInvalidMessage, "request body could not be read")
		}
		if int64(len(body)) > maxBody {
			// Drain what the client is still sending so that it reads the
			// fault; past maxDrain the connection is dropped after it.
			_, _ = io.CopyN(io.Discard, r.Body, maxDrain)
			w.Header().Set("Connection", "close")
			return fault(drm.ErrServerInvalidMessage, fmt.Sprintf("request body is larger than %d bytes (--max-body)", maxBody))
		}
		if len(body) == 0 {
			return fault(drm.ErrServerInvalidMessage, "request body is empty")
		}
		action, err := soap.ParseEnvelopeAction(body)
		if err != nil {
			ev.action = ""
			return fault(drm.ErrServerInvalidMessage, "request is not a SOAP envelope: "+libReason(err))
		}
		ev.action = safetext.ASCII(action, 64)
		switch action {
		case "AcquireLicense":
			resp, err = s.acquire(r, body, ev)
			return err
		case "ProcessSecureStopData":
			resp, err = s.processSecureStop(body, ev)
			return err
		case "AcknowledgeLicense":
			resp, err = s.acknowledgeLicense(body, ev)
			return err
		default:
			return fault(drm.ErrServerProtocolVersionMismatch, "unsupported SOAP operation "+quote(action)+
				" (AcquireLicense, ProcessSecureStopData and AcknowledgeLicense are)")
		}
	}()
	if err != nil {
		var fe *faultError
		if !errors.As(err, &fe) {
			ev.internal = true
			ev.reason = internalReason + ": " + safetext.ASCII(err.Error(), 200)
			fe = &faultError{soap.Fault{Code: drm.ErrServerInternalError, Message: internalReason}}
		}
		ev.outcome, ev.code = outcomeFault, fe.f.Code
		if ev.reason == "" {
			ev.reason = fe.f.Message
		}
		ev.status = http.StatusInternalServerError
		if s.defects[DefectFaultAs200] {
			ev.status = http.StatusOK
		}
		w.Header().Set("Content-Type", soap.ContentType)
		w.WriteHeader(ev.status)
		_, _ = w.Write(soap.BuildFault(&fe.f))
		return
	}
	ev.outcome, ev.status = outcomeOK, http.StatusOK
	w.Header().Set("Content-Type", soap.ContentType)
	_, _ = w.Write(resp)
}

// request is a verified challenge.
type request struct {
	ch     *soap.ParsedChallenge
	data   *soap.ClientData
	chain  *bcert.Chain
	leaf   *bcert.Cert
	header *pro.Header
}

// verify checks the challenge. bound, if not nil, sees the content header
// as soon as the challenge parses, before any cryptographic check, and may
// refuse it (a header that does not parse is refused later, in order).
func (s *Server) verify(body []byte, ev *event, bound func(*pro.Header) error) (*request, error) {
	ch, err := soap.ParseChallenge(body)
	if err != nil {
		return nil, fault(codeOr(err, drm.ErrServerInvalidMessage), "malformed challenge: "+libReason(err))
	}
	h, herr := pro.ParseHeaderXML(ch.ContentHeader)
	if herr == nil && bound != nil {
		if err := bound(h); err != nil {
			return nil, err
		}
	}
	data, err := ch.DecryptData(func(ct ecc.Ciphertext) (ecc.Point, error) { return ecc.Decrypt(s.encD, ct) })
	if err != nil {
		return nil, fault(codeOr(err, drm.ErrXMLSigFormat), "client data does not decrypt with the server's ENCRYPT_KEY: "+libReason(err))
	}
	chain, leaf, err := s.verifyDevice(data.CertificateChain, ch.SignerKey, ch.VerifySignature, "challenge", "LA element", ev)
	if err != nil {
		return nil, err
	}
	if herr != nil {
		return nil, fault(drm.ErrServerInvalidMessage, "content header invalid: "+libReason(herr))
	}
	return &request{ch: ch, data: data, chain: chain, leaf: leaf, header: h}, nil
}

// verifyDevice checks a signed device message (a license, secure-stop or
// acknowledgement challenge): its chain to the roots, that signer is the
// leaf's SIGN key, and the signature (verifySig). what names the message
// and signed its signed element in reasons. It sets ev.device.
func (s *Server) verifyDevice(chainBytes []byte, signer ecc.Point, verifySig func() error, what, signed string, ev *event) (*bcert.Chain, *bcert.Cert, error) {
	chain, err := bcert.ParseChain(chainBytes)
	if err != nil {
		return nil, nil, fault(codeOr(err, drm.ErrInvalidDeviceCertificate), "device certificate chain malformed: "+libReason(err))
	}
	leaf := chain.Leaf()
	ev.device = hex.EncodeToString(digest(leaf))
	roots := s.cfg.Roots
	if s.defects[DefectAcceptUntrustedRoot] {
		// Trust whatever key signed the root-most certificate.
		if _, issuer, err := chain.Certs[len(chain.Certs)-1].SignatureInfo(); err == nil {
			roots = append(slices.Clone(roots), issuer)
		}
	}
	if err := chain.Verify(bcert.VerifyOptions{Roots: roots, CurrentTime: s.cfg.Now(), LeafType: bcert.CertTypeDevice}); err != nil {
		return nil, nil, fault(codeOr(err, drm.ErrInvalidDeviceCertificate), "device certificate chain invalid: "+chainReason(err))
	}
	if k, ok := leaf.KeyWithUsage(bcert.KeyUsageSign); !ok || k != signer {
		return nil, nil, fault(drm.ErrXMLSigECDSAVerifyFailure, what+" KeyInfo key is not the device leaf's SIGN key")
	}
	if !s.defects[DefectAcceptBadSignature] {
		if err := verifySig(); err != nil {
			c := codeOr(err, drm.ErrXMLSigECDSAVerifyFailure)
			reason := what + " signature invalid: " + libReason(err)
			switch c {
			case drm.ErrXMLSigECDSAVerifyFailure:
				reason = what + " signature does not verify with the device's signing key"
			case drm.ErrXMLSigSHAVerifyFailure:
				reason = what + " " + signed + " does not match its signed digest"
			}
			return nil, nil, fault(c, reason)
		}
	}
	if err := s.checkRevoked(chain, s.cfg.Now()); err != nil {
		return nil, nil, err
	}
	return chain, leaf, nil
}

// checkClientTime refuses a ClientTime (whole seconds, hence compared at
// that precision) outside the skew window. Times are compared, not their
// difference, which saturates for a ClientTime centuries away.
func (s *Server) checkClientTime(clientTime int64, now time.Time) error {
	ct, ref := time.Unix(clientTime, 0), now.Truncate(time.Second)
	outside := ct.Before(ref.Add(-s.cfg.ClientTimeSkew)) || ct.After(ref.Add(s.cfg.ClientTimeSkew))
	if !outside || s.defects[DefectNoClientTimeCheck] {
		return nil
	}
	d, rel := ref.Sub(ct), "behind"
	if ct.After(ref) {
		d, rel = ct.Sub(ref), "ahead of"
	}
	gap := d.String()
	if d == math.MaxInt64 { // saturated
		gap = "more than 292 years"
	}
	return fault(drm.ErrClientTimeInvalid, fmt.Sprintf("client time %s is %s %s server time %s (window %s)",
		ct.UTC().Format(time.RFC3339), gap, rel, now.UTC().Format(time.RFC3339), s.cfg.ClientTimeSkew))
}

// chainReason renders a chain verification error, naming certificate 0 the
// leaf.
func chainReason(err error) string {
	r := libReason(err)
	if rest, ok := strings.CutPrefix(r, "certificate 0: "); ok {
		return "leaf " + rest
	}
	if rest, ok := strings.CutPrefix(r, "leaf: "); ok {
		return "leaf " + rest
	}
	return r
}

// codeOr returns err's DRM code, or def.
func codeOr(err error, def drm.Code) drm.Code {
	if c, ok := drm.CodeOf(err); ok {
		return c
	}
	return def
}

func (s *Server) acquire(r *http.Request, body []byte, ev *event) ([]byte, error) {
	// The cfg policy is read first only for its syntax: a bad cfg is the
	// caller's error whatever the challenge. The bounds (limits.go) come
	// before the work they bound.
	groups := [][]node{{}}
	raw, haveCfg, err := cfgFromQuery(r.URL.RawQuery)
	headerToken := strings.TrimSpace(r.Header.Get(EntitlementHeader))
	if err != nil {
		return nil, fault(drm.ErrServerInvalidMessage, cfgReason(err))
	} else if haveCfg && headerToken != "" {
		return nil, conflictFault()
	} else if haveCfg {
		if err := s.checkCfgLen(raw); err != nil {
			return nil, err
		}
		if groups, err = parseCfg(raw); err != nil {
			return nil, fault(drm.ErrServerInvalidMessage, cfgReason(err))
		}
		if err := s.checkCfgGroups(len(groups)); err != nil {
			return nil, err
		}
	}
	pols, err := policies(groups)
	if err != nil {
		return nil, fault(drm.ErrServerInvalidMessage, cfgReason(err))
	}
	req, err := s.verify(body, ev, func(h *pro.Header) error { return s.checkAmplification(pols, h) })
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	// The lists in force for this whole response: its RIV and the lists
	// it delivers come from one snapshot.
	lists, _ := s.current(now)
	if err := s.checkClientTime(req.ch.ClientTime, now); err != nil {
		return nil, err
	}
	token, err := entitlementToken(headerToken, req.ch.CustomData)
	if err != nil {
		return nil, err
	}
	sub := "" // the verified entitlement's "sub" claim
	if token != "" {
		if haveCfg {
			return nil, conflictFault()
		}
		m, err := s.verifyEntitlement(token, now)
		if err != nil {
			return nil, err
		}
		if pols, err = s.entitlementPolicies(m, req); err != nil {
			return nil, err
		}
		sub = m.Subject()
	} else if pols, err = s.cfgPolicies(pols, req); err != nil {
		return nil, err
	}
	var licenses [][]byte
	var issued []issuedRecord
	for _, p := range pols {
		ls, recs, err := s.issue(req, p, s.riv(lists), now)
		if err != nil {
			return nil, err
		}
		licenses = append(licenses, ls...)
		issued = append(issued, recs...)
	}
	acct, err := account(req.ch.CustomData, sub)
	if err != nil {
		return nil, err
	}
	var streams [][16]byte
	for _, r := range issued {
		if r.secureStop != nil {
			streams = append(streams, *r.secureStop)
		}
	}
	if err := s.openStreams(acct, streams, now); err != nil {
		return nil, err
	}
	respID := make([]byte, 32)
	if _, err := io.ReadFull(s.cfg.Rand, respID); err != nil {
		return nil, err
	}
	nonce := req.ch.Nonce
	if s.defects[DefectNoNonceEcho] {
		if _, err := io.ReadFull(s.cfg.Rand, nonce[:]); err != nil {
			return nil, err
		}
	}
	var st []byte
	if s.timeSig != nil {
		if st, err = s.serverTime(req.ch.Nonce); err != nil {
			return nil, err
		}
	}
	sg := s.signer
	sg.flip = s.defects[DefectBadResponseSignature]
	out, err := soap.BuildResponse(&soap.Response{
		Licenses:      licenses,
		RevInfo:       s.deliver(lists, req.ch.RevLists),
		Nonce:         nonce,
		ResponseID:    respID,
		SigningChain:  s.cfg.Chain.Bytes(),
		TransactionID: tid(pols),
		ServerTime:    st,
	}, sg)
	if err != nil {
		return nil, err
	}
	if s.defects[DefectUnsignedResponse] {
		if out, err = stripSignature(out); err != nil {
			return nil, err
		}
	}
	// The device's AcknowledgeLicense must find its TID: a TID that
	// cannot be recorded fails the request.
	if err := s.addPendingTID(tid(pols), digest(req.leaf), now); err != nil {
		return nil, err
	}
	if err := s.record(issued); err != nil {
		ev.recordErr = safetext.ASCII(err.Error(), 200)
	}
	ev.licenses = len(licenses)
	return out, nil
}

// conflictFault refuses a request with both policy sources: which one wins
// would be a guess, and a wrong guess issues the wrong rights.
func conflictFault() error {
	return fault(drm.ErrServerInvalidMessage, "request carries both a cfg= query and an entitlement message ("+EntitlementHeader+
		" header or CustomData); send one or the other")
}

// cfgPolicies keeps the cfg groups that apply to the request and refuses
// what a group asks that the server or client cannot do.
func (s *Server) cfgPolicies(pols []Policy, req *request) ([]Policy, error) {
	pols, err := applicable(pols, req.header)
	if err != nil {
		return nil, err
	}
	for _, p := range pols {
		switch {
		case p.Revoked:
			return nil, fault(drm.ErrDevCertRevoked, "device certificate revoked (cfg revoked:true)")
		case p.ErrorCode != nil:
			return nil, fault(*p.ErrorCode, "error "+p.ErrorCode.Hex()+" requested by cfg errorcode")
		case p.ClientInfo:
			f := soap.Fault{Code: drm.ErrServerServiceSpecific, Message: "client info requested by cfg msg:clientinfo", CustomData: clientInfo(req)}
			return nil, &faultError{f}
		case (p.Read || p.Execute) && clientMajor(req.ch.ClientVersion) >= 3:
			key := "readright"
			if !p.Read {
				key = "executeright"
			}
			return nil, fault(drm.ErrServerInvalidMessage, fmt.Sprintf("cfg %s: %s is not supported by PlayReady 3.0+ clients (client version %s)",
				key, key, clientVersionText(req.ch.ClientVersion)))
		case uint32(p.SL) > req.leaf.Basic().SecurityLevel && !s.defects[DefectIgnoreSL] && !s.defects[DefectIssueAboveCertSL]:
			// A license the device cannot bind is refused here, with the
			// code the device would give (docs/formats/policies-and-outputs.md §1).
			return nil, fault(drm.ErrDeviceSecurityLevelTooLow, fmt.Sprintf("cfg sl:%d is above the device certificate's security level %d",
				p.SL, req.leaf.Basic().SecurityLevel))
		}
	}
	return pols, nil
}

// stripSignature removes the response's Signature element
// (DefectUnsignedResponse). It is the last element of that name: the
// LicenseResponse before it holds only base64 and escaped text.
func stripSignature(resp []byte) ([]byte, error) {
	i := bytes.LastIndex(resp, []byte("<Signature "))
	j := bytes.LastIndex(resp, []byte("</Signature>"))
	if i < 0 || j < i {
		return nil, errors.New("licsrv: response has no Signature element")
	}
	return append(resp[:i:i], resp[j+len("</Signature>"):]...), nil
}

// applicable keeps the cfg groups that apply to the header: a group with a
// kid applies only when the header names that KID, so one cfg URL can serve
// every AdaptationSet of a manifest, each with a header naming its own KID.
// A group without a kid applies to every header KID.
func applicable(pols []Policy, h *pro.Header) ([]Policy, error) {
	var out []Policy
	for _, p := range pols {
		if p.KID == nil || slices.ContainsFunc(h.KIDs, func(k pro.KeyInfo) bool { return k.ID == *p.KID }) {
			out = append(out, p)
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	var want, have []string
	for _, p := range pols {
		if p.KID != nil {
			want = append(want, p.KID.String())
		}
	}
	for _, k := range h.KIDs {
		have = append(have, k.ID.String())
	}
	names := "no KID"
	if len(have) > 0 {
		names = "KIDs " + strings.Join(have, ",")
	}
	return nil, fault(drm.ErrServerInvalidMessage, fmt.Sprintf("no cfg group applies: cfg names KIDs %s; header names %s",
		strings.Join(want, ","), names))
}

func tid(pols []Policy) string {
	for _, p := range pols {
		if p.TID != "" {
			return p.TID
		}
	}
	return ""
}

// issue builds the licenses of one policy group.
func (s *Server) issue(req *request, p Policy, riv uint32, now time.Time) ([][]byte, []issuedRecord, error) {
	keys := req.header.KIDs
	if req.header.LicenseRequested != nil && !*req.header.LicenseRequested && !s.defects[DefectIgnoreLicenseRequested] {
		return nil, nil, nil
	}
	if p.KID != nil {
		keys = slices.DeleteFunc(slices.Clone(keys), func(k pro.KeyInfo) bool { return k.ID != *p.KID })
	}
	if len(keys) == 0 {
		return nil, nil, fault(drm.ErrServerInvalidMessage, "content header names no KID")
	}
	devKey, ok := req.leaf.KeyWithUsage(bcert.KeyUsageEncryptKey)
	if !ok {
		return nil, nil, fault(drm.ErrInvalidDeviceCertificate, "device leaf has no ENCRYPT_KEY key")
	}
	if s.defects[DefectIgnoreSL] {
		p.SL = 150
	}
	if s.defects[DefectIgnorePersist] {
		p.Persist = false
	}
	var out [][]byte
	var recs []issuedRecord
	for _, k := range keys {
		lic, lid, ssID, err := s.build(req, p, k, devKey, riv, now)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, lic)
		recs = append(recs, issuedRecord{KID: k.ID.String(), LID: base64.StdEncoding.EncodeToString(lid[:]),
			Device: base64.StdEncoding.EncodeToString(digest(req.leaf)), Persistent: p.Persist, SL: p.SL, Time: now.UTC(),
			secureStop: ssID})
	}
	return out, recs, nil
}

func digest(c *bcert.Cert) []byte {
	d := c.Basic().Digest
	return d[:]
}

// build returns the license, its rights ID and its SECURE_STOP ID (nil
// without secure stop).
func (s *Server) build(req *request, p Policy, k pro.KeyInfo, devKey ecc.Point, riv uint32, now time.Time) ([]byte, [16]byte, *[16]byte, error) {
	var ck [16]byte
	switch {
	case p.ContentKey != nil:
		ck = *p.ContentKey
	default:
		seed, what := p.KeySeed, "cfg keyseed: cannot derive a content key from it (value withheld)"
		if seed == nil {
			seed, what = keyseed.TestSeed(), "cannot derive a content key from the test key seed"
		}
		var err error
		if ck, err = keyseed.Derive(seed, k.ID); err != nil {
			return nil, [16]byte{}, nil, fault(drm.ErrServerInvalidMessage, what)
		}
	}
	defer clear(ck[:])
	if s.defects[DefectWrongContentKey] {
		ck[0] ^= 0xFF
	}
	cbc := strings.EqualFold(k.AlgID, "AESCBC")
	if p.CBC != nil {
		cbc = *p.CBC
	}
	keyType := uint16(xmr.KeyTypeAESCTR)
	if cbc {
		keyType = xmr.KeyTypeAESCBC
	}
	m, ci, err := ecc.EmbedKey(s.cfg.Rand, ck)
	if err != nil {
		return nil, [16]byte{}, nil, err
	}
	defer clear(ci[:])
	enc, err := ecc.Encrypt(s.cfg.Rand, devKey, m)
	if err != nil {
		return nil, [16]byte{}, nil, err
	}
	t := &xmr.Template{
		MinSecurityLevel:     p.SL,
		IssueDate:            uint32(now.Unix()),
		Play:                 true,
		ContentKey:           xmr.ContentKey{KID: k.ID, KeyType: keyType, CipherType: xmr.CipherECC256, EncKey: enc[:]},
		DeviceKey:            devKey,
		ExpireAfterFirstPlay: p.FirstPlay,
		RealTimeExpiration:   p.RealTime,
		RIV:                  riv,
	}
	if p.Persist {
		if _, err := io.ReadFull(s.cfg.Rand, t.RightsID[:]); err != nil {
			return nil, [16]byte{}, nil, err
		}
	} else {
		t.RightsID = req.ch.Nonce
		st := uint16(xmr.SettingCannotPersist)
		t.Settings = &st
	}
	if p.Begin != nil || p.End != nil || p.BeginClientTime {
		e := &xmr.Expiration{Begin: 0, End: 0xFFFFFFFF}
		switch {
		case p.Begin != nil:
			e.Begin = uint32(p.Begin.Unix())
		case p.BeginClientTime:
			// begindate:clienttime: the client's own (checked) time.
			e.Begin = clampU32(req.ch.ClientTime)
		case p.End != nil:
			// An end date without a begin date is paired with the
			// client's time (docs/protocol.md), but never a later one
			// than the server's: a device whose wall clock runs ahead
			// (within the skew) may keep a secure clock set from server
			// time, on which a later begin date is not yet valid.
			e.Begin = clampU32(min(req.ch.ClientTime, now.Unix()))
		}
		if p.End != nil {
			e.End = uint32(p.End.Unix())
		}
		if s.defects[DefectMisEncodeDates] {
			if p.Begin == nil {
				e.Begin = 0
			} else {
				e.Begin += 86400
			}
			if p.End != nil {
				e.End += 86400
			}
		}
		t.Expiration = e
	}
	if p.Removal != nil {
		r := uint32(p.Removal.Unix())
		t.RemovalDate = &r
	}
	if p.HasOPL {
		t.OPL = &xmr.OPL{CompressedDigitalVideo: p.OPL[0], UncompressedDigitalVideo: p.OPL[1], AnalogVideo: p.OPL[2],
			CompressedDigitalAudio: p.OPL[3], UncompressedDigitalAudio: p.OPL[4]}
	}
	t.DigitalVideo = outputConfigs(p.DigitalVideo)
	t.DigitalAudio = outputConfigs(p.DigitalAudio)
	t.AnalogVideo = outputConfigs(p.AnalogVideo)
	t.PlayEnablers = append(t.PlayEnablers, p.PlayEnablers...)
	if s.defects[DefectDropPlayEnabler] {
		t.PlayEnablers = nil
	}
	if s.defects[DefectMisEncodeOPL] && t.OPL != nil {
		for _, v := range []*uint16{&t.OPL.CompressedDigitalVideo, &t.OPL.UncompressedDigitalVideo, &t.OPL.AnalogVideo,
			&t.OPL.CompressedDigitalAudio, &t.OPL.UncompressedDigitalAudio} {
			*v -= min(*v, 50)
		}
	}
	if p.SecureStop && !p.Persist {
		// Secure stop applies to non-persistent licenses only: a random
		// ID per license (the report names it) and the KID's SecureStop2
		// key, which clients without SecureStop2 ignore.
		var id [16]byte
		if _, err := io.ReadFull(s.cfg.Rand, id[:]); err != nil {
			return nil, [16]byte{}, nil, err
		}
		ss2 := s.ss2Key(k.ID)
		defer clear(ss2[:])
		t.SecureStopID, t.SecureStop2Key = &id, &ss2
	}
	t.SourceID = p.SourceID
	t.Read, t.Execute = p.Read, p.Execute
	t.Restrictions = p.Restrictions
	t.ExtensibleRights = p.Rights
	lic, err := t.Build(ci[:])
	if err != nil {
		return nil, [16]byte{}, nil, fmt.Errorf("licsrv: failed to build license: %w", err)
	}
	return lic, t.RightsID, t.SecureStopID, nil
}

// clampU32 fits a Unix time into an XMR date.
func clampU32(t int64) uint32 {
	return uint32(max(0, min(t, math.MaxUint32)))
}

func outputConfigs(in []OutputConfig) []xmr.OutputConfig {
	var out []xmr.OutputConfig
	for _, o := range in {
		out = append(out, xmr.OutputConfig{ID: o.ID, Data: o.Data})
	}
	return out
}

type issuedRecord struct {
	KID        string    `json:"kid"`
	LID        string    `json:"lid"`
	Device     string    `json:"device_digest"`
	Persistent bool      `json:"persistent"`
	SL         uint16    `json:"min_security_level"`
	Time       time.Time `json:"time"`
	secureStop *[16]byte // the license's SECURE_STOP ID; not logged
}

// record appends recs to issued.jsonl; a failure does not fail the
// request (the licenses are valid) but is logged.
func (s *Server) record(recs []issuedRecord) error {
	if s.cfg.DataDir == "" || len(recs) == 0 {
		return nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, r := range recs {
		_ = enc.Encode(r)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	path := filepath.Join(s.cfg.DataDir, "issued.jsonl")
	// Past MaxIssuedBytes the file becomes issued.jsonl.1 (one old
	// generation kept), so the log's disk use stays bounded.
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 && fi.Size()+int64(buf.Len()) > s.cfg.Limits.MaxIssuedBytes {
		if err := os.Rename(path, path+".1"); err != nil {
			return fmt.Errorf("cannot rotate the issued-license log: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("cannot record issued licenses: %w", err)
	}
	_, err = f.Write(buf.Bytes())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cannot record issued licenses: %w", err)
	}
	return nil
}

// clientMajor returns the PlayReady major version of CLIENTVERSION
// ("2.0.0.0" → 2; Windows-style "10.0.16384.10011" → 10). A missing or
// unparsable version counts as 3.0+: prsim's client always sends one, and
// the rules that depend on it are safer for a modern client.
func clientMajor(v string) int {
	m, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(m)
	if err != nil || n < 0 {
		return 3
	}
	return n
}

// clientVersionText renders CLIENTVERSION for a reason.
func clientVersionText(v string) string {
	if v == "" {
		return "not sent"
	}
	return quote(v)
}

// clientInfo renders the decoded client information the test server returns
// for msg:clientinfo (docs/formats/policies-and-outputs.md §6).
func clientInfo(req *request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Client Version: %s\nClient Time: %d\nSecurity Level: %d\n", req.ch.ClientVersion, req.ch.ClientTime, req.leaf.Basic().SecurityLevel)
	fmt.Fprintf(&b, "Features: %v\nREE Features: %s\n", req.leaf.Features(), strings.Join(req.data.REEFeatures, ","))
	for i, c := range req.chain.Certs {
		d := c.Basic().Digest
		name := ""
		if m, ok := c.Manufacturer(); ok {
			name = m.Name + " " + m.Model
		}
		fmt.Fprintf(&b, "Cert %d: %s digest %x\n", i, name, d[:])
	}
	return b.String()
}
