package bcert

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
)

var (
	certMagic  = [4]byte{'C', 'E', 'R', 'T'}
	chainMagic = [4]byte{'C', 'H', 'A', 'I'}
)

// Object is one certificate object as it appears on the wire (docs/formats/bcert.md
// §4): the header's flags and tag, and the payload after the 8-byte header.
// The length field is derived from the payload when encoding.
type Object struct {
	Flags, Tag uint16
	Body       []byte
}

// Cert is one BCert (docs/formats/bcert.md §3). Objects hold the raw payloads in
// wire order, the SIGNATURE object among them; the typed accessors decode
// them. A Cert from [ParseCert], [ParseChain] or [NewCert] is well-formed;
// one whose Objects were edited by hand is checked again by [Chain.Verify].
type Cert struct {
	Version uint32
	Objects []Object
}

// Basic is the BASIC object (§6).
type Basic struct {
	CertID        [16]byte
	SecurityLevel uint32
	Flags         uint32
	Type          uint32
	Digest        [32]byte // SHA-256 of the certificate's public (signing) key
	Expiration    uint32   // Unix seconds; ExpirationNever = never
	ClientID      [16]byte
}

// Key is one entry of the KEY object (§5, §8).
type Key struct {
	Type   uint16 // KeyTypeECC256
	Length uint16 // bits: KeyBits
	Flags  uint32
	Public ecc.Point
	Usages []uint32
}

// HasUsage reports whether k lists usage u.
func (k Key) HasUsage(u uint32) bool {
	for _, v := range k.Usages {
		if v == u {
			return true
		}
	}
	return false
}

// Manufacturer is the MANUFACTURER object (§5): three NUL-terminated strings.
type Manufacturer struct {
	Flags               uint32
	Name, Model, Number string
}

// DeviceInfo is the DEVICE object (§5); a leaf typically has 10240, 15360, 2.
type DeviceInfo struct {
	MaxLicenseSize, MaxHeaderSize, MaxChainDepth uint32
}

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
func be32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }

// pad4 rounds n up to a multiple of 4 without overflowing.
func pad4(n uint32) uint64 { return (uint64(n) + 3) &^ 3 }

// certErr is an unprefixed error; the exported entry points add "bcert: "
// and, in a chain, the certificate index.
func certErr(msg string, code drm.Code) error {
	return fmt.Errorf("%s: %w", msg, code)
}

// ParseCert decodes exactly one certificate; b must hold nothing else.
func ParseCert(b []byte) (*Cert, error) {
	c, n, err := parseCert(b)
	if err != nil {
		return nil, fmt.Errorf("bcert: %w", err)
	}
	if n != len(b) {
		return nil, fmt.Errorf("bcert: certificate length does not match the input: %w", drm.ErrBCertInvalidCertLength)
	}
	return c, nil
}

// parseCert decodes the certificate at the start of b and returns how many
// bytes it spans (its cbCertificate).
func parseCert(b []byte) (*Cert, int, error) {
	if len(b) < CertHeaderSize {
		return nil, 0, certErr("certificate header truncated", drm.ErrBCertInvalidCertLength)
	}
	if !bytes.Equal(b[:4], certMagic[:]) {
		return nil, 0, certErr("certificate magic is not CERT", drm.ErrBCertInvalidCertHeaderTag)
	}
	version := be32(b[4:])
	total := be32(b[8:])
	signed := be32(b[12:])
	if total < CertHeaderSize || uint64(total) > uint64(len(b)) {
		return nil, 0, certErr("certificate length out of range", drm.ErrBCertInvalidCertLength)
	}
	raw := bytes.Clone(b[CertHeaderSize:total]) // objects never alias the caller's buffer
	var objs []Object
	sigOffset := -1
	for off := 0; off < len(raw); {
		if len(raw)-off < ObjectHeaderSize {
			return nil, 0, certErr("object header truncated", drm.ErrBCertInvalidCertLength)
		}
		flags, tag, n := be16(raw[off:]), be16(raw[off+2:]), be32(raw[off+4:])
		if n < ObjectHeaderSize {
			return nil, 0, certErr("object length below 8", drm.ErrBCertObjectHeaderLenTooSmall)
		}
		if uint64(n) > uint64(len(raw)-off) {
			return nil, 0, certErr("object overruns the certificate", drm.ErrBCertInvalidCertLength)
		}
		if tag == TagSignature && sigOffset < 0 {
			sigOffset = CertHeaderSize + off
		}
		end := off + int(n)
		objs = append(objs, Object{Flags: flags, Tag: tag, Body: raw[off+ObjectHeaderSize : end : end]})
		off = end
	}
	if err := checkObjects(objs); err != nil {
		return nil, 0, err
	}
	if int64(signed) != int64(sigOffset) {
		return nil, 0, certErr("signed length does not end at the SIGNATURE object", drm.ErrBCertInvalidSignedCertLength)
	}
	return &Cert{Version: version, Objects: objs}, int(total), nil
}

