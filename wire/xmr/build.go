package xmr

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/prsim/prsim/internal/cmac"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/wire/kid"
)

// Template describes a version-3 license for [Template.Build]. Optional
// objects are written when their field is non-nil / non-zero.
type Template struct {
	RightsID             [16]byte // the challenge nonce for non-persistent licenses (docs/formats/soap.md §8)
	MinSecurityLevel     uint16   // 0x34
	RIV                  uint32   // 0x32
	IssueDate            uint32   // 0x13; 0 = omit
	Expiration           *Expiration
	ExpireAfterFirstPlay *uint32 // 0x30, seconds
	RemovalDate          *uint32 // 0x50
	RealTimeExpiration   bool    // 0x55
	Settings             *uint16 // 0x0D, e.g. SettingCannotPersist
	SecureStopID         *[16]byte
	// SecureStop2Key, when set, is wrapped under the content integrity key
	// and written as SECURESTOP2 (0x5C) in the global policy container.
	// It must be kept secret.
	SecureStop2Key *[16]byte
	SourceID       *uint32 // 0x22
	Domain         *Domain // 0x29; forbids Uplink

	Play         bool // include PLAYBACK_POLICY_CONTAINER (the Play right)
	Read         bool // include READ_POLICY_CONTAINER (0x41; PlayReady before 3.0 only)
	Execute      bool // include EXECUTE_POLICY_CONTAINER{EXECUTE_POLICY} (0x3F{0x40}; PlayReady before 3.0 only)
	OPL          *OPL
	AnalogVideo  []OutputConfig // 0x07{0x08…}
	DigitalAudio []OutputConfig // 0x2E{0x31…}
	DigitalVideo []OutputConfig // 0x58{0x59…}
	PlayEnablers []kid.ID       // one 0x36{0x39} per enabler
	// Restrictions are extensible restrictions of the Play right (in the
	// playback container); ExtensibleRights are extensible right
	// containers in the outer container.
	Restrictions     []ExtensibleRestriction
	ExtensibleRights []ExtensibleRight

	ContentKey ContentKey
	DeviceKey  ecc.Point // 0x2A; the zero point omits it (chained leaf licenses)
	Uplink     *Uplink   // 0x3B, for chained leaf licenses

	Extra      []*Object // appended raw to the global policy container
	PlayExtra  []*Object // appended raw to the playback container (extensible restrictions)
	OuterExtra []*Object // inserted raw into the outer container before the key material (extensible rights)
}

// ExtensibleRestriction is an object the XMR table does not define, handed
// to the application (flag E) with the must-understand (M) and best-effort
// (B) flags the issuer asked for (docs/formats/xmr.md §3).
type ExtensibleRestriction struct {
	Type           uint16
	MustUnderstand bool
	BestEffort     bool
	Data           []byte
}

// Flags returns the object flags the restriction is written with.
func (r ExtensibleRestriction) Flags() uint16 {
	f := FlagAllowExternalParse
	if r.MustUnderstand {
		f |= FlagMustUnderstand
	}
	if r.BestEffort {
		f |= FlagBestEffort
	}
	return f
}

// ExtensibleRight is an extensible right: a container (flags C|E) of a type
// the table does not define, or one of EXTENSIBLE_POLICY_RESERVED_42…4F,
// holding its restrictions.
type ExtensibleRight struct {
	Type         uint16
	Restrictions []ExtensibleRestriction
}

// checkExtensible rejects an extensible restriction whose type the table
// defines: a reader would take it for that object.
func checkExtensible(rs []ExtensibleRestriction) error {
	for _, r := range rs {
		if _, ok := lookup(r.Type); ok || r.Type == 0 {
			return fmt.Errorf("xmr: extensible restriction type 0x%04x is reserved or defined by the table", r.Type)
		}
		if len(r.Data) > 0xFFFF {
			return errors.New("xmr: extensible restriction data too long")
		}
	}
	return nil
}

