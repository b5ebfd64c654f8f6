package tee

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/google/go-tpm/tpm2"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/wire/bcert"
)

// Leaf DEVICE object values written by reimplementations (docs/formats/bcert.md §12).
const (
	maxLicenseSize = 10240
	maxHeaderSize  = 15360
	maxChainDepth  = 2
	// MaxNonces bounds outstanding challenge nonces, as the RDK
	// OCDM-PlayReady integration does (docs/formats/soap.md §8).
	MaxNonces = 100
)

// State is what a device persists between processes. The key fields are
// backend-wrapped blobs (TPM2B_PUBLIC‖TPM2B_PRIVATE under the SRK), or for
// the soft backend raw private scalars: store State with file mode 0600.
type State struct {
	Backend       string `json:"backend"`
	SecurityLevel uint32 `json:"security_level"`
	Chain         []byte `json:"chain"`
	SignKey       []byte `json:"sign_key"`
	EncKey        []byte `json:"enc_key"`
}

// ProvisionRequest carries what local provisioning needs from the model
// (group): its certificate chain and a signer for its ISSUER_DEVICE key.
type ProvisionRequest struct {
	ModelChain    *bcert.Chain
	ModelSigner   bcert.Signer
	SecurityLevel uint32   // 0 = the model's level
	Features      []uint32 // BCert feature IDs for the leaf
	Rand          io.Reader
}

// Device is one provisioned device's TEE.
type Device struct {
	b       *Backend
	st      State
	signPub ecc.Point
	encPub  ecc.Point
	rand    io.Reader
	// softSign is the parsed signing key of a soft device, kept so that a
	// signature does not re-derive the public key each time.
	softSign *ecdsa.PrivateKey

	mu     sync.Mutex
	nonces [][16]byte // outstanding challenge nonces, oldest first
}

// Provision generates the device keys in b and builds the device leaf
// certificate signed by the model key (DRM_TEE_LPROV_GenerateDeviceKeys).
func Provision(b *Backend, req ProvisionRequest) (*Device, error) {
	if req.ModelChain == nil || len(req.ModelChain.Certs) == 0 || req.ModelSigner == nil {
		return nil, errors.New("tee: provisioning needs a model chain and signer")
	}
	model := req.ModelChain.Certs[0]
	sl := req.SecurityLevel
	if sl == 0 {
		sl = model.Basic().SecurityLevel
	}
	if sl > model.Basic().SecurityLevel {
		return nil, fmt.Errorf("tee: device level %d above model level %d: %w", sl, model.Basic().SecurityLevel, drm.ErrBCertInvalidSecurityLevel)
	}
	signPub, signBlob, err := b.generate(keyKindSign)
	if err != nil {
		return nil, err
	}
	encPub, encBlob, err := b.generate(keyKindECDH)
	if err != nil {
		return nil, err
	}
	var certID, clientID [16]byte
	if _, err := io.ReadFull(req.Rand, certID[:]); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(req.Rand, clientID[:]); err != nil {
		return nil, err
	}
	tmpl := &bcert.Template{
		CertID:        certID,
		ClientID:      clientID,
		SecurityLevel: sl,
		Type:          bcert.CertTypeDevice,
		Expiration:    0xFFFFFFFF,
		DigestKey:     signPub,
		Device:        &bcert.DeviceInfo{MaxLicenseSize: maxLicenseSize, MaxHeaderSize: maxHeaderSize, MaxChainDepth: maxChainDepth},
		Features:      req.Features,
		Keys: []bcert.Key{
			{Type: 1, Length: 512, Public: signPub, Usages: []uint32{bcert.KeyUsageSign}},
			{Type: 1, Length: 512, Public: encPub, Usages: []uint32{bcert.KeyUsageEncryptKey}},
		},
	}
	if m, ok := model.Manufacturer(); ok {
		tmpl.Manufacturer = m
	}
	leaf, err := bcert.NewCert(tmpl, req.ModelSigner)
	if err != nil {
		return nil, fmt.Errorf("tee: failed to build device certificate: %w", err)
	}
	chain := req.ModelChain.Prepend(leaf)
	return Open(b, State{
		Backend:       b.URI(),
		SecurityLevel: sl,
		Chain:         chain.Bytes(),
		SignKey:       signBlob,
		EncKey:        encBlob,
	}, req.Rand)
}

