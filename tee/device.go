package tee

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/prsim/prsim/clock"
	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/hal"
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
//
// State is kept where the REE can edit it, so [Open] trusts none of it
// beyond what it can check: the key blobs must be the backend's and the
// chain's leaf must name exactly their public keys. The security level is
// the leaf certificate's; SecurityLevel is only a copy for readers of the
// file, and a copy that differs from the certificate is refused.
type State struct {
	Backend       string `json:"backend"`
	SecurityLevel uint32 `json:"security_level"` // copy of the leaf's BASIC level; 0 = absent
	Chain         []byte `json:"chain"`
	SignKey       []byte `json:"sign_key"`
	EncKey        []byte `json:"enc_key"`
	// StorageRoot is the per-device root the sealed TEE state's key is
	// derived from, sealed by the backend (soft: raw, like its keys).
	StorageRoot []byte `json:"storage_root,omitempty"`
	// Counter is the TPM NV index of the state's generation counter; 0
	// when the backend has no NV that outlives the device directory.
	Counter uint32 `json:"counter,omitempty"`
}

// ProvisionRequest carries what local provisioning needs from the model
// (group): its certificate chain and a signer for its ISSUER_DEVICE key.
type ProvisionRequest struct {
	ModelChain    *bcert.Chain
	ModelSigner   bcert.Signer
	SecurityLevel uint32   // 0 = the model's level
	Features      []uint32 // BCert feature IDs for the leaf
	// Version is the PlayReady version ("4.5") recorded in the leaf's
	// SECURITY_VERSION object, so that the certificate, not an editable
	// file, says which client the device is; "" records none.
	Version string
	Rand    io.Reader
	// Platform is the HAL the device is opened with (see [Options]).
	Platform hal.Platform
	// Storage keeps the new device's sealed TEE state (see [Options]).
	Storage Storage
	// Wall is the HAL wall clock (see [Options]).
	Wall clock.Clock
}

// Persona is what the device's leaf certificate says it is: the only
// source the TEE trusts for its level and features.
type Persona struct {
	SecurityLevel uint32   // BASIC security level (150, 2000, 3000)
	Features      []uint32 // FEATURE object, in certificate order
	// Version is the PlayReady version ("4.5") of the leaf's
	// SECURITY_VERSION object; "" when the leaf has none (devices
	// provisioned before prsim recorded it).
	Version string
}

// ErrStateMismatch is matched (errors.Is) by the error [Open] returns when
// the stored state contradicts the device certificate or the keys the
// backend holds; that error is a [*StateMismatchError] saying what differs.
// It carries no DRM code: the device's own files are wrong, not a license.
var ErrStateMismatch = errors.New("tee: device state does not match its certificate")

// StateMismatchError says which stored field contradicts the device
// certificate. The values are numbers or version strings, never key bytes.
type StateMismatchError struct {
	Field  string // the stored field: "security_level", "chain", "version", "roots"
	Stored string // what the stored state says ("" for a Reason-only mismatch)
	Cert   string // what the certificate says
	Reason string // why, when the mismatch is not one value against another
}

func (e *StateMismatchError) Error() string {
	if e.Reason != "" {
		return e.Field + ": " + e.Reason
	}
	return fmt.Sprintf("%s %s does not match the device certificate's %s", e.Field, e.Stored, e.Cert)
}

// Is makes errors.Is(err, ErrStateMismatch) hold.
func (e *StateMismatchError) Is(target error) bool { return target == ErrStateMismatch }

// platformUnspecified is the SECURITY_VERSION platform ID prsim writes
// (docs/formats/bcert.md §10: unspecified/OEM).
const platformUnspecified = 0xFFFFFFFF

// packVersion packs "A.B" (each 0…255) as A.B.0.0 into a u32, the
// security-version layout of docs/formats/bcert.md §5.
func packVersion(v string) (uint32, error) {
	a, b, ok := strings.Cut(v, ".")
	x, err1 := strconv.ParseUint(a, 10, 8)
	y, err2 := strconv.ParseUint(b, 10, 8)
	if !ok || err1 != nil || err2 != nil {
		return 0, errors.New("tee: PlayReady version must be MAJOR.MINOR, e.g. 4.5")
	}
	return uint32(x)<<24 | uint32(y)<<16, nil
}

// unpackVersion is the inverse of packVersion; a value with a build or
// revision part prints all four parts.
func unpackVersion(p uint32) string {
	if p&0xFFFF == 0 {
		return fmt.Sprintf("%d.%d", p>>24, p>>16&0xFF)
	}
	return fmt.Sprintf("%d.%d.%d.%d", p>>24, p>>16&0xFF, p>>8&0xFF, p&0xFF)
}