// Build encodes the license and signs it with the content integrity key ci
// (docs/formats/xmr.md §9, §12): canonical flags of §5, the signature last, its tag
// the AES-CMAC under ci of every byte before the signature object.
//
// Build checks its own fields but not the Extra objects, so tests can build
// licenses that Parse rejects.
func (t *Template) Build(ci []byte) ([]byte, error) {
	if len(ci) != 16 {
		return nil, errors.New("xmr: content integrity key must be 16 bytes")
	}
	ck := t.ContentKey
	if !keyTypeAllowed(Version3, ck.KeyType) {
		return nil, errors.New("xmr: content keyType not allowed in a version 3 license")
	}
	switch ck.CipherType {
	case CipherECC256, CipherECC256KZ:
		if len(ck.EncKey) != EncKeySizeECC256 {
			return nil, errors.New("xmr: ECC-256 encKey must be 128 bytes")
		}
	case CipherChained:
		if len(ck.EncKey) != EncKeySizeChained {
			return nil, errors.New("xmr: chained encKey must be 32 bytes")
		}
	}
	if len(ck.EncKey) > 0xFFFF {
		return nil, errors.New("xmr: encKey too long")
	}
	if t.Domain != nil && t.Uplink != nil {
		return nil, errors.New("xmr: a domain-bound license may not hold an uplink KID")
	}
	if t.Uplink != nil && len(t.Uplink.Checksum) > 0xFFFF {
		return nil, errors.New("xmr: uplink checksum too long")
	}
	if !t.Play && (t.OPL != nil || len(t.AnalogVideo)+len(t.DigitalAudio)+len(t.DigitalVideo)+len(t.PlayEnablers)+len(t.PlayExtra)+len(t.Restrictions) > 0) {
		return nil, errors.New("xmr: output restrictions need the Play right")
	}

	if err := checkExtensible(t.Restrictions); err != nil {
		return nil, err
	}
	for _, r := range t.ExtensibleRights {
		if _, ok := lookup(r.Type); (ok && !extensiblePolicy(r.Type)) || r.Type == 0 {
			return nil, fmt.Errorf("xmr: extensible right type 0x%04x is reserved or defined by the table", r.Type)
		}
		if err := checkExtensible(r.Restrictions); err != nil {
			return nil, err
		}
	}

	ss2, err := t.secureStop2(ci)
	if err != nil {
		return nil, err
	}
	outer := NewContainer(flagsMC, TypeOuterContainer, t.global(ss2))
	if t.Play {
		outer.Children = append(outer.Children, t.playback())
	}
	if t.Read {
		outer.Children = append(outer.Children, NewContainer(types[TypeReadPolicyContainer].flags, TypeReadPolicyContainer))
	}
	if t.Execute {
		outer.Children = append(outer.Children, NewContainer(types[TypeExecutePolicyContainer].flags, TypeExecutePolicyContainer,
			leaf(TypeExecutePolicy, nil)))
	}
	for _, r := range t.ExtensibleRights {
		outer.Children = append(outer.Children, NewContainer(flagsCE, r.Type, restrictionObjects(r.Restrictions)...))
	}
	outer.Children = append(outer.Children, t.OuterExtra...)
	outer.Children = append(outer.Children, t.keyMaterial())
	var sig [4 + signatureTagSize]byte
	binary.BigEndian.PutUint16(sig[0:], SignatureTypeAESCMAC)
	binary.BigEndian.PutUint16(sig[2:], signatureTagSize)
	outer.Children = append(outer.Children, NewLeaf(FlagMustUnderstand, TypeSignature, sig[:]))

	if uint64(HeaderSize+outer.Len()) > maxLicenseLen {
		return nil, errors.New("xmr: license too long")
	}
	l := &License{Version: Version3, RightsID: t.RightsID, Outer: outer}
	b := l.Bytes()
	tag, err := cmac.Sum(ci, b[:len(b)-signatureHeaderAndFieldLen-signatureTagSize])
	if err != nil {
		return nil, fmt.Errorf("xmr: failed to compute the license MAC: %w", err)
	}
	copy(b[len(b)-signatureTagSize:], tag[:])
	return b, nil
}

// maxLicenseLen keeps every length field within u32.
const maxLicenseLen = 1<<32 - 1

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func guidBytes(id kid.ID) []byte {
	g := id.GUID()
	return g[:]
}

func leaf(t uint16, body []byte) *Object {
	return NewLeaf(types[t].flags, t, body)
}