// knownTag reports whether a tag is one of §5's; unknown ones are kept and
// skipped unless flagged MUST_UNDERSTAND.
func knownTag(t uint16) bool { return t >= TagBasic && t <= TagSecurityVersion2 }

// checkObjects enforces the object rules of §4, §5 and §11 and decodes every
// payload prsim interprets, so the accessors cannot fail on a parsed Cert.
func checkObjects(objs []Object) error {
	if len(objs) == 0 || objs[0].Tag != TagBasic {
		return certErr("first object is not BASIC", drm.ErrBCertUnexpectedObjectHeader)
	}
	seen := make(map[uint16]bool)
	afterSig := false
	for _, o := range objs {
		if !knownTag(o.Tag) {
			if o.Flags&ObjectFlagMustUnderstand != 0 {
				return certErr("unknown object marked must-understand", drm.ErrBCertUnexpectedObjectHeader)
			}
			if afterSig {
				return certErr("object after SIGNATURE", drm.ErrBCertUnexpectedObjectHeader)
			}
			continue
		}
		if seen[o.Tag] {
			return certErr("duplicate object", drm.ErrBCertUnexpectedObjectHeader)
		}
		seen[o.Tag] = true
		if afterSig != (o.Tag == TagExtDataContainer) && o.Tag != TagSignature {
			// Only the ext-data container lives after the signature, and it
			// must: anything else there would not be signed.
			return certErr("object on the wrong side of SIGNATURE", drm.ErrBCertUnexpectedObjectHeader)
		}
		if err := checkBody(o); err != nil {
			return err
		}
		if o.Tag == TagSignature {
			afterSig = true
		}
	}
	if !seen[TagKey] {
		return certErr("KEY object missing", drm.ErrBCertRequiredKeyUsageMissing)
	}
	if !seen[TagSignature] {
		return certErr("SIGNATURE object missing", drm.ErrBCertInvalidSignedCertLength)
	}
	return nil
}

var errBody = certErr("object payload malformed", drm.ErrBCertUnexpectedObjectHeader)

func checkBody(o Object) error {
	n := len(o.Body)
	switch o.Tag {
	case TagBasic:
		if n != BasicSize {
			return errBody
		}
	case TagDevice:
		if n != 12 {
			return errBody
		}
	case TagPC, TagServer:
		if n != 4 {
			return errBody
		}
	case TagSilverlight, TagSecurityVersion, TagSecurityVersion2:
		if n != 8 {
			return errBody
		}
	case TagFeature:
		_, err := decodeFeatures(o.Body)
		return err
	case TagKey:
		_, err := decodeKeys(o.Body)
		return err
	case TagManufacturer:
		_, err := decodeManufacturer(o.Body)
		return err
	case TagSignature:
		_, _, err := decodeSignature(o.Body)
		return err
	}
	return nil
}

func decodeBasic(b []byte) (Basic, bool) {
	if len(b) != BasicSize {
		return Basic{}, false
	}
	return Basic{
		CertID:        [16]byte(b[0:16]),
		SecurityLevel: be32(b[16:]),
		Flags:         be32(b[20:]),
		Type:          be32(b[24:]),
		Digest:        [32]byte(b[28:60]),
		Expiration:    be32(b[60:]),
		ClientID:      [16]byte(b[64:80]),
	}, true
}

