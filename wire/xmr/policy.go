package xmr

import (
	"encoding/binary"

	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/wire/kid"
)

// Expiration is the EXPIRATION object (0x12): seconds since the Unix epoch;
// Begin 0 = no lower bound, End [ExpirationUnlimited] = no upper bound.
type Expiration struct {
	Begin, End uint32
}

// OPL is the OUTPUT_PROTECTION object (0x05), the minimum output protection
// levels in wire order (docs/formats/xmr.md §7; values policies-and-outputs.md §2).
// 0 = no restriction.
type OPL struct {
	CompressedDigitalVideo   uint16
	UncompressedDigitalVideo uint16
	AnalogVideo              uint16
	CompressedDigitalAudio   uint16
	UncompressedDigitalAudio uint16
}

// OutputConfig is one explicit output protection (0x08, 0x31, 0x59): a GUID
// (docs/formats/policies-and-outputs.md §3) and opaque configData, compared as bytes.
// ID is in UUID order; the wire holds the LE GUID layout.
type OutputConfig struct {
	ID   kid.ID
	Data []byte
}

// ContentKey is the CONTENT_KEY object (0x0A, docs/formats/xmr.md §8).
type ContentKey struct {
	KID        kid.ID // converted from the LE GUID on the wire
	KeyType    uint16 // KeyTypeAESCTR, KeyTypeAESCBC, …
	CipherType uint16 // CipherECC256, CipherChained, …
	EncKey     []byte // 128 bytes C1‖C2 for CipherECC256
}

// Domain is the DOMAIN_ID object (0x29).
type Domain struct {
	AccountID [16]byte
	Revision  uint32
}

// Metadata is one POLICY_METADATA object (0x2C).
type Metadata struct {
	Type kid.ID
	Data []byte
}

// CopyPolicy gathers the copy right: COPY_POLICY_2 (0x3C{0x3D, 0x37,
// 0x38{0x3A}}) or the v1 COPY_POLICY (0x0E{0x1B, 0x1C}).
type CopyPolicy struct {
	Count             *uint32  // 0x3D or 0x1B
	ProtectionLevel   *uint16  // 0x1C (v1)
	MinMoveProtection *uint32  // 0x37
	Enablers          []kid.ID // 0x3A
}

// PlaylistBurn is the PLAYLISTBURN_COUNT object (0x0F{0x1F}).
type PlaylistBurn struct {
	MaxBurns, TrackCount uint32
}

// RSAKey is an RSA_DEVICE_KEY (0x21) or RSA_LICENSE_GRANTER_KEY (0x26).
type RSAKey struct {
	Exponent uint32
	Modulus  []byte
}

// Revocation is the REVOCATION_CONTAINER (0x25{0x26, 0x27}).
type Revocation struct {
	GranterKey *RSAKey
	UserID     []byte
}

// Uplink is UPLINK_KID_2 (0x3B) or the v1 UPLINK_KID (0x06, checksum type
// implicitly [ChecksumTypeXMRV1]): the root KID of a chained leaf license.
type Uplink struct {
	KID          kid.ID
	ChecksumType uint16
	Checksum     []byte
}

// UplinkX is the UPLINKX object (0x52) of scalable leaf licenses.
type UplinkX struct {
	KID       kid.ID
	Checksum  []byte
	Locations []uint32
	Trailing  []byte // bytes after the locations (layout unverified)
}

// AuxKey is one entry of the AUX_KEY object (0x51).
type AuxKey struct {
	Location uint32
	Key      [16]byte
}

// OptimizedContentKey is the OPTIMIZED_CONTENT_KEY object (0x2D) a client
// inserts after binding.
type OptimizedContentKey struct {
	KeyType uint16 // OptimizedKeyAES128ECB, OptimizedKeyAES128ECBSLK
	Data    []byte
}

// KeyMaterial is the typed KEY_MATERIAL_CONTAINER (0x09).
type KeyMaterial struct {
	ContentKey          *ContentKey
	DeviceKey           *ecc.Point // 0x2A, P-256 X‖Y (not checked to be on the curve)
	RSADeviceKey        *RSAKey
	Uplink              *Uplink
	UplinkX             *UplinkX
	AuxKeys             []AuxKey // non-empty AUX_KEY marks a scalable root (docs/formats/xmr.md §11)
	Scalable            bool     // AUX_KEY present
	OptimizedContentKey *OptimizedContentKey
}

