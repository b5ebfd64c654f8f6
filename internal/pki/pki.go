// Package pki generates, saves and loads prsim's test PKI: a self-signed
// root, model (group) issuers for SL150, SL2000 and SL3000, a license-server
// certificate and a CRL signer (docs/architecture.md, docs/formats/bcert.md §11–§12,
// docs/formats/revocation.md §2–§3). Every certificate is a BCert ([bcert]); no
// Microsoft key or certificate is involved.
//
// # Hierarchy
//
//	root      ISSUER, SL3000, self-signed; key usages ISSUER_ALL, ISSUER_DEVICE, ISSUER_CRL, ISSUER_SERVER
//	├─ model  ISSUER, SL = 150 / 2000 / 3000; MANUFACTURER "prsim" / "prsim-sl<SL>" / "<SL>"; key usage ISSUER_DEVICE
//	├─ server SERVER, SL3000; key 1 SIGN_RESPONSE, key 2 ENCRYPT_KEY
//	└─ CRL    CRL_SIGNER, SL3000; key usage SIGN_CRL
//
// The root key lists the specific issuer usages besides ISSUER_ALL so that
// verifiers which look for one usage (playready-rs picks ISSUER_DEVICE,
// docs/formats/bcert.md §11) accept the chains too. Certificates never expire
// ([bcert.ExpirationNever]): a committed test PKI must not start failing
// one day; tests of expiry build their own certificates.
//
// A device leaf is issued by its TEE with a model key (docs/formats/bcert.md §12);
// [Issuer.Issue] does the same in software.
//
// # Directory layout
//
// [PKI.Save] writes, and [Load] reads, one directory (mode 0700):
//
//	root.pub            the trust anchor: 64 raw bytes X‖Y
//	root.key            root private key, PKCS#8 PEM ("PRIVATE KEY"), mode 0600
//	root.chai           CHAI chain holding the self-signed root certificate
//	model-<SL>.key      model private key (one pair per security level)
//	model-<SL>.chai     chain model → root
//	server-sign.key     server SIGN_RESPONSE private key
//	server-enc.key      server ENCRYPT_KEY private key
//	server.chai         chain server → root
//	crl-signer.key      CRL-signer private key
//	crl-signer.chai     chain CRL signer → root
//	time-server.key     License Server Time signing key (optional: a PKI made
//	                    before it existed has none)
//	time-server.chai    chain SECURETIMESERVER → root
//	revocation.json     the authority's revocation state: RIV, issue time,
//	                    runtime CRL version and entries (base64 BASIC
//	                    digests), application CRL version
//	revinfo2.bin        RevInfo v2 blob naming the CRL versions
//	runtime.crl         PlayReady runtime CRL blob
//	app.crl             PlayReady application CRL blob
//
// The last four are written by PKI.InitLists (prsim pki init) and Revoke,
// the blobs signed by the CRL signer (docs/formats/revocation.md); Lists
// creates them in a PKI made before they existed. Chains are raw CHAI bytes (docs/formats/bcert.md §2) and mode 0644. Each file is
// written to a temporary name, synced and renamed, so a crash leaves either
// the old or the new file. The names server-time.key / server-time.chai are
// reserved for a secure-time (License Server Time) key.
//
// # Security considerations
//
// These keys are test keys, but a license server trusting root.pub will
// accept any device the model keys certify, so the directory must be kept
// secret from whoever should not mint devices. Errors name files, never key
// bytes. Keys drawn by [Generate] and [GenerateKey] come from the given
// reader (crypto/rand in production); a seeded reader gives a reproducible
// PKI, which is what tests want and production must avoid.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/wire/bcert"
	"github.com/prsim/prsim/wire/soap"
)

// Security levels of the model issuers and of the root.
const (
	RootSecurityLevel = 3000
	ServerWarningDays = 30
)

// modelLevels are the security levels Generate makes model issuers for.
var modelLevels = [...]uint32{150, 2000, 3000}

// Issuer is a certificate chain whose leaf key signs child certificates.
// Key must be kept secret.
type Issuer struct {
	Chain *bcert.Chain
	Key   *ecdsa.PrivateKey
}

// Signer returns a deterministic (RFC 6979) signer over the issuer key.
func (i *Issuer) Signer() bcert.Signer { return KeySigner{Key: i.Key} }

