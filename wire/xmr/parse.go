package xmr

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/prsim/prsim/drm"
)

// License is a parsed XMR license: the 24-byte header and the object tree
// (docs/formats/xmr.md §2). The typed views ([License.Policy],
// [License.ContentKey], …) decode from the tree on each call, so a caller
// that edits the tree (a client inserting OPTIMIZED_CONTENT_KEY, say) sees
// the edit in both the views and [License.Bytes].
type License struct {
	Version  uint32
	RightsID [16]byte
	Outer    *Object
}

// ErrUnknownObject is wrapped (together with drm.ErrInvalidLicense) by
// Parse when a license holds a must-understand object prsim does not know
// (docs/formats/xmr.md §3).
var ErrUnknownObject = errors.New("xmr: unknown must-understand object")

func invalid(msg string) error {
	return fmt.Errorf("xmr: %s: %w", msg, drm.ErrInvalidLicense)
}

func invalidType(t uint16, msg string) error {
	return fmt.Errorf("xmr: object type 0x%04x: %s: %w", t, msg, drm.ErrInvalidLicense)
}

// Parse decodes and validates a license (all rules of docs/formats/xmr.md §4). Every
// error wraps drm.ErrInvalidLicense; an unknown must-understand object also
// wraps [ErrUnknownObject]. Parse does not verify the signature: that needs
// CI, which only the TEE has ([License.VerifySignature]).
func Parse(b []byte) (*License, error) {
	if len(b) < HeaderSize+ObjectHeaderSize {
		return nil, invalid("license shorter than its header")
	}
	if string(b[:4]) != magic {
		return nil, invalid("bad magic")
	}
	v := binary.BigEndian.Uint32(b[4:8])
	if v != Version1 && v != Version3 {
		return nil, invalid("unsupported version")
	}
	if binary.BigEndian.Uint16(b[HeaderSize+2:]) != TypeOuterContainer {
		return nil, invalid("first object is not the outer container")
	}
	if uint64(binary.BigEndian.Uint32(b[HeaderSize+4:])) != uint64(len(b)-HeaderSize) {
		return nil, invalid("total length is not 24 + outer container length")
	}
	p := parser{version: v}
	outer, err := p.object(b[HeaderSize:], typeRoot, 0, 1)
	if err != nil {
		return nil, err
	}
	l := &License{Version: v, RightsID: [16]byte(b[8:24]), Outer: outer}
	if err := l.validate(); err != nil {
		return nil, err
	}
	return l, nil
}

type parser struct {
	version uint32
}

// object parses the object that is exactly b, found under a parent of type
// parent with flags pflags. level is the nesting level it has if it is a
// container (the outer container is level 1).
func (p *parser) object(b []byte, parent, pflags uint16, level int) (*Object, error) {
	o := &Object{Flags: binary.BigEndian.Uint16(b), Type: binary.BigEndian.Uint16(b[2:])}
	ti, ok := known(parent, o.Type)
	// Unknown-object rule (docs/formats/xmr.md §3): skip unknown objects unless they
	// are must-understand. E on the object or on its parent marks it as
	// handed to the application (extensible rights and restrictions), so
	// it is kept and reported by Policy().Unknown instead; the application
	// then refuses what it cannot enforce
	// (DRM_E_EXTENDED_RESTRICTION_NOT_UNDERSTOOD).
	if !ok && o.Flags&FlagMustUnderstand != 0 && o.Flags&FlagAllowExternalParse == 0 && pflags&FlagAllowExternalParse == 0 {
		return nil, fmt.Errorf("%w (type 0x%04x): %w", ErrUnknownObject, o.Type, drm.ErrInvalidLicense)
	}
	if o.Type == TypePlayEnablerContainer && (o.Flags&FlagMustUnderstand != 0 || o.Flags&FlagContainer == 0) {
		return nil, invalidType(o.Type, "play enabler container must have C set and M clear")
	}
	body := b[ObjectHeaderSize:]
	if !ti.container && (ok || o.Flags&FlagContainer == 0) {
		o.Body = append([]byte{}, body...)
		if ok && ti.layout != nil {
			vals, err := decodeLayout(ti.layout, o.Body)
			if err != nil {
				return nil, invalidType(o.Type, "body does not match its layout")
			}
			if err := p.checkValues(o.Type, vals); err != nil {
				return nil, err
			}
		}
		return o, nil
	}
	if level > MaxDepth {
		return nil, invalidType(o.Type, "containers nested deeper than 5 levels")
	}
	o.Children = []*Object{}
	var seen []uint16
	for len(body) > 0 {
		if len(body) < ObjectHeaderSize {
			return nil, invalidType(o.Type, "children do not fill the container")
		}
		n := binary.BigEndian.Uint32(body[4:])
		if n < ObjectHeaderSize {
			return nil, invalidType(o.Type, "child length below 8")
		}
		if uint64(n) > uint64(len(body)) {
			return nil, invalidType(o.Type, "child overruns its container")
		}
		c, err := p.object(body[:n], o.Type, o.Flags, level+1)
		if err != nil {
			return nil, err
		}
		if cti, cok := known(o.Type, c.Type); cok && !cti.dupOK {
			for _, s := range seen {
				if s == c.Type {
					return nil, invalidType(c.Type, "duplicate object")
				}
			}
			seen = append(seen, c.Type)
		}
		o.Children = append(o.Children, c)
		body = body[n:]
	}
	return o, nil
}