// Policy is the typed view of the rights and restrictions of a license.
// Pointer and slice fields are nil when the object is absent.
type Policy struct {
	// Global policy container (0x02).
	MinSecurityLevel      uint16 // 0x34, or 0x03 in v1 licenses
	MinAppCRLVersion      uint32 // 0x03
	MinDeviceCRLVersion   uint32 // 0x03
	RIV                   uint32 // 0x32, or 0x20 in v1 licenses
	IssueDate             uint32 // 0x13; 0 = absent
	Expiration            *Expiration
	ExpireAfterFirstPlay  *uint32 // 0x30, seconds
	ExpireAfterFirstUse   *uint32 // 0x14 (v1), seconds
	ExpireAfterFirstStore *uint32 // 0x15, seconds
	GracePeriod           *uint32 // 0x1A, seconds
	RemovalDate           *uint32 // 0x50
	RealTimeExpiration    bool    // 0x55
	Settings              *uint16 // 0x0D, Setting… bits
	SecureStopID          *[16]byte
	SecureStop2           []byte  // 0x5C: the RFC 3394 wrap of the SecureStop2 key under CI (24 bytes)
	Metering              *kid.ID // 0x16
	SourceID              *uint32 // 0x22
	RestrictedSourceID    bool    // 0x28
	EmbeddingBehavior     *uint16 // 0x33
	Domain                *Domain
	SerialNumber          []byte   // 0x0C, opaque
	InclusionList         []kid.ID // 0x10
	Priority              *uint32  // 0x11
	Metadata              []Metadata
	GenerationNumber      *uint32 // 0x2B (outer container)

	// Rights.
	Play         bool // PLAYBACK_POLICY_CONTAINER present (docs/formats/xmr.md §5)
	PlayCount    *uint32
	OPL          *OPL
	AnalogVideo  []OutputConfig // 0x07{0x08}
	DigitalAudio []OutputConfig // 0x2E{0x31}
	DigitalVideo []OutputConfig // 0x58{0x59}
	PlayEnablers []kid.ID       // 0x36{0x39}
	Copy         *CopyPolicy
	PlaylistBurn *PlaylistBurn
	Revocation   *Revocation

	// Unknown lists the objects prsim does not know (or that sit under a
	// parent the table does not name), outermost only. Those with
	// FlagMustUnderstand were kept because they or their parent carry
	// FlagAllowExternalParse: the application must enforce them or refuse
	// the license (DRM_E_EXTENDED_RESTRICTION_NOT_UNDERSTOOD).
	Unknown []*Object
}

func ptr[T any](v T) *T { return &v }

func guidOf(b []byte) kid.ID {
	id, _ := kid.FromGUID(b) // b is 16 bytes by layout
	return id
}

// clone copies b, keeping nil as nil.
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// Policy decodes the global policy, the rights containers and the unknown
// objects. Objects whose body does not match their layout (possible only in
// a tree edited after Parse) are skipped.
func (l *License) Policy() Policy {
	var p Policy
	if l.Outer == nil {
		return p
	}
	if g := l.Outer.Child(TypeGlobalPolicyContainer); g != nil {
		p.global(g)
	}
	for _, c := range l.Outer.Children {
		switch c.Type {
		case TypeGenerationNumber:
			if v, ok := decodeObject(c); ok {
				p.GenerationNumber = ptr(uint32(v[0].u))
			}
		case TypePlaybackPolicyContainer:
			p.Play = true
			p.playback(c)
		case TypeCopyPolicy2Container, TypeCopyPolicyContainer:
			p.copyPolicy(c)
		case TypeAllowPlaylistBurnContainer:
			if v, ok := decodeObject(c.Child(TypePlaylistBurnCount)); ok {
				p.PlaylistBurn = &PlaylistBurn{MaxBurns: uint32(v[0].u), TrackCount: uint32(v[1].u)}
			}
		case TypeRevocationContainer:
			r := &Revocation{}
			if k := c.Child(TypeRSALicenseGranterKey); k != nil {
				r.GranterKey = rsaKey(k)
			}
			if u := c.Child(TypeUserID); u != nil {
				r.UserID = clone(u.Body)
			}
			p.Revocation = r
		}
	}
	collectUnknown(l.Outer, &p.Unknown)
	return p
}