// Issue signs a certificate from t with the issuer key and returns it
// prepended to the issuer's chain (docs/formats/bcert.md §12 steps 3–5).
func (i *Issuer) Issue(t *bcert.Template) (*bcert.Chain, error) {
	c, err := bcert.NewCert(t, i.Signer())
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	return i.Chain.Prepend(c), nil
}

// Server is the reference license server's certificate: leaf type SERVER,
// key 1 with usage SIGN_RESPONSE (signs responses), key 2 with ENCRYPT_KEY
// (challenges are encrypted to it). The secure-time key (License Server
// Time) is a separate leaf, [PKI.TimeServer]. The keys must be kept secret.
type Server struct {
	Chain           *bcert.Chain
	SignKey, EncKey *ecdsa.PrivateKey
}

// PKI is the whole test hierarchy. Root is the trust anchor to configure in
// [bcert.VerifyOptions.Roots].
type PKI struct {
	Root       ecc.Point
	RootIssuer *Issuer
	Models     map[uint32]*Issuer // by security level: 150, 2000, 3000
	Server     *Server
	CRLSigner  *Issuer // leaf CRL_SIGNER with a SIGN_CRL key
	// TimeServer is the leaf SECURETIMESERVER whose key (usage
	// [KeyUsageSignSecureTime]) signs License Server Time. It is nil in a
	// PKI made before it existed: such a PKI still loads, and License
	// Server Time is then unavailable.
	TimeServer *Issuer
}

// KeyUsageSignSecureTime is the prsim-defined BCert key usage of the
// time-server key (docs/protocol.md §4); see [soap.KeyUsageSignSecureTime].
const KeyUsageSignSecureTime = soap.KeyUsageSignSecureTime

// Model returns the model issuer for security level sl.
func (p *PKI) Model(sl uint32) (*Issuer, error) {
	m, ok := p.Models[sl]
	if !ok || m == nil {
		return nil, fmt.Errorf("pki: no model issuer for security level %d", sl)
	}
	return m, nil
}

// GenerateKey draws a P-256 key from rand by rejection sampling of the raw
// scalar. Unlike ecdsa.GenerateKey, which since Go 1.26 ignores its reader,
// the result depends only on rand, so a seeded reader reproduces it.
func GenerateKey(rand io.Reader) (*ecdsa.PrivateKey, error) {
	var d [ecc.ScalarSize]byte
	defer clear(d[:])
	for range 64 { // a uniform draw is rejected with probability < 2^-32
		if _, err := io.ReadFull(rand, d[:]); err != nil {
			return nil, fmt.Errorf("pki: failed to read randomness: %w", err)
		}
		if k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:]); err == nil {
			return k, nil
		}
	}
	return nil, errors.New("pki: randomness source keeps producing invalid scalars")
}

// KeySigner implements [bcert.Signer] with a software key. With a nil Rand
// it signs deterministically (RFC 6979), so identical inputs give identical
// certificates; otherwise it uses ecc.Sign, which since Go 1.26 draws its
// nonce from the system generator whatever Rand is (GODEBUG
// cryptocustomrand). Key must be kept secret.
type KeySigner struct {
	Key  *ecdsa.PrivateKey
	Rand io.Reader
}

var _ bcert.Signer = KeySigner{}

// Public returns the key's X‖Y, or the zero point for a missing or
// non-P-256 key (which bcert.NewCert rejects).
func (s KeySigner) Public() ecc.Point {
	if s.Key == nil {
		return ecc.Point{}
	}
	p, err := ecc.PublicKey(&s.Key.PublicKey)
	if err != nil {
		return ecc.Point{}
	}
	return p
}

// SignDigest signs a SHA-256 digest, returning raw r‖s.
func (s KeySigner) SignDigest(digest []byte) ([ecc.SignatureSize]byte, error) {
	var out [ecc.SignatureSize]byte
	if s.Key == nil {
		return out, errors.New("pki: signer has no key")
	}
	if s.Rand != nil {
		return ecc.Sign(s.Rand, s.Key, digest)
	}
	der, err := s.Key.Sign(nil, digest, crypto.SHA256)
	if err != nil {
		return out, fmt.Errorf("pki: signing failed: %v", err)
	}
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) != 0 ||
		rs.R.BitLen() > 256 || rs.S.BitLen() > 256 {
		return out, errors.New("pki: malformed signature from crypto/ecdsa")
	}
	rs.R.FillBytes(out[:32])
	rs.S.FillBytes(out[32:])
	return out, nil
}

