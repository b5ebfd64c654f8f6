package tee

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/hal"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/policy"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/pro"
	"github.com/prsim/prsim/wire/xmr"
)

// Key is a bound content key: a decryptor handle. Its key bytes never leave
// the package; Close wipes them.
type Key struct {
	kid        kid.ID
	keyType    uint16
	minSL      uint16
	persistent bool
	rightsID   [16]byte
	license    *xmr.License
	persona    policy.Persona // the device's, from its leaf certificate
	platform   hal.Platform   // the device's injected HAL

	d         *Device
	timeBased bool // the license has a time-based policy (policy.TimeBased)
	realtime  bool // REAL_TIME_EXPIRATION: every sample checks the deadline
	ss        ssInfo

	mu        sync.Mutex
	firstPlay time.Time       // non-persistent first play (persistent: in the sealed state)
	ssSession *[16]byte       // the open secure-stop session
	ssUpdated int64           // its update time last committed (Unix s)
	decision  policy.Decision // the last Enable's
	decided   bool
	released  bool // the last decision allows decryption
	ck        [16]byte
	block     cipher.Block
	closed    bool
}

// Bind verifies an XMR license for this device and unwraps its content key
// (DRM_TEE_LICPREP_PackageKey). Checks, in order: the license parses
// (unknown must-understand objects reject it); it is a simple ECC-256 license
// for an AES-CTR or AES-CBC key; its ECC device key is this device's
// encryption key (else DRM_E_LICENSEMISMATCH); the device certificate's
// security level meets its minimum (DRM_E_DEVICE_SECURITY_LEVEL_TOO_LOW); every
// object passes the fail-closed table ([Rules]: time-based policy without a
// trusted clock gives DRM_E_NO_CLK_SUPPORTED, an unknown must-understand
// restriction DRM_E_EXTENDED_RESTRICTION_NOT_UNDERSTOOD, …); a non-persistent
// license carries an outstanding nonce as rights ID, under which no license
// for its KID has bound yet (DRM_E_LICENSEMISMATCH); and its CMAC verifies
// with the unwrapped CI (DRM_E_LIC_SIGNATURE_FAILURE). Only then is CK
// accepted, and a non-persistent license's (nonce, KID) is consumed: the same
// response replayed does not bind again.
func (d *Device) Bind(license []byte) (*Key, error) {
	lic, err := xmr.Parse(license)
	if err != nil {
		return nil, fmt.Errorf("tee: %w", err)
	}
	ck, err := lic.ContentKey()
	if err != nil {
		return nil, fmt.Errorf("tee: %w", err)
	}
	if ck.CipherType != xmr.CipherECC256 || len(ck.EncKey) != ecc.CiphertextSize {
		return nil, fmt.Errorf("tee: content key is not ECC-256 bound: %w", drm.ErrInvalidLicense)
	}
	if ck.KeyType != xmr.KeyTypeAESCTR && ck.KeyType != xmr.KeyTypeAESCBC {
		return nil, fmt.Errorf("tee: unsupported content key type %d: %w", ck.KeyType, drm.ErrInvalidLicense)
	}
	dk, ok := lic.DeviceKey()
	if !ok || dk != d.encPub {
		return nil, fmt.Errorf("tee: license is bound to another device key: %w", drm.ErrLicenseMismatch)
	}
	// The level compared is the leaf certificate's, checked in Open, never
	// a value from the REE's files.
	minSL := lic.MinSecurityLevel()
	if uint32(minSL) > d.persona.SecurityLevel {
		return nil, fmt.Errorf("tee: license minimum security level %d is above the device's %d: %w", minSL, d.persona.SecurityLevel, drm.ErrDeviceSecurityLevelTooLow)
	}
	// The fail-closed table (policy_table.go): every object is enforced,
	// informational, or refuses the bind with its row's code.
	if err := checkRules(lic, d.persona, lic.Policy().Unknown); err != nil {
		return nil, err
	}
	// The revocation information the license needs must be held.
	if err := d.checkRIV(lic.Policy().RIV); err != nil {
		return nil, err
	}
	// A non-persistent license needs its challenge's nonce outstanding and
	// unused for this KID; it is checked before the costly unwrap and
	// consumed after the CMAC verifies (nonce.go).
	if !lic.Persistent() {
		if err := d.checkNonce(lic.RightsID, ck.KID); err != nil {
			return nil, err
		}
	}
	ct := ecc.Ciphertext(ck.EncKey)
	c1, _ := ct.Split()
	z, err := d.encKey.zgen(c1)
	if err != nil {
		if kerr := keysLost(err); kerr != nil {
			return nil, kerr
		}
		return nil, fmt.Errorf("tee: content key unwrap failed: %w", drm.ErrInvalidLicense)
	}
	m, err := ecc.Finish(ct, z)
	if err != nil {
		return nil, fmt.Errorf("tee: content key unwrap failed: %w", drm.ErrInvalidLicense)
	}
	x := m.X()
	defer clear(x[:])
	if err := lic.VerifySignature(x[:16]); err != nil {
		return nil, fmt.Errorf("tee: %w", err)
	}
	// Time policy and nonce are judged after the MAC, so a forged license
	// can neither fill the TEE's records nor use a nonce up; their changes
	// are committed together, before the key is released.
	ss, err := secureStopFor(lic, d.persona, x[:16])
	if err != nil {
		return nil, err
	}
	timeBased := policy.TimeBased(lic)
	if err := d.admit(lic, ck.KID, timeBased); err != nil {
		return nil, err
	}
	k := &Key{
		d:          d,
		timeBased:  timeBased,
		realtime:   lic.Policy().RealTimeExpiration,
		ss:         ss,
		kid:        ck.KID,
		keyType:    ck.KeyType,
		minSL:      minSL,
		persistent: lic.Persistent(),
		rightsID:   lic.RightsID,
		license:    lic,
		persona:    d.persona.policyPersona(),
		platform:   d.Platform(),
	}
	copy(k.ck[:], x[16:])
	if k.block, err = aes.NewCipher(k.ck[:]); err != nil {
		return nil, err
	}
	return k, nil
}

