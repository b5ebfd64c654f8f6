package licsrv

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/internal/keyseed"
	"github.com/prsim/prsim/wire/bcert"
	"github.com/prsim/prsim/wire/pro"
	"github.com/prsim/prsim/wire/soap"
	"github.com/prsim/prsim/wire/xmr"
)

// CertPath is where the server publishes its certificate chain.
const CertPath = "/prsim/server-cert"

// maxBody bounds a request body.
const maxBody = 1 << 20

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
	// (KID, LID, device certificate digest, time; never key bytes).
	DataDir string
	// ClientTimeSkew is the accepted |ClientTime − server time|; 0 = 1 h.
	ClientTimeSkew time.Duration
	Now            func() time.Time // nil = time.Now
	Rand           io.Reader        // nil = crypto/rand
	Log            *slog.Logger     // nil = discard
}

// Server is an http.Handler.
type Server struct {
	cfg    Config
	signer signer
	encD   []byte
	mu     sync.Mutex // serialises issued.jsonl appends
}

// New validates the configuration.
func New(cfg Config) (*Server, error) {
	if cfg.Chain == nil || cfg.SignKey == nil || cfg.EncKey == nil || len(cfg.Roots) == 0 {
		return nil, errors.New("licsrv: config needs a chain, both server keys and a root")
	}
	leaf := cfg.Chain.Leaf()
	sp, err1 := ecc.PublicKey(&cfg.SignKey.PublicKey)
	ep, err2 := ecc.PublicKey(&cfg.EncKey.PublicKey)
	cs, ok1 := leaf.KeyWithUsage(bcert.KeyUsageSignResponse)
	ce, ok2 := leaf.KeyWithUsage(bcert.KeyUsageEncryptKey)
	if err1 != nil || err2 != nil || !ok1 || !ok2 || cs != sp || ce != ep {
		return nil, errors.New("licsrv: server keys do not match the certificate")
	}
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
	d, err := cfg.EncKey.Bytes()
	if err != nil {
		return nil, errors.New("licsrv: bad encryption key")
	}
	return &Server{cfg: cfg, signer: signer{key: cfg.SignKey, pub: sp, rand: cfg.Rand}, encD: d}, nil
}

type signer struct {
	key  *ecdsa.PrivateKey
	pub  ecc.Point
	rand io.Reader
}

func (s signer) Public() ecc.Point { return s.pub }
func (s signer) SignDigest(d []byte) ([64]byte, error) {
	return ecc.Sign(s.rand, s.key, d)
}

// ServeHTTP routes requests.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == CertPath && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(s.cfg.Chain.Bytes())
	case strings.HasSuffix(strings.ToLower(r.URL.Path), "rightsmanager.asmx") && r.Method == http.MethodPost:
		s.serveSOAP(w, r)
	default:
		http.NotFound(w, r)
	}
}

// faultError carries a fault to send.
type faultError struct{ f soap.Fault }

func (e *faultError) Error() string { return e.f.Code.String() }

func fault(code drm.Code, msg string) error {
	return &faultError{soap.Fault{Code: code, Message: msg}}
}

func (s *Server) serveSOAP(w http.ResponseWriter, r *http.Request) {
	var resp []byte
	err := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				s.cfg.Log.Error("licsrv: recovered from panic", "path", r.URL.Path)
				err = fault(drm.ErrServerInternalError, "internal server error")
			}
		}()
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil || len(body) > maxBody {
			return fault(drm.ErrServerInvalidMessage, "request body unreadable or too large")
		}
		action, err := soap.ParseEnvelopeAction(body)
		if err != nil {
			return fault(drm.ErrServerInvalidMessage, "not a SOAP envelope")
		}
		switch action {
		case "AcquireLicense":
			resp, err = s.acquire(r, body)
			return err
		default:
			return fault(drm.ErrServerProtocolVersionMismatch, "unsupported operation")
		}
	}()
	if err != nil {
		var fe *faultError
		if !errors.As(err, &fe) {
			fe = &faultError{soap.Fault{Code: drm.ErrServerInternalError, Message: "internal server error"}}
		}
		s.cfg.Log.Info("licsrv: fault", "code", fe.f.Code.String())
		w.Header().Set("Content-Type", soap.ContentType)
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write(soap.BuildFault(&fe.f))
		return
	}
	w.Header().Set("Content-Type", soap.ContentType)
	_, _ = w.Write(resp)
}