// Open restores a provisioned device from its state. rand supplies nonces
// (nil = crypto/rand).
func Open(b *Backend, st State, nonceRand io.Reader) (*Device, error) {
	if nonceRand == nil {
		nonceRand = cryptoRand{}
	}
	if st.Backend != b.URI() {
		return nil, errors.New("tee: device state belongs to another backend")
	}
	signPub, err := b.public(st.SignKey)
	if err != nil {
		return nil, err
	}
	encPub, err := b.public(st.EncKey)
	if err != nil {
		return nil, err
	}
	chain, err := bcert.ParseChain(st.Chain)
	if err != nil {
		return nil, fmt.Errorf("tee: stored certificate chain: %w", err)
	}
	leaf := chain.Leaf()
	cs, ok1 := leaf.KeyWithUsage(bcert.KeyUsageSign)
	ce, ok2 := leaf.KeyWithUsage(bcert.KeyUsageEncryptKey)
	if !ok1 || !ok2 || cs != signPub || ce != encPub {
		return nil, fmt.Errorf("tee: certificate keys do not match the key blobs: %w", drm.ErrInvalidDeviceCertificate)
	}
	d := &Device{b: b, st: st, signPub: signPub, encPub: encPub, rand: nonceRand}
	if !b.IsTPM() {
		if d.softSign, err = softKey(st.SignKey); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// State returns a copy of the persistent state.
func (d *Device) State() State {
	s := d.st
	s.Chain = append([]byte(nil), s.Chain...)
	s.SignKey = append([]byte(nil), s.SignKey...)
	s.EncKey = append([]byte(nil), s.EncKey...)
	return s
}

// Chain returns the device certificate chain (CHAI bytes, leaf first).
func (d *Device) Chain() []byte { return append([]byte(nil), d.st.Chain...) }

// SecurityLevel returns the device's level (150, 2000 or 3000).
func (d *Device) SecurityLevel() uint32 { return d.st.SecurityLevel }

// Public returns the signing public key (leaf key with usage SIGN).
func (d *Device) Public() ecc.Point { return d.signPub }

// EncryptionKey returns the public key licenses are bound to (ENCRYPT_KEY).
func (d *Device) EncryptionKey() ecc.Point { return d.encPub }

// SignDigest signs a SHA-256 digest with the device signing key; the result
// is raw r‖s. It makes Device a soap.Signer and bcert.Signer.
func (d *Device) SignDigest(digest []byte) ([64]byte, error) {
	if len(digest) != 32 {
		return [64]byte{}, errors.New("tee: digest must be 32 bytes")
	}
	if d.softSign != nil { // soft backend: the key was parsed once, in Open
		return ecc.Sign(rand.Reader, d.softSign, digest)
	}
	sig, err := d.b.tpm.Sign(d.st.SignKey, digest)
	if kerr := keysLost(err); kerr != nil {
		return sig, kerr
	}
	return sig, err
}

// ErrKeysLost is returned when the TPM refuses to load a device's key
// blobs: they were wrapped under another storage root key, so the device
// was made on another TPM (or with another sim seed), or the TPM was
// cleared since. The keys are gone; the device must be provisioned again.
var ErrKeysLost = errors.New("tee: this device's keys were made on another TPM, or the TPM was cleared")

// keysLost maps a TPM load failure of a key blob to [ErrKeysLost]: a blob
// wrapped under another SRK fails the TPM's integrity check on Load.
func keysLost(err error) error {
	if err == nil || !errors.Is(err, tpm2.TPMRCIntegrity) {
		return nil
	}
	return fmt.Errorf("%w (%v)", ErrKeysLost, err)
}

// NewNonce draws a challenge nonce and remembers it; a non-persistent license
// binds only with the rights ID of an outstanding nonce (docs/formats/soap.md §8).
func (d *Device) NewNonce() ([16]byte, error) {
	var n [16]byte
	if _, err := io.ReadFull(d.rand, n[:]); err != nil {
		return n, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.nonces) == MaxNonces {
		d.nonces = d.nonces[1:]
	}
	d.nonces = append(d.nonces, n)
	return n, nil
}

// ForgetNonce ends a nonce's life once its response has been processed, so
// the same response cannot be replayed.
func (d *Device) ForgetNonce(n [16]byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, v := range d.nonces {
		if v == n {
			d.nonces = append(d.nonces[:i], d.nonces[i+1:]...)
			return
		}
	}
}

func (d *Device) nonceOutstanding(n [16]byte) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	found := 0
	for _, v := range d.nonces {
		found |= subtle.ConstantTimeCompare(v[:], n[:])
	}
	return found == 1
}

func softKey(blob []byte) (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), blob)
	if err != nil {
		return nil, errors.New("tee: malformed key blob")
	}
	return k, nil
}

// Format prints the backend and level only: for the soft backend the key
// fields are private scalars, which must not reach logs or errors.
func (s State) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "tee.State{backend: %s, security_level: %d}", s.Backend, s.SecurityLevel)
}