// checkValues applies the per-type value rules of docs/formats/xmr.md §4 and §8 to a
// known leaf whose layout already matched.
func (p *parser) checkValues(t uint16, v []value) error {
	switch t {
	case TypeContentKey:
		keyType, cipher, enc := uint16(v[1].u), uint16(v[2].u), v[3].b
		if !keyTypeAllowed(p.version, keyType) {
			return invalidType(t, "keyType not allowed in this license version")
		}
		switch cipher {
		case CipherECC256, CipherECC256KZ:
			if len(enc) != EncKeySizeECC256 {
				return invalidType(t, "ECC-256 encKey is not 128 bytes")
			}
		case CipherChained:
			if len(enc) != EncKeySizeChained {
				return invalidType(t, "chained encKey is not 32 bytes")
			}
		}
	case TypeSignature:
		switch uint16(v[0].u) {
		case SignatureTypeAESCMAC:
			if len(v[1].b) != 16 {
				return invalidType(t, "AES-CMAC signature is not 16 bytes")
			}
		case SignatureTypeHMACSHA256:
			if len(v[1].b) != 32 {
				return invalidType(t, "HMAC-SHA256 signature is not 32 bytes")
			}
		default:
			return invalidType(t, "unknown signature type")
		}
	case TypeSecureStop2:
		if v[0].u != secureStop2Version || len(v[1].b) != secureStop2WrappedSize {
			return invalidType(t, "SECURESTOP2 is not version 1 with a 24-byte wrapped key")
		}
	case TypeECCDeviceKey:
		if uint16(v[0].u) != CurveP256 || len(v[1].b) != 64 {
			return invalidType(t, "device key is not a 64-byte P-256 point")
		}
	case TypeMinimumEnvironment:
		if p.version >= 2 && (v[1].u != 0 || v[2].u != 0) {
			return invalidType(t, "CRL versions must be 0 in version 2 and later")
		}
	case TypeUplinkKID2:
		if p.version >= 3 && uint16(v[1].u) != ChecksumTypeAESOMAC1 {
			return invalidType(t, "uplink checksum type must be AES-OMAC1 in version 3")
		}
	}
	return nil
}

// keyTypeAllowed is rule 11 of docs/formats/xmr.md §4. keyType 5 (AES-CBC) is only
// for PlayReady 4.x clients; the codec cannot know the client version, so
// the caller checks that.
func keyTypeAllowed(version uint32, kt uint16) bool {
	switch version {
	case Version1:
		return kt == KeyTypeAESCTR || kt == KeyTypeRC4 || kt == KeyTypeAESECB
	case Version3:
		return kt == KeyTypeAESCTR || kt == KeyTypeAESECB || kt == KeyTypeCocktail || kt == KeyTypeAESCBC
	}
	return false
}

// validate checks the license-wide rules (docs/formats/xmr.md §4 rules 7, 9, 10).
func (l *License) validate() error {
	o := l.Outer
	if len(o.Children) == 0 || o.Children[len(o.Children)-1].Type != TypeSignature {
		return invalid("signature is not the last object of the outer container")
	}
	global := o.Child(TypeGlobalPolicyContainer)
	if global == nil {
		return invalid("no global policy container")
	}
	keys := o.Child(TypeKeyMaterialContainer)
	if keys == nil {
		return invalid("no key material container")
	}
	if keys.Child(TypeContentKey) == nil {
		return invalid("no content key")
	}
	if (global.Child(TypeSecurityLevel) == nil) == (global.Child(TypeMinimumEnvironment) == nil) {
		return invalid("need exactly one of SECURITY_LEVEL and MINIMUM_ENVIRONMENT")
	}
	if global.Child(TypeRevocationInfoVersion2) == nil && global.Child(TypeRevocationInfoVersion) == nil {
		return invalid("no revocation information version")
	}
	if global.Child(TypeDomainID) != nil {
		for _, t := range []uint16{TypeUplinkKID, TypeUplinkKID2, TypeUplinkX} {
			if keys.Child(t) != nil {
				return invalid("domain-bound license holds an uplink object")
			}
		}
	}
	return nil
}