// codeOr returns err's DRM code, or def.
func codeOr(err error, def drm.Code) drm.Code {
	if c, ok := drm.CodeOf(err); ok {
		return c
	}
	return def
}

// request is a verified challenge.
type request struct {
	ch     *soap.ParsedChallenge
	data   *soap.ClientData
	chain  *bcert.Chain
	leaf   *bcert.Cert
	header *pro.Header
}

func (s *Server) verify(body []byte) (*request, error) {
	ch, err := soap.ParseChallenge(body)
	if err != nil {
		return nil, fault(codeOr(err, drm.ErrServerInvalidMessage), "malformed challenge")
	}
	data, err := ch.DecryptData(func(ct ecc.Ciphertext) (ecc.Point, error) { return ecc.Decrypt(s.encD, ct) })
	if err != nil {
		return nil, fault(codeOr(err, drm.ErrXMLSigFormat), "client data does not decrypt")
	}
	chain, err := bcert.ParseChain(data.CertificateChain)
	if err != nil {
		return nil, fault(codeOr(err, drm.ErrInvalidDeviceCertificate), "device certificate chain malformed")
	}
	if err := chain.Verify(bcert.VerifyOptions{Roots: s.cfg.Roots, CurrentTime: s.cfg.Now(), LeafType: bcert.CertTypeDevice}); err != nil {
		return nil, fault(codeOr(err, drm.ErrInvalidDeviceCertificate), "device certificate chain invalid")
	}
	leaf := chain.Leaf()
	if k, ok := leaf.KeyWithUsage(bcert.KeyUsageSign); !ok || k != ch.SignerKey {
		return nil, fault(drm.ErrXMLSigECDSAVerifyFailure, "challenge not signed by the device key")
	}
	if err := ch.VerifySignature(); err != nil {
		return nil, fault(codeOr(err, drm.ErrXMLSigECDSAVerifyFailure), "challenge signature invalid")
	}
	h, err := pro.ParseHeaderXML(ch.ContentHeader)
	if err != nil {
		return nil, fault(drm.ErrServerInvalidMessage, "content header invalid")
	}
	return &request{ch: ch, data: data, chain: chain, leaf: leaf, header: h}, nil
}

func (s *Server) acquire(r *http.Request, body []byte) ([]byte, error) {
	// The cfg policy is read first only for its syntax: a bad cfg is the
	// caller's error whatever the challenge.
	groups := [][]node{{}}
	if raw, ok, err := cfgFromQuery(r.URL.RawQuery); err != nil {
		return nil, fault(drm.ErrServerInvalidMessage, "malformed cfg")
	} else if ok {
		if groups, err = parseCfg(raw); err != nil {
			return nil, fault(drm.ErrServerInvalidMessage, "malformed cfg")
		}
	}
	pols, err := policies(groups)
	if err != nil {
		return nil, fault(drm.ErrServerInvalidMessage, "unsupported cfg")
	}
	req, err := s.verify(body)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	if d := now.Sub(time.Unix(req.ch.ClientTime, 0)); d > s.cfg.ClientTimeSkew || -d > s.cfg.ClientTimeSkew {
		return nil, fault(drm.ErrClientTimeInvalid, "client time outside the accepted window")
	}
	for _, p := range pols {
		switch {
		case p.Revoked:
			return nil, fault(drm.ErrDevCertRevoked, "device certificate revoked")
		case p.ErrorCode != nil:
			return nil, fault(*p.ErrorCode, "error requested by cfg")
		case p.ClientInfo:
			f := soap.Fault{Code: drm.ErrServerServiceSpecific, Message: "client info", CustomData: clientInfo(req)}
			return nil, &faultError{f}
		}
	}
	var licenses [][]byte
	var issued []issuedRecord
	for _, p := range pols {
		ls, recs, err := s.issue(req, p, now)
		if err != nil {
			return nil, err
		}
		licenses = append(licenses, ls...)
		issued = append(issued, recs...)
	}
	respID := make([]byte, 32)
	if _, err := io.ReadFull(s.cfg.Rand, respID); err != nil {
		return nil, err
	}
	out, err := soap.BuildResponse(&soap.Response{
		Licenses:      licenses,
		Nonce:         req.ch.Nonce,
		ResponseID:    respID,
		SigningChain:  s.cfg.Chain.Bytes(),
		TransactionID: tid(pols),
	}, s.signer)
	if err != nil {
		return nil, err
	}
	s.record(issued)
	return out, nil
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
func (s *Server) issue(req *request, p Policy, now time.Time) ([][]byte, []issuedRecord, error) {
	keys := req.header.KIDs
	if req.header.LicenseRequested != nil && !*req.header.LicenseRequested {
		return nil, nil, nil
	}
	if p.KID != nil {
		var found []pro.KeyInfo
		for _, k := range keys {
			if k.ID == *p.KID {
				found = append(found, k)
			}
		}
		if len(found) == 0 {
			return nil, nil, fault(drm.ErrServerInvalidMessage, "cfg kid is not in the content header")
		}
		keys = found
	}
	if len(keys) == 0 {
		return nil, nil, fault(drm.ErrServerInvalidMessage, "content header names no KID")
	}
	devKey, ok := req.leaf.KeyWithUsage(bcert.KeyUsageEncryptKey)
	if !ok {
		return nil, nil, fault(drm.ErrInvalidDeviceCertificate, "device has no encryption key")
	}
	var out [][]byte
	var recs []issuedRecord
	for _, k := range keys {
		lic, lid, err := s.build(req, p, k, devKey, now)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, lic)
		recs = append(recs, issuedRecord{KID: k.ID.String(), LID: base64.StdEncoding.EncodeToString(lid[:]),
			Device: base64.StdEncoding.EncodeToString(digest(req.leaf)), Persistent: p.Persist, SL: p.SL, Time: now.UTC()})
	}
	return out, recs, nil
}

