package bcert

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/prsim/prsim/internal/ecc"
)

// Signer signs a certificate: ECDSA-P256 over a SHA-256 digest, returning raw
// r‖s (docs/formats/bcert.md §11). A TEE backend implements it with the model key in
// hardware; internal/pki has a software one.
type Signer interface {
	Public() ecc.Point
	SignDigest(digest []byte) ([ecc.SignatureSize]byte, error)
}

// Template describes a certificate for [NewCert].
type Template struct {
	CertID, ClientID [16]byte
	SecurityLevel    uint32
	Type             uint32 // CertType*
	Expiration       uint32 // Unix seconds; 0 or ExpirationNever = never

	// DigestKey is hashed into BASIC's digest: the signing key for a leaf,
	// the issuing key for an issuer (§6). Zero means Keys[0].Public.
	DigestKey ecc.Point

	Device          *DeviceInfo // DEVICE object (device leaves)
	Server          *uint32     // SERVER object: warning days (server certificates)
	Features        []uint32    // at most MaxFeatures
	Keys            []Key       // at least one; Type and Length default to ECC-256 / 512 bits
	Manufacturer    *Manufacturer
	SecurityVersion *[2]uint32 // SECURITY_VERSION: security version, platform ID (§10)
}

// NewCert builds and signs a certificate. Objects follow §5's order: BASIC,
// DEVICE or SERVER, FEATURE, KEY, MANUFACTURER, SECURITY_VERSION, SIGNATURE.
// All lengths are final before the issuer signs [0, cbCertificateSigned),
// and the SIGNATURE object names issuer.Public(). The signature is checked
// before returning, so a faulty Signer cannot produce a bad certificate.
func NewCert(t *Template, issuer Signer) (*Cert, error) {
	if t == nil || issuer == nil {
		return nil, errors.New("bcert: nil template or issuer")
	}
	if len(t.Keys) == 0 {
		return nil, errors.New("bcert: template has no key")
	}
	if t.Device != nil && t.Server != nil {
		return nil, errors.New("bcert: template has both DEVICE and SERVER")
	}
	if len(t.Features) > MaxFeatures {
		return nil, errors.New("bcert: too many features")
	}
	pub := issuer.Public()
	if !pub.Valid() {
		return nil, errors.New("bcert: issuer public key is not a P-256 point")
	}

	var objs []Object
	add := func(tag uint16, body []byte) {
		objs = append(objs, Object{Flags: ObjectFlagMustUnderstand, Tag: tag, Body: body})
	}

	digestKey := t.DigestKey
	if digestKey == (ecc.Point{}) {
		digestKey = t.Keys[0].Public
	}
	exp := t.Expiration
	if exp == 0 {
		exp = ExpirationNever
	}
	basic := make([]byte, 0, BasicSize)
	basic = append(basic, t.CertID[:]...)
	basic = binary.BigEndian.AppendUint32(basic, t.SecurityLevel)
	basic = binary.BigEndian.AppendUint32(basic, 0) // flags: no ext-data
	basic = binary.BigEndian.AppendUint32(basic, t.Type)
	d := sha256.Sum256(digestKey[:])
	basic = append(basic, d[:]...)
	basic = binary.BigEndian.AppendUint32(basic, exp)
	basic = append(basic, t.ClientID[:]...)
	add(TagBasic, basic)

	if t.Device != nil {
		add(TagDevice, u32s(t.Device.MaxLicenseSize, t.Device.MaxHeaderSize, t.Device.MaxChainDepth))
	}
	if t.Server != nil {
		add(TagServer, u32s(*t.Server))
	}
	add(TagFeature, u32s(append([]uint32{uint32(len(t.Features))}, t.Features...)...))

	keys, err := encodeKeys(t.Keys)
	if err != nil {
		return nil, err
	}
	add(TagKey, keys)

	if t.Manufacturer != nil {
		m, err := encodeManufacturer(t.Manufacturer)
		if err != nil {
			return nil, err
		}
		add(TagManufacturer, m)
	}
	if t.SecurityVersion != nil {
		add(TagSecurityVersion, u32s(t.SecurityVersion[0], t.SecurityVersion[1]))
	}

	// A placeholder of the final size fixes cbCertificate before signing.
	add(TagSignature, encodeSignature([ecc.SignatureSize]byte{}, pub))
	c := &Cert{Version: CertVersion, Objects: objs}
	digest := sha256.Sum256(c.signedBytes())
	sig, err := issuer.SignDigest(digest[:])
	if err != nil {
		return nil, fmt.Errorf("bcert: failed to sign certificate: %w", err)
	}
	if !ecc.Verify(pub, digest[:], sig[:]) {
		return nil, errors.New("bcert: issuer produced a signature that does not verify")
	}
	c.Objects[len(c.Objects)-1].Body = encodeSignature(sig, pub)
	if err := checkObjects(c.Objects); err != nil {
		return nil, err
	}
	return c, nil
}

func u32s(v ...uint32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.BigEndian.AppendUint32(b, x)
	}
	return b
}

func encodeKeys(keys []Key) ([]byte, error) {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(keys)))
	for _, k := range keys {
		if k.Type == 0 {
			k.Type = KeyTypeECC256
		}
		if k.Length == 0 {
			k.Length = KeyBits
		}
		if k.Length != KeyBits {
			return nil, errors.New("bcert: key length must be 512 bits")
		}
		if !k.Public.Valid() {
			return nil, errors.New("bcert: key is not a P-256 point")
		}
		b = binary.BigEndian.AppendUint16(b, k.Type)
		b = binary.BigEndian.AppendUint16(b, k.Length)
		b = binary.BigEndian.AppendUint32(b, k.Flags)
		b = append(b, k.Public[:]...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(k.Usages)))
		for _, u := range k.Usages {
			b = binary.BigEndian.AppendUint32(b, u)
		}
	}
	return b, nil
}

func encodeManufacturer(m *Manufacturer) ([]byte, error) {
	b := binary.BigEndian.AppendUint32(nil, m.Flags)
	for _, s := range []string{m.Name, m.Model, m.Number} {
		if len(s)+1 > MaxStringSize || strings.IndexByte(s, 0) >= 0 {
			return nil, errors.New("bcert: manufacturer string too long or contains NUL")
		}
		n := uint32(len(s) + 1) // the length counts the NUL (§5)
		b = binary.BigEndian.AppendUint32(b, n)
		b = append(b, s...)
		b = append(b, make([]byte, pad4(n)-uint64(len(s)))...)
	}
	return b, nil
}

func encodeSignature(sig [ecc.SignatureSize]byte, pub ecc.Point) []byte {
	b := make([]byte, 0, signatureBodySize)
	b = binary.BigEndian.AppendUint16(b, SignatureTypeP256)
	b = binary.BigEndian.AppendUint16(b, ecc.SignatureSize)
	b = append(b, sig[:]...)
	b = binary.BigEndian.AppendUint32(b, KeyBits)
	return append(b, pub[:]...)
}