func (p *Policy) global(g *Object) {
	for _, c := range g.Children {
		if c.Type == TypeSerialNumber {
			p.SerialNumber = clone(c.Body)
			continue
		}
		v, ok := decodeObject(c)
		if !ok {
			continue
		}
		switch c.Type {
		case TypeSecurityLevel:
			p.MinSecurityLevel = uint16(v[0].u)
		case TypeMinimumEnvironment:
			p.MinSecurityLevel = uint16(v[0].u)
			p.MinAppCRLVersion, p.MinDeviceCRLVersion = uint32(v[1].u), uint32(v[2].u)
		case TypeRevocationInfoVersion2:
			p.RIV = uint32(v[0].u)
		case TypeRevocationInfoVersion:
			if g.Child(TypeRevocationInfoVersion2) == nil {
				p.RIV = uint32(v[0].u)
			}
		case TypeIssueDate:
			p.IssueDate = uint32(v[0].u)
		case TypeExpiration:
			p.Expiration = &Expiration{Begin: uint32(v[0].u), End: uint32(v[1].u)}
		case TypeExpirationAfterFirstPlay:
			p.ExpireAfterFirstPlay = ptr(uint32(v[0].u))
		case TypeExpirationAfterFirstUse:
			p.ExpireAfterFirstUse = ptr(uint32(v[0].u))
		case TypeExpirationAfterFirstStore:
			p.ExpireAfterFirstStore = ptr(uint32(v[0].u))
		case TypeGracePeriod:
			p.GracePeriod = ptr(uint32(v[0].u))
		case TypeRemovalDate:
			p.RemovalDate = ptr(uint32(v[0].u))
		case TypeRealTimeExpiration:
			p.RealTimeExpiration = true
		case TypeSettings:
			p.Settings = ptr(uint16(v[0].u))
		case TypeSecureStop:
			p.SecureStopID = ptr([16]byte(v[0].b))
		case TypeSecureStop2:
			p.SecureStop2 = clone(v[1].b)
		case TypeMetering:
			p.Metering = ptr(guidOf(v[0].b))
		case TypeSourceID:
			p.SourceID = ptr(uint32(v[0].u))
		case TypeRestrictedSourceID:
			p.RestrictedSourceID = true
		case TypeEmbeddingBehavior:
			p.EmbeddingBehavior = ptr(uint16(v[0].u))
		case TypeDomainID:
			p.Domain = &Domain{AccountID: [16]byte(v[0].b), Revision: uint32(v[1].u)}
		case TypeInclusionList:
			p.InclusionList = guidList(v[0].b)
		case TypePriority:
			p.Priority = ptr(uint32(v[0].u))
		case TypePolicyMetadata:
			p.Metadata = append(p.Metadata, Metadata{Type: guidOf(v[0].b), Data: clone(v[1].b)})
		}
	}
}

func (p *Policy) playback(c *Object) {
	for _, o := range c.Children {
		switch o.Type {
		case TypePlayCount:
			if v, ok := decodeObject(o); ok {
				p.PlayCount = ptr(uint32(v[0].u))
			}
		case TypeOutputProtection:
			if v, ok := decodeObject(o); ok {
				p.OPL = &OPL{uint16(v[0].u), uint16(v[1].u), uint16(v[2].u), uint16(v[3].u), uint16(v[4].u)}
			}
		case TypeExplicitAnalogVideoContainer:
			p.AnalogVideo = append(p.AnalogVideo, configs(o, TypeAnalogVideoOutputConfig)...)
		case TypeExplicitDigitalAudioContainer:
			p.DigitalAudio = append(p.DigitalAudio, configs(o, TypeDigitalAudioOutputConfig)...)
		case TypeExplicitDigitalVideoContainer:
			p.DigitalVideo = append(p.DigitalVideo, configs(o, TypeDigitalVideoOutputConfig)...)
		case TypePlayEnablerContainer:
			for _, e := range o.ChildrenOf(TypePlayEnabler) {
				if v, ok := decodeObject(e); ok {
					p.PlayEnablers = append(p.PlayEnablers, guidOf(v[0].b))
				}
			}
		}
	}
}

func (p *Policy) copyPolicy(c *Object) {
	cp := p.Copy
	if cp == nil {
		cp = &CopyPolicy{}
		p.Copy = cp
	}
	for _, o := range c.Children {
		if _, ok := known(c.Type, o.Type); !ok {
			continue
		}
		if o.Type == TypeCopyEnablerContainer {
			for _, e := range o.ChildrenOf(TypeCopyEnabler) {
				if v, ok := decodeObject(e); ok {
					cp.Enablers = append(cp.Enablers, guidOf(v[0].b))
				}
			}
			continue
		}
		v, ok := decodeObject(o)
		if !ok {
			continue
		}
		switch o.Type {
		case TypeCopyCount2, TypeCopyCount:
			cp.Count = ptr(uint32(v[0].u))
		case TypeCopyProtection:
			cp.ProtectionLevel = ptr(uint16(v[0].u))
		case TypeMoveEnabler:
			cp.MinMoveProtection = ptr(uint32(v[0].u))
		}
	}
}