func decodeFeatures(b []byte) ([]uint32, error) {
	if len(b) < 4 {
		return nil, errBody
	}
	n := be32(b)
	if n > MaxFeatures {
		return nil, certErr("too many features", drm.ErrBCertUnexpectedObjectHeader)
	}
	if uint64(len(b)) != 4+4*uint64(n) {
		return nil, errBody
	}
	fs := make([]uint32, n)
	for i := range fs {
		fs[i] = be32(b[4+4*i:])
	}
	return fs, nil
}

// keyFixedSize is type, length, flags, key and usage count.
const keyFixedSize = 2 + 2 + 4 + ecc.PointSize + 4

func decodeKeys(b []byte) ([]Key, error) {
	if len(b) < 4 {
		return nil, errBody
	}
	n := be32(b)
	if uint64(n) > uint64(len(b)-4)/keyFixedSize {
		return nil, errBody
	}
	keys := make([]Key, 0, n)
	off := 4
	for range n {
		if len(b)-off < keyFixedSize {
			return nil, errBody
		}
		k := Key{Type: be16(b[off:]), Length: be16(b[off+2:]), Flags: be32(b[off+4:])}
		if k.Length != KeyBits {
			return nil, certErr("key length is not 512 bits", drm.ErrBCertInvalidKeyLength)
		}
		k.Public = ecc.Point(b[off+8 : off+8+ecc.PointSize])
		off += 8 + ecc.PointSize
		u := be32(b[off:])
		off += 4
		if uint64(u) > uint64(len(b)-off)/4 {
			return nil, errBody
		}
		k.Usages = make([]uint32, u)
		for i := range k.Usages {
			k.Usages[i] = be32(b[off:])
			off += 4
		}
		keys = append(keys, k)
	}
	if off != len(b) {
		return nil, errBody
	}
	return keys, nil
}

func decodeManufacturer(b []byte) (*Manufacturer, error) {
	if len(b) < 4 {
		return nil, errBody
	}
	m := &Manufacturer{Flags: be32(b)}
	off := 4
	var s [3]string
	for i := range s {
		if len(b)-off < 4 {
			return nil, errBody
		}
		n := be32(b[off:])
		off += 4
		if pad4(n) > uint64(len(b)-off) {
			return nil, errBody
		}
		s[i] = strings.TrimRight(string(b[off:off+int(n)]), "\x00")
		off += int(pad4(n))
	}
	if off != len(b) {
		return nil, errBody
	}
	m.Name, m.Model, m.Number = s[0], s[1], s[2]
	return m, nil
}

// signatureBodySize is the SIGNATURE payload: type, size, r‖s, key bits, key.
const signatureBodySize = SignatureObjSize - ObjectHeaderSize

func decodeSignature(b []byte) (sig [ecc.SignatureSize]byte, issuer ecc.Point, err error) {
	if len(b) < 4 {
		return sig, issuer, errBody
	}
	if be16(b) != SignatureTypeP256 || be16(b[2:]) != ecc.SignatureSize {
		return sig, issuer, certErr("signature type is not ECDSA-P256", drm.ErrBCertInvalidSignatureType)
	}
	if len(b) != signatureBodySize {
		return sig, issuer, errBody
	}
	if be32(b[4+ecc.SignatureSize:]) != KeyBits {
		return sig, issuer, certErr("issuer key length is not 512 bits", drm.ErrBCertInvalidKeyLength)
	}
	copy(sig[:], b[4:4+ecc.SignatureSize])
	copy(issuer[:], b[8+ecc.SignatureSize:])
	return sig, issuer, nil
}

// object returns the first object with tag t.
func (c *Cert) object(t uint16) (Object, bool) {
	for _, o := range c.Objects {
		if o.Tag == t {
			return o, true
		}
	}
	return Object{}, false
}

// Basic returns the BASIC object (zero if missing, which a parsed or built
// Cert never is).
func (c *Cert) Basic() Basic {
	o, _ := c.object(TagBasic)
	b, _ := decodeBasic(o.Body)
	return b
}

// Keys returns the KEY object's entries.
func (c *Cert) Keys() []Key {
	o, _ := c.object(TagKey)
	k, _ := decodeKeys(o.Body)
	return k
}