func digest(c *bcert.Cert) []byte {
	d := c.Basic().Digest
	return d[:]
}

func (s *Server) build(req *request, p Policy, k pro.KeyInfo, devKey ecc.Point, now time.Time) ([]byte, [16]byte, error) {
	var ck [16]byte
	switch {
	case p.ContentKey != nil:
		ck = *p.ContentKey
	default:
		seed := p.KeySeed
		if seed == nil {
			seed = keyseed.TestSeed()
		}
		var err error
		if ck, err = keyseed.Derive(seed, k.ID); err != nil {
			return nil, [16]byte{}, fault(drm.ErrServerInvalidMessage, "bad key seed")
		}
	}
	defer clear(ck[:])
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
		return nil, [16]byte{}, err
	}
	defer clear(ci[:])
	enc, err := ecc.Encrypt(s.cfg.Rand, devKey, m)
	if err != nil {
		return nil, [16]byte{}, err
	}
	t := &xmr.Template{
		MinSecurityLevel:     p.SL,
		IssueDate:            uint32(now.Unix()),
		Play:                 true,
		ContentKey:           xmr.ContentKey{KID: k.ID, KeyType: keyType, CipherType: xmr.CipherECC256, EncKey: enc[:]},
		DeviceKey:            devKey,
		ExpireAfterFirstPlay: p.FirstPlay,
		RealTimeExpiration:   p.RealTime,
	}
	if p.Persist {
		if _, err := io.ReadFull(s.cfg.Rand, t.RightsID[:]); err != nil {
			return nil, [16]byte{}, err
		}
	} else {
		t.RightsID = req.ch.Nonce
		st := uint16(xmr.SettingCannotPersist)
		t.Settings = &st
	}
	if p.Begin != nil || p.End != nil {
		e := &xmr.Expiration{Begin: 0, End: 0xFFFFFFFF}
		if p.Begin != nil {
			e.Begin = uint32(p.Begin.Unix())
		}
		if p.End != nil {
			e.End = uint32(p.End.Unix())
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
	lic, err := t.Build(ci[:])
	if err != nil {
		return nil, [16]byte{}, fmt.Errorf("licsrv: failed to build license: %w", err)
	}
	return lic, t.RightsID, nil
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
}

func (s *Server) record(recs []issuedRecord) {
	if s.cfg.DataDir == "" || len(recs) == 0 {
		return
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, r := range recs {
		_ = enc.Encode(r)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.OpenFile(filepath.Join(s.cfg.DataDir, "issued.jsonl"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		s.cfg.Log.Warn("licsrv: cannot record issued licenses", "err", err)
		return
	}
	defer f.Close()
	_, _ = f.Write(buf.Bytes())
}

// clientInfo renders the decoded client information the test server returns
// for msg:clientinfo (spec/policies-and-outputs.md §6).
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