func configs(c *Object, t uint16) []OutputConfig {
	var out []OutputConfig
	for _, o := range c.ChildrenOf(t) {
		if v, ok := decodeObject(o); ok {
			out = append(out, OutputConfig{ID: guidOf(v[0].b), Data: clone(v[1].b)})
		}
	}
	return out
}

func guidList(b []byte) []kid.ID {
	out := make([]kid.ID, 0, len(b)/guidSize)
	for i := 0; i+guidSize <= len(b); i += guidSize {
		out = append(out, guidOf(b[i:i+guidSize]))
	}
	return out
}

func rsaKey(o *Object) *RSAKey {
	v, ok := decodeObject(o)
	if !ok {
		return nil
	}
	return &RSAKey{Exponent: uint32(v[0].u), Modulus: clone(v[1].b)}
}

// collectUnknown appends the outermost objects under o that are not known
// in their place.
func collectUnknown(o *Object, out *[]*Object) {
	for _, c := range o.Children {
		if _, ok := known(o.Type, c.Type); !ok {
			*out = append(*out, c)
			continue
		}
		if c.IsContainer() {
			collectUnknown(c, out)
		}
	}
}

// KeyMaterial decodes the key material container.
func (l *License) KeyMaterial() KeyMaterial {
	var km KeyMaterial
	if l.Outer == nil {
		return km
	}
	k := l.Outer.Child(TypeKeyMaterialContainer)
	if k == nil {
		return km
	}
	for _, c := range k.Children {
		v, ok := decodeObject(c)
		if !ok {
			continue
		}
		switch c.Type {
		case TypeContentKey:
			km.ContentKey = &ContentKey{KID: guidOf(v[0].b), KeyType: uint16(v[1].u), CipherType: uint16(v[2].u), EncKey: clone(v[3].b)}
		case TypeECCDeviceKey:
			if uint16(v[0].u) == CurveP256 && len(v[1].b) == ecc.PointSize {
				km.DeviceKey = ptr(ecc.Point(v[1].b))
			}
		case TypeRSADeviceKey:
			km.RSADeviceKey = rsaKey(c)
		case TypeUplinkKID2:
			km.Uplink = &Uplink{KID: guidOf(v[0].b), ChecksumType: uint16(v[1].u), Checksum: clone(v[2].b)}
		case TypeUplinkKID:
			if km.Uplink == nil {
				km.Uplink = &Uplink{KID: guidOf(v[0].b), ChecksumType: ChecksumTypeXMRV1, Checksum: clone(v[1].b)}
			}
		case TypeUplinkX:
			ux := &UplinkX{KID: guidOf(v[0].b), Checksum: clone(v[1].b), Trailing: clone(v[3].b)}
			for i := 0; i+4 <= len(v[2].b); i += 4 {
				ux.Locations = append(ux.Locations, binary.BigEndian.Uint32(v[2].b[i:]))
			}
			km.UplinkX = ux
		case TypeAuxKey:
			km.Scalable = true
			for i := 0; i+20 <= len(v[0].b); i += 20 {
				km.AuxKeys = append(km.AuxKeys, AuxKey{Location: binary.BigEndian.Uint32(v[0].b[i:]), Key: [16]byte(v[0].b[i+4 : i+20])})
			}
		case TypeOptimizedContentKey:
			km.OptimizedContentKey = &OptimizedContentKey{KeyType: uint16(v[0].u), Data: clone(v[1].b)}
		}
	}
	return km
}

// ContentKey returns the single CONTENT_KEY of the key material container.
func (l *License) ContentKey() (*ContentKey, error) {
	ck := l.KeyMaterial().ContentKey
	if ck == nil {
		return nil, invalid("no content key")
	}
	return ck, nil
}

// DeviceKey returns the ECC_DEVICE_KEY (0x2A): the P-256 public key the
// content key was encrypted to. The caller compares it with its own
// encryption key (docs/formats/xmr.md §8).
func (l *License) DeviceKey() (ecc.Point, bool) {
	p := l.KeyMaterial().DeviceKey
	if p == nil {
		return ecc.Point{}, false
	}
	return *p, true
}

// MinSecurityLevel returns the minimum security level from SECURITY_LEVEL
// (0x34) or MINIMUM_ENVIRONMENT (0x03); 0 if absent.
func (l *License) MinSecurityLevel() uint16 { return l.Policy().MinSecurityLevel }

// Persistent reports whether the license may be stored: SETTINGS (0x0D)
// does not set SettingCannotPersist.
func (l *License) Persistent() bool {
	s := l.Policy().Settings
	return s == nil || *s&SettingCannotPersist == 0
}