// KeyWithUsage returns the first key that lists usage u.
func (c *Cert) KeyWithUsage(u uint32) (ecc.Point, bool) {
	for _, k := range c.Keys() {
		if k.HasUsage(u) {
			return k.Public, true
		}
	}
	return ecc.Point{}, false
}

// Features returns the FEATURE object's IDs (§7).
func (c *Cert) Features() []uint32 {
	o, _ := c.object(TagFeature)
	f, _ := decodeFeatures(o.Body)
	return f
}

// HasFeature reports whether the FEATURE object lists f.
func (c *Cert) HasFeature(f uint32) bool {
	for _, v := range c.Features() {
		if v == f {
			return true
		}
	}
	return false
}

// Manufacturer returns the MANUFACTURER object, if present.
func (c *Cert) Manufacturer() (*Manufacturer, bool) {
	o, ok := c.object(TagManufacturer)
	if !ok {
		return nil, false
	}
	m, err := decodeManufacturer(o.Body)
	return m, err == nil
}

// Device returns the DEVICE object, if present.
func (c *Cert) Device() (*DeviceInfo, bool) {
	o, ok := c.object(TagDevice)
	if !ok || len(o.Body) != 12 {
		return nil, false
	}
	return &DeviceInfo{be32(o.Body), be32(o.Body[4:]), be32(o.Body[8:])}, true
}

// ServerWarningDays returns the SERVER object, if present.
func (c *Cert) ServerWarningDays() (uint32, bool) {
	o, ok := c.object(TagServer)
	if !ok || len(o.Body) != 4 {
		return 0, false
	}
	return be32(o.Body), true
}

// SecurityVersion returns the SECURITY_VERSION object (security version,
// platform ID), if present.
func (c *Cert) SecurityVersion() ([2]uint32, bool) {
	o, ok := c.object(TagSecurityVersion)
	if !ok || len(o.Body) != 8 {
		return [2]uint32{}, false
	}
	return [2]uint32{be32(o.Body), be32(o.Body[4:])}, true
}

// SignatureInfo returns the raw r‖s signature and the issuer public key the
// SIGNATURE object names.
func (c *Cert) SignatureInfo() (sig [ecc.SignatureSize]byte, issuer ecc.Point, err error) {
	o, ok := c.object(TagSignature)
	if !ok {
		return sig, issuer, fmt.Errorf("bcert: SIGNATURE object missing: %w", drm.ErrBCertInvalidSignedCertLength)
	}
	sig, issuer, err = decodeSignature(o.Body)
	if err != nil {
		return sig, issuer, fmt.Errorf("bcert: %w", err)
	}
	return sig, issuer, nil
}

// encode appends the certificate and returns its signed length.
func (c *Cert) encode(dst []byte) ([]byte, int) {
	total, signed := CertHeaderSize, -1
	for _, o := range c.Objects {
		if o.Tag == TagSignature && signed < 0 {
			signed = total
		}
		total += ObjectHeaderSize + len(o.Body)
	}
	if signed < 0 {
		signed = total // unsigned: everything so far is the signed part
	}
	dst = append(dst, certMagic[:]...)
	dst = binary.BigEndian.AppendUint32(dst, c.Version)
	dst = binary.BigEndian.AppendUint32(dst, uint32(total))
	dst = binary.BigEndian.AppendUint32(dst, uint32(signed))
	for _, o := range c.Objects {
		dst = appendObject(dst, o)
	}
	return dst, signed
}

func appendObject(dst []byte, o Object) []byte {
	dst = binary.BigEndian.AppendUint16(dst, o.Flags)
	dst = binary.BigEndian.AppendUint16(dst, o.Tag)
	dst = binary.BigEndian.AppendUint32(dst, uint32(ObjectHeaderSize+len(o.Body)))
	return append(dst, o.Body...)
}

// Bytes returns the encoded certificate. cbCertificate and
// cbCertificateSigned are computed from the objects, so a parsed Cert
// re-encodes to its input.
func (c *Cert) Bytes() []byte {
	b, _ := c.encode(nil)
	return b
}

// signedBytes returns the bytes the issuer signs: [0, cbCertificateSigned).
func (c *Cert) signedBytes() []byte {
	b, n := c.encode(nil)
	return b[:n]
}