// Device is one provisioned device's TEE.
type Device struct {
	b       *Backend
	st      State
	persona Persona   // from the leaf certificate, checked in Open
	root    ecc.Point // issuer key of the chain's root-most certificate
	signPub ecc.Point
	encPub  ecc.Point
	signKey keyHandle // the backend's handle on st.SignKey
	encKey  keyHandle // the backend's handle on st.EncKey
	rand    io.Reader
	// platform is the injected HAL: the outputs every decision is for.
	platform hal.Platform

	mu     sync.Mutex
	nonces []nonceEntry // outstanding challenge nonces, oldest first (nonce.go)
	sealed *sealed      // the sealed state's key, storage and generation (state.go)
	rec    records      // the sealed state's plaintext; d.mu guards it

	stateChanged bool // Open added a storage root or counter to st
	recovered    bool // Open finished an interrupted commit

	wall      clock.Clock // the HAL wall clock (the anti-rollback clock's source)
	emu       *emuClock   // the TPM Clock of sim and soft, carried in the state (time.go)
	timeDirty bool        // the anti-rollback clock moved since the last commit
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
	var secVer uint32
	if req.Version != "" {
		v, err := packVersion(req.Version)
		if err != nil {
			return nil, err
		}
		secVer = v
	}
	signPub, signBlob, err := b.ks.generate(keyKindSign)
	if err != nil {
		return nil, err
	}
	encPub, encBlob, err := b.ks.generate(keyKindECDH)
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
	if req.Version != "" {
		tmpl.SecurityVersion = &[2]uint32{secVer, platformUnspecified}
	}
	leaf, err := bcert.NewCert(tmpl, req.ModelSigner)
	if err != nil {
		return nil, fmt.Errorf("tee: failed to build device certificate: %w", err)
	}
	chain := req.ModelChain.Prepend(leaf)
	return OpenWith(b, State{
		Backend:       b.URI(),
		SecurityLevel: sl,
		Chain:         chain.Bytes(),
		SignKey:       signBlob,
		EncKey:        encBlob,
	}, Options{Rand: req.Rand, Platform: req.Platform, Storage: req.Storage, Wall: req.Wall})
}

// Open restores a provisioned device from its state. rand supplies nonces
// (nil = crypto/rand).
//
// The state comes from a file the REE can edit, so Open checks it against
// what the TEE holds: the key blobs' public parts read in this backend; the stored chain
// is well-formed, every certificate's signature verifies up to its
// root-most issuer, no level exceeds its issuer's, and the leaf's SIGN and
// ENCRYPT_KEY keys are exactly the blobs' public keys (so a chain copied
// from another device is refused); and a stored security level other than
// the leaf's is refused. Those failures are [*StateMismatchError]s. The
// device's level and persona are then the leaf's ([Device.Persona]).
// Whether the root-most issuer is one the device trusts is its owner's
// check (ree verifies it against the device's roots).
func Open(b *Backend, st State, nonceRand io.Reader) (*Device, error) {
	return OpenWith(b, st, Options{Rand: nonceRand})
}

// OpenWith is [Open] with the HAL injected: o.Platform is the platform
// every output decision of this device is made for.
func OpenWith(b *Backend, st State, o Options) (*Device, error) {
	nonceRand := o.Rand
	if nonceRand == nil {
		nonceRand = cryptoRand{}
	}
	if st.Backend != b.URI() {
		return nil, errors.New("tee: device state belongs to another backend")
	}
	signKey, err := b.ks.load(keyKindSign, st.SignKey)
	if err != nil {
		return nil, err
	}
	encKey, err := b.ks.load(keyKindECDH, st.EncKey)
	if err != nil {
		return nil, err
	}
	signPub, encPub := signKey.public(), encKey.public()
	chain, err := bcert.ParseChain(st.Chain)
	if err != nil {
		return nil, fmt.Errorf("tee: %w", &StateMismatchError{Field: "chain", Reason: "stored certificate chain is malformed (" + err.Error() + ")"})
	}
	root, err := verifyOwnChain(chain)
	if err != nil {
		return nil, fmt.Errorf("tee: %w", &StateMismatchError{Field: "chain", Reason: "stored certificate chain does not verify (" + err.Error() + ")"})
	}
	leaf := chain.Leaf()
	cs, _ := leaf.KeyWithUsage(bcert.KeyUsageSign) // verifyOwnChain checked both exist
	ce, _ := leaf.KeyWithUsage(bcert.KeyUsageEncryptKey)
	if cs != signPub || ce != encPub {
		return nil, fmt.Errorf("tee: %w", &StateMismatchError{Field: "chain",
			Reason: "the leaf certificate's keys are not the device keys this TEE holds (a chain of another device?)"})
	}
	p := Persona{SecurityLevel: leaf.Basic().SecurityLevel, Features: leaf.Features()}
	if sv, ok := leaf.SecurityVersion(); ok {
		p.Version = unpackVersion(sv[0])
	}
	if st.SecurityLevel != 0 && st.SecurityLevel != p.SecurityLevel {
		return nil, fmt.Errorf("tee: %w", &StateMismatchError{Field: "security_level",
			Stored: strconv.FormatUint(uint64(st.SecurityLevel), 10), Cert: strconv.FormatUint(uint64(p.SecurityLevel), 10)})
	}
	st.SecurityLevel = p.SecurityLevel
	d := &Device{b: b, st: st, persona: p, root: root, signPub: signPub, encPub: encPub,
		signKey: signKey, encKey: encKey, rand: nonceRand, platform: platformOrDefault(o.Platform), wall: o.Wall}
	if d.wall == nil {
		d.wall = clock.System()
	}
	storage := o.Storage
	if storage == nil {
		storage = MemoryStorage()
	}
	if err := d.openState(storage, cryptoRand{}); err != nil {
		return nil, err
	}
	return d, nil
}