// KID returns the key identifier.
func (k *Key) KID() kid.ID { return k.kid }

// CBC reports whether the key is an AES-CBC (cbcs) key; otherwise AES-CTR.
func (k *Key) CBC() bool { return k.keyType == xmr.KeyTypeAESCBC }

// MinSecurityLevel is the license's minimum security level.
func (k *Key) MinSecurityLevel() uint16 { return k.minSL }

// Persistent reports whether the license may be stored.
func (k *Key) Persistent() bool { return k.persistent }

// RightsID returns the license ID (XMR header bytes 8–23).
func (k *Key) RightsID() [16]byte { return k.rightsID }

// License returns the parsed license (policy view; holds no key bytes in the clear).
func (k *Key) License() *xmr.License { return k.license }

// Close wipes the content key. Further decryption fails. A key with an
// open secure-stop session records the stop in the same step (playback
// stopped: docs/protocol.md §11).
func (k *Key) Close() error {
	if k.d != nil && k.ss.version != 0 {
		return k.d.stopSession(k)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.wipeLocked()
	return nil
}

// wipeLocked clears the key bytes. k.mu is held.
func (k *Key) wipeLocked() {
	clear(k.ck[:])
	clear(k.ss.key[:])
	k.block = nil
	k.closed, k.released = true, false
}

// Format prints only the KID, whatever the verb: key bytes must not reach
// logs or errors.
func (k *Key) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "tee.Key{kid: %s}", k.kid)
}

// LogValue implements slog.LogValuer with the same redaction.
func (k *Key) LogValue() slog.Value {
	return slog.GroupValue(slog.String("kid", k.kid.String()))
}

var _ slog.LogValuer = (*Key)(nil)
var _ fmt.Formatter = (*Key)(nil)

// VerifyChecksum checks the content key against a WRMHEADER CHECKSUM for
// this KID (PlayReady Header spec §5; algID "AESCTR" or "COCKTAIL"): a
// mismatch means the license carries another key than the content was
// packaged with. An empty checksum (AESCBC keys have none) passes.
func (k *Key) VerifyChecksum(algID string, checksum []byte) error {
	if len(checksum) == 0 {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return errClosed
	}
	sum, err := pro.Checksum(algID, k.kid, k.ck[:])
	if err != nil || subtle.ConstantTimeCompare(sum, checksum) != 1 {
		return fmt.Errorf("tee: content key does not match the header checksum for %s: %w", k.kid, drm.ErrLicenseMismatch)
	}
	return nil
}