// global writes the global policy container; ss2 is the SECURESTOP2 body
// (nil: none).
func (t *Template) global(ss2 []byte) *Object {
	g := NewContainer(flagsMC, TypeGlobalPolicyContainer,
		leaf(TypeSecurityLevel, u16(t.MinSecurityLevel)),
		leaf(TypeRevocationInfoVersion2, u32(t.RIV)))
	add := func(o *Object) { g.Children = append(g.Children, o) }
	if t.IssueDate != 0 {
		add(leaf(TypeIssueDate, u32(t.IssueDate)))
	}
	if e := t.Expiration; e != nil {
		add(leaf(TypeExpiration, append(u32(e.Begin), u32(e.End)...)))
	}
	if t.ExpireAfterFirstPlay != nil {
		add(leaf(TypeExpirationAfterFirstPlay, u32(*t.ExpireAfterFirstPlay)))
	}
	if t.RemovalDate != nil {
		add(leaf(TypeRemovalDate, u32(*t.RemovalDate)))
	}
	if t.RealTimeExpiration {
		add(leaf(TypeRealTimeExpiration, nil))
	}
	if t.Settings != nil {
		add(leaf(TypeSettings, u16(*t.Settings)))
	}
	if t.SecureStopID != nil {
		add(leaf(TypeSecureStop, append([]byte{}, t.SecureStopID[:]...)))
	}
	if ss2 != nil {
		add(leaf(TypeSecureStop2, ss2))
	}
	if t.SourceID != nil {
		add(leaf(TypeSourceID, u32(*t.SourceID)))
	}
	if d := t.Domain; d != nil {
		add(leaf(TypeDomainID, append(append([]byte{}, d.AccountID[:]...), u32(d.Revision)...)))
	}
	g.Children = append(g.Children, t.Extra...)
	return g
}

func (t *Template) playback() *Object {
	p := NewContainer(types[TypePlaybackPolicyContainer].flags, TypePlaybackPolicyContainer)
	add := func(o *Object) { p.Children = append(p.Children, o) }
	if o := t.OPL; o != nil {
		var b []byte
		for _, v := range []uint16{o.CompressedDigitalVideo, o.UncompressedDigitalVideo, o.AnalogVideo, o.CompressedDigitalAudio, o.UncompressedDigitalAudio} {
			b = binary.BigEndian.AppendUint16(b, v)
		}
		add(leaf(TypeOutputProtection, b))
	}
	explicit := func(ct, et uint16, cfgs []OutputConfig) {
		if len(cfgs) == 0 {
			return
		}
		c := NewContainer(types[ct].flags, ct)
		for _, cfg := range cfgs {
			c.Children = append(c.Children, leaf(et, append(guidBytes(cfg.ID), cfg.Data...)))
		}
		add(c)
	}
	explicit(TypeExplicitAnalogVideoContainer, TypeAnalogVideoOutputConfig, t.AnalogVideo)
	explicit(TypeExplicitDigitalAudioContainer, TypeDigitalAudioOutputConfig, t.DigitalAudio)
	explicit(TypeExplicitDigitalVideoContainer, TypeDigitalVideoOutputConfig, t.DigitalVideo)
	// One container per enabler: the table marks 0x36 itself "dup ok",
	// which only makes sense if each container carries one enabler.
	for _, id := range t.PlayEnablers {
		add(NewContainer(types[TypePlayEnablerContainer].flags, TypePlayEnablerContainer, leaf(TypePlayEnabler, guidBytes(id))))
	}
	p.Children = append(p.Children, restrictionObjects(t.Restrictions)...)
	p.Children = append(p.Children, t.PlayExtra...)
	return p
}

func restrictionObjects(rs []ExtensibleRestriction) []*Object {
	out := make([]*Object, 0, len(rs))
	for _, r := range rs {
		out = append(out, NewLeaf(r.Flags(), r.Type, append([]byte{}, r.Data...)))
	}
	return out
}

func (t *Template) keyMaterial() *Object {
	ck := t.ContentKey
	b := guidBytes(ck.KID)
	b = binary.BigEndian.AppendUint16(b, ck.KeyType)
	b = binary.BigEndian.AppendUint16(b, ck.CipherType)
	b = binary.BigEndian.AppendUint16(b, uint16(len(ck.EncKey)))
	b = append(b, ck.EncKey...)
	k := NewContainer(flagsMC, TypeKeyMaterialContainer, leaf(TypeContentKey, b))
	if t.DeviceKey != (ecc.Point{}) {
		d := binary.BigEndian.AppendUint16(nil, CurveP256)
		d = binary.BigEndian.AppendUint16(d, ecc.PointSize)
		k.Children = append(k.Children, leaf(TypeECCDeviceKey, append(d, t.DeviceKey[:]...)))
	}
	if u := t.Uplink; u != nil {
		d := guidBytes(u.KID)
		d = binary.BigEndian.AppendUint16(d, u.ChecksumType)
		d = binary.BigEndian.AppendUint16(d, uint16(len(u.Checksum)))
		k.Children = append(k.Children, leaf(TypeUplinkKID2, append(d, u.Checksum...)))
	}
	return k
}