// verifyOwnChain checks the chain's signatures and levels up to the key
// that signed its root-most certificate, and the leaf's shape. Expiry is
// not judged (a zero-ish time is passed): the TEE has no trusted clock
// (docs/formats/policies-and-outputs.md §5), and a license server judges
// it at every request.
func verifyOwnChain(c *bcert.Chain) (ecc.Point, error) {
	if len(c.Certs) == 0 {
		return ecc.Point{}, errors.New("chain holds no certificate")
	}
	_, issuer, err := c.Certs[len(c.Certs)-1].SignatureInfo()
	if err != nil {
		return ecc.Point{}, err
	}
	return issuer, c.Verify(bcert.VerifyOptions{Roots: []ecc.Point{issuer}, CurrentTime: time.Unix(1, 0), LeafType: bcert.CertTypeDevice})
}

// State returns a copy of the persistent state.
func (d *Device) State() State {
	s := d.st
	s.Chain = append([]byte(nil), s.Chain...)
	s.SignKey = append([]byte(nil), s.SignKey...)
	s.EncKey = append([]byte(nil), s.EncKey...)
	s.StorageRoot = append([]byte(nil), s.StorageRoot...)
	return s
}

// Chain returns the device certificate chain (CHAI bytes, leaf first).
func (d *Device) Chain() []byte { return append([]byte(nil), d.st.Chain...) }

// SecurityLevel returns the device's level (150, 2000 or 3000): the leaf
// certificate's BASIC security level.
func (d *Device) SecurityLevel() uint32 { return d.persona.SecurityLevel }

// Persona returns what the leaf certificate says the device is.
func (d *Device) Persona() Persona {
	p := d.persona
	p.Features = slices.Clone(p.Features)
	return p
}

// RootIssuer returns the key that signed the chain's root-most
// certificate: the trust anchor the chain verifies to.
func (d *Device) RootIssuer() ecc.Point { return d.root }

// Public returns the signing public key (leaf key with usage SIGN).
func (d *Device) Public() ecc.Point { return d.signPub }

// EncryptionKey returns the public key licenses are bound to (ENCRYPT_KEY).
func (d *Device) EncryptionKey() ecc.Point { return d.encPub }

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

// Format prints the backend and level only, whatever the verb: fmt would
// otherwise print the unexported fields raw (a State's Format is not
// called for them), and they hold the soft backend's private scalars, the
// storage root and the sealed records' SecureStop2 keys.
func (d *Device) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "tee.Device{backend: %s, security_level: %d}", d.st.Backend, d.persona.SecurityLevel)
}

// LogValue implements slog.LogValuer with the same redaction.
func (d *Device) LogValue() slog.Value {
	return slog.GroupValue(slog.String("backend", d.st.Backend), slog.Uint64("security_level", uint64(d.persona.SecurityLevel)))
}

var (
	_ fmt.Formatter  = (*Device)(nil)
	_ slog.LogValuer = (*Device)(nil)
)

// Format prints the backend and level only: for the soft backend the key
// fields are private scalars, which must not reach logs or errors.
func (s State) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "tee.State{backend: %s, security_level: %d}", s.Backend, s.SecurityLevel)
}