func randomID(rand io.Reader) ([16]byte, error) {
	var id [16]byte
	if _, err := io.ReadFull(rand, id[:]); err != nil {
		return id, fmt.Errorf("pki: failed to read randomness: %w", err)
	}
	return id, nil
}

// gen draws what a certificate needs from rand and builds it.
type gen struct {
	rand io.Reader
	err  error
}

func (g *gen) key() *ecdsa.PrivateKey {
	if g.err != nil {
		return nil
	}
	k, err := GenerateKey(g.rand)
	g.err = err
	return k
}

func (g *gen) pub(k *ecdsa.PrivateKey) ecc.Point {
	if g.err != nil {
		return ecc.Point{}
	}
	return KeySigner{Key: k}.Public()
}

// model issues a model (group) certificate named name for devices of level
// sl under root, with a fresh key.
func (g *gen) model(sl uint32, name string, root *Issuer) *Issuer {
	k := g.key()
	c := g.cert(&bcert.Template{
		SecurityLevel: sl, Type: bcert.CertTypeIssuer,
		Keys:         []bcert.Key{{Public: g.pub(k), Usages: []uint32{bcert.KeyUsageIssuerDevice}}},
		Manufacturer: manufacturer(name, fmt.Sprint(sl)),
	}, root.Key)
	return &Issuer{Chain: root.Chain.Prepend(c), Key: k}
}

func (g *gen) cert(t *bcert.Template, issuer *ecdsa.PrivateKey) *bcert.Cert {
	if g.err != nil {
		return nil
	}
	if t.CertID, g.err = randomID(g.rand); g.err != nil {
		return nil
	}
	if t.ClientID, g.err = randomID(g.rand); g.err != nil {
		return nil
	}
	t.Expiration = bcert.ExpirationNever
	c, err := bcert.NewCert(t, KeySigner{Key: issuer})
	if err != nil {
		g.err = fmt.Errorf("pki: %w", err)
	}
	return c
}

func manufacturer(model, number string) *bcert.Manufacturer {
	return &bcert.Manufacturer{Name: "prsim", Model: model, Number: number}
}

// Generate makes a fresh test PKI, drawing every key and certificate ID
// from rand (signatures are deterministic, RFC 6979). It checks every chain
// against the new root at time now before returning.
func Generate(rand io.Reader, now time.Time) (*PKI, error) {
	g := &gen{rand: rand}

	rootKey := g.key()
	rootPub := g.pub(rootKey)
	root := g.cert(&bcert.Template{
		SecurityLevel: RootSecurityLevel, Type: bcert.CertTypeIssuer,
		Keys: []bcert.Key{{Public: rootPub, Usages: []uint32{
			bcert.KeyUsageIssuerAll, bcert.KeyUsageIssuerDevice, bcert.KeyUsageIssuerCRL, bcert.KeyUsageIssuerServer,
		}}},
		Manufacturer: manufacturer("prsim-root", fmt.Sprint(RootSecurityLevel)),
	}, rootKey) // self-signed
	if g.err != nil {
		return nil, g.err
	}
	rootChain := bcert.NewChain(root)
	p := &PKI{Root: rootPub, RootIssuer: &Issuer{Chain: rootChain, Key: rootKey}, Models: make(map[uint32]*Issuer)}

	for _, sl := range modelLevels {
		p.Models[sl] = g.model(sl, fmt.Sprintf("prsim-sl%d", sl), p.RootIssuer)
	}

	signKey, encKey := g.key(), g.key()
	days := uint32(ServerWarningDays)
	srv := g.cert(&bcert.Template{
		SecurityLevel: RootSecurityLevel, Type: bcert.CertTypeServer, Server: &days,
		DigestKey: g.pub(signKey),
		Keys: []bcert.Key{
			{Public: g.pub(signKey), Usages: []uint32{bcert.KeyUsageSignResponse}},
			{Public: g.pub(encKey), Usages: []uint32{bcert.KeyUsageEncryptKey}},
		},
		Manufacturer: manufacturer("prsim-server", "1"),
	}, rootKey)
	p.Server = &Server{Chain: rootChain.Prepend(srv), SignKey: signKey, EncKey: encKey}

	crlKey := g.key()
	crl := g.cert(&bcert.Template{
		SecurityLevel: RootSecurityLevel, Type: bcert.CertTypeCRLSigner,
		Keys:         []bcert.Key{{Public: g.pub(crlKey), Usages: []uint32{bcert.KeyUsageSignCRL}}},
		Manufacturer: manufacturer("prsim-crl-signer", "1"),
	}, rootKey)
	p.CRLSigner = &Issuer{Chain: rootChain.Prepend(crl), Key: crlKey}

	// Drawn last, so that every earlier key and ID stays what a seeded
	// reader gave before the time server existed.
	timeKey := g.key()
	ts := g.cert(&bcert.Template{
		SecurityLevel: RootSecurityLevel, Type: bcert.CertTypeSecureTimeServer,
		Keys:         []bcert.Key{{Public: g.pub(timeKey), Usages: []uint32{KeyUsageSignSecureTime}}},
		Manufacturer: manufacturer("prsim-time-server", "1"),
	}, rootKey)
	p.TimeServer = &Issuer{Chain: rootChain.Prepend(ts), Key: timeKey}

	if g.err != nil {
		return nil, g.err
	}
	if err := p.Verify(now); err != nil {
		return nil, err
	}
	return p, nil
}

// Verify checks every chain against Root at time now (zero = time.Now()),
// each leaf's type, and that every private key matches its certificate.
func (p *PKI) Verify(now time.Time) error {
	if p.RootIssuer == nil || p.Server == nil || p.CRLSigner == nil || len(p.Models) == 0 {
		return errors.New("pki: incomplete PKI")
	}
	type item struct {
		name     string
		chain    *bcert.Chain
		leafType uint32
		keys     map[uint32]*ecdsa.PrivateKey // usage -> private key
	}
	items := []item{
		{"root", p.RootIssuer.Chain, bcert.CertTypeIssuer, map[uint32]*ecdsa.PrivateKey{bcert.KeyUsageIssuerAll: p.RootIssuer.Key}},
		{"server", p.Server.Chain, bcert.CertTypeServer, map[uint32]*ecdsa.PrivateKey{
			bcert.KeyUsageSignResponse: p.Server.SignKey, bcert.KeyUsageEncryptKey: p.Server.EncKey}},
		{"crl-signer", p.CRLSigner.Chain, bcert.CertTypeCRLSigner, map[uint32]*ecdsa.PrivateKey{bcert.KeyUsageSignCRL: p.CRLSigner.Key}},
	}
	if p.TimeServer != nil {
		items = append(items, item{"time-server", p.TimeServer.Chain, bcert.CertTypeSecureTimeServer,
			map[uint32]*ecdsa.PrivateKey{KeyUsageSignSecureTime: p.TimeServer.Key}})
	}
	for sl, m := range p.Models {
		if m == nil {
			return fmt.Errorf("pki: model %d missing", sl)
		}
		items = append(items, item{fmt.Sprintf("model-%d", sl), m.Chain, bcert.CertTypeIssuer,
			map[uint32]*ecdsa.PrivateKey{bcert.KeyUsageIssuerDevice: m.Key}})
	}
	for _, it := range items {
		if it.chain == nil {
			return fmt.Errorf("pki: %s: chain missing", it.name)
		}
		opts := bcert.VerifyOptions{Roots: []ecc.Point{p.Root}, CurrentTime: now, LeafType: it.leafType}
		if err := it.chain.Verify(opts); err != nil {
			return fmt.Errorf("pki: %s: %w", it.name, err)
		}
		for usage, k := range it.keys {
			want, ok := it.chain.Leaf().KeyWithUsage(usage)
			if !ok || k == nil || (KeySigner{Key: k}).Public() != want {
				return fmt.Errorf("pki: %s: private key does not match the certificate", it.name)
			}
		}
	}
	if _, issuer, err := p.RootIssuer.Chain.Leaf().SignatureInfo(); err != nil || issuer != p.Root {
		return errors.New("pki: root certificate is not self-signed by the root key")
	}
	for sl, m := range p.Models {
		if m.Chain.Leaf().Basic().SecurityLevel != sl {
			return fmt.Errorf("pki: model-%d: certificate has another security level", sl)
		}
	}
	return nil
}
