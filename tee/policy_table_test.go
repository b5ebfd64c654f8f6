package tee_test

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/cmac"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/tee"
	"github.com/prsim/prsim/wire/xmr"
)

// provisionVersion provisions a device whose leaf records a PlayReady version.
func provisionVersion(t *testing.T, b *tee.Backend, sl uint32, version string) *tee.Device {
	t.Helper()
	d, err := getFixture().ProvisionTEE(b, sl, version)
	require.NoError(t, err)
	return d
}

func u16b(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func u32b(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func leafOf(typ uint16, body []byte) *xmr.Object {
	f, _ := xmr.CanonicalFlags(typ)
	return xmr.NewLeaf(f, typ, body)
}

func boxOf(typ uint16, children ...*xmr.Object) *xmr.Object {
	f, _ := xmr.CanonicalFlags(typ)
	return xmr.NewContainer(f, typ, children...)
}

var guid16 = make([]byte, 16)

// sample is an object of one row's type placed where the XMR table puts it.
type sample struct {
	parent uint16 // container the object goes into (created under the outer container if absent)
	obj    *xmr.Object
	tweak  func(*xmr.Template) // instead of obj, for objects the template always writes
}

// samples has one object per row whose presence a license can vary. The
// structural rows every license carries (outer, global, key material,
// content key, signature, device key, security level, settings) are
// covered by every bind.
func samples() map[uint16]sample {
	g, p, o, k := xmr.TypeGlobalPolicyContainer, xmr.TypePlaybackPolicyContainer, xmr.TypeOuterContainer, xmr.TypeKeyMaterialContainer
	cfg := append(append([]byte(nil), guid16...), 0, 0, 0, 1)
	return map[uint16]sample{
		xmr.TypeOutputProtection:              {parent: p, obj: leafOf(xmr.TypeOutputProtection, make([]byte, 10))},
		xmr.TypeUplinkKID:                     {parent: k, obj: leafOf(xmr.TypeUplinkKID, append(append([]byte(nil), guid16...), 0, 0))},
		xmr.TypeExplicitAnalogVideoContainer:  {parent: p, obj: boxOf(xmr.TypeExplicitAnalogVideoContainer, leafOf(xmr.TypeAnalogVideoOutputConfig, cfg))},
		xmr.TypeAnalogVideoOutputConfig:       {parent: p, obj: boxOf(xmr.TypeExplicitAnalogVideoContainer, leafOf(xmr.TypeAnalogVideoOutputConfig, cfg))},
		xmr.TypeSerialNumber:                  {parent: g, obj: leafOf(xmr.TypeSerialNumber, []byte{1, 2, 3, 4})},
		xmr.TypeCopyPolicyContainer:           {parent: o, obj: boxOf(xmr.TypeCopyPolicyContainer, leafOf(xmr.TypeCopyCount, u32b(1)))},
		xmr.TypeCopyCount:                     {parent: o, obj: boxOf(xmr.TypeCopyPolicyContainer, leafOf(xmr.TypeCopyCount, u32b(1)))},
		xmr.TypeCopyProtection:                {parent: o, obj: boxOf(xmr.TypeCopyPolicyContainer, leafOf(xmr.TypeCopyProtection, u16b(400)))},
		xmr.TypeAllowPlaylistBurnContainer:    {parent: o, obj: boxOf(xmr.TypeAllowPlaylistBurnContainer, leafOf(xmr.TypePlaylistBurnCount, append(u32b(1), u32b(1)...)))},
		xmr.TypePlaylistBurnCount:             {parent: o, obj: boxOf(xmr.TypeAllowPlaylistBurnContainer, leafOf(xmr.TypePlaylistBurnCount, append(u32b(1), u32b(1)...)))},
		xmr.TypeInclusionList:                 {parent: g, obj: leafOf(xmr.TypeInclusionList, append(u32b(1), guid16...))},
		xmr.TypePriority:                      {parent: g, obj: leafOf(xmr.TypePriority, u32b(1))},
		xmr.TypeExpiration:                    {parent: g, obj: leafOf(xmr.TypeExpiration, append(u32b(1), u32b(0xFFFFFFFF)...))},
		xmr.TypeIssueDate:                     {tweak: func(m *xmr.Template) { m.IssueDate = 1 }},
		xmr.TypeExpirationAfterFirstUse:       {parent: g, obj: leafOf(xmr.TypeExpirationAfterFirstUse, u32b(60))},
		xmr.TypeExpirationAfterFirstStore:     {parent: g, obj: leafOf(xmr.TypeExpirationAfterFirstStore, u32b(60))},
		xmr.TypeMetering:                      {parent: g, obj: leafOf(xmr.TypeMetering, guid16)},
		xmr.TypePlayCount:                     {parent: p, obj: leafOf(xmr.TypePlayCount, u32b(3))},
		xmr.TypeGracePeriod:                   {parent: g, obj: leafOf(xmr.TypeGracePeriod, u32b(60))},
		xmr.TypeRevocationInfoVersion:         {parent: g, obj: leafOf(xmr.TypeRevocationInfoVersion, u32b(0))}, // RIV 0: the device holds no RevInfo (revocation_test.go checks the rest)
		xmr.TypeRSADeviceKey:                  {parent: k, obj: leafOf(xmr.TypeRSADeviceKey, append(append(u32b(65537), u16b(4)...), 1, 2, 3, 4))},
		xmr.TypeSourceID:                      {parent: g, obj: leafOf(xmr.TypeSourceID, u32b(1))},
		xmr.TypeRevocationContainer:           {parent: o, obj: boxOf(xmr.TypeRevocationContainer, leafOf(xmr.TypeUserID, []byte{1}))},
		xmr.TypeRSALicenseGranterKey:          {parent: o, obj: boxOf(xmr.TypeRevocationContainer, leafOf(xmr.TypeRSALicenseGranterKey, append(append(u32b(65537), u16b(4)...), 1, 2, 3, 4)))},
		xmr.TypeUserID:                        {parent: o, obj: boxOf(xmr.TypeRevocationContainer, leafOf(xmr.TypeUserID, []byte{1}))},
		xmr.TypeRestrictedSourceID:            {parent: g, obj: leafOf(xmr.TypeRestrictedSourceID, nil)},
		xmr.TypeDomainID:                      {parent: g, obj: leafOf(xmr.TypeDomainID, append(append([]byte(nil), guid16...), u32b(1)...))},
		xmr.TypeGenerationNumber:              {parent: o, obj: leafOf(xmr.TypeGenerationNumber, u32b(1))},
		xmr.TypePolicyMetadata:                {parent: g, obj: leafOf(xmr.TypePolicyMetadata, append(append([]byte(nil), guid16...), 9))},
		xmr.TypeOptimizedContentKey:           {parent: k, obj: leafOf(xmr.TypeOptimizedContentKey, append(append(u16b(1), u16b(2)...), 1, 2))},
		xmr.TypeExplicitDigitalAudioContainer: {parent: p, obj: boxOf(xmr.TypeExplicitDigitalAudioContainer, leafOf(xmr.TypeDigitalAudioOutputConfig, cfg))},
		xmr.TypeDigitalAudioOutputConfig:      {parent: p, obj: boxOf(xmr.TypeExplicitDigitalAudioContainer, leafOf(xmr.TypeDigitalAudioOutputConfig, cfg))},
		xmr.TypeRingtonePolicyContainer:       {parent: o, obj: boxOf(xmr.TypeRingtonePolicyContainer)},
		xmr.TypeExpirationAfterFirstPlay:      {parent: g, obj: leafOf(xmr.TypeExpirationAfterFirstPlay, u32b(60))},
		xmr.TypeRevocationInfoVersion2:        {tweak: func(m *xmr.Template) { m.RIV = 0 }},
		xmr.TypeEmbeddingBehavior:             {parent: g, obj: leafOf(xmr.TypeEmbeddingBehavior, u16b(xmr.EmbeddingBehaviorIgnore))},
		xmr.TypeCopyToPCContainer:             {parent: o, obj: boxOf(xmr.TypeCopyToPCContainer)},
		xmr.TypePlayEnablerContainer:          {parent: p, obj: boxOf(xmr.TypePlayEnablerContainer, leafOf(xmr.TypePlayEnabler, guid16))},
		xmr.TypePlayEnabler:                   {parent: p, obj: boxOf(xmr.TypePlayEnablerContainer, leafOf(xmr.TypePlayEnabler, guid16))},
		xmr.TypeMoveEnabler:                   {parent: o, obj: boxOf(xmr.TypeCopyPolicy2Container, leafOf(xmr.TypeMoveEnabler, u32b(1)))},
		xmr.TypeCopyEnablerContainer:          {parent: o, obj: boxOf(xmr.TypeCopyPolicy2Container, boxOf(xmr.TypeCopyEnablerContainer, leafOf(xmr.TypeCopyEnabler, guid16)))},
		xmr.TypeCopyEnabler:                   {parent: o, obj: boxOf(xmr.TypeCopyPolicy2Container, boxOf(xmr.TypeCopyEnablerContainer, leafOf(xmr.TypeCopyEnabler, guid16)))},
		xmr.TypeUplinkKID2:                    {parent: k, obj: leafOf(xmr.TypeUplinkKID2, append(append(append([]byte(nil), guid16...), u16b(1)...), 0, 0))},
		xmr.TypeCopyPolicy2Container:          {parent: o, obj: boxOf(xmr.TypeCopyPolicy2Container, leafOf(xmr.TypeCopyCount2, u32b(1)))},
		xmr.TypeCopyCount2:                    {parent: o, obj: boxOf(xmr.TypeCopyPolicy2Container, leafOf(xmr.TypeCopyCount2, u32b(1)))},
		xmr.TypeRingtoneEnabler:               {parent: p, obj: leafOf(xmr.TypeRingtoneEnabler, nil)},
		xmr.TypeExecutePolicyContainer:        {parent: o, obj: boxOf(xmr.TypeExecutePolicyContainer, leafOf(xmr.TypeExecutePolicy, nil))},
		xmr.TypeExecutePolicy:                 {parent: o, obj: boxOf(xmr.TypeExecutePolicyContainer, leafOf(xmr.TypeExecutePolicy, nil))},
		xmr.TypeReadPolicyContainer:           {parent: o, obj: boxOf(xmr.TypeReadPolicyContainer)},
		xmr.TypeExtensiblePolicyFirst:         {parent: o, obj: xmr.NewContainer(xmr.FlagContainer|xmr.FlagAllowExternalParse, 0x0045)},
		xmr.TypeRemovalDate:                   {parent: g, obj: leafOf(xmr.TypeRemovalDate, u32b(2000000000))},
		xmr.TypeAuxKey:                        {parent: k, obj: leafOf(xmr.TypeAuxKey, append(append(u16b(1), u32b(0)...), guid16...))},
		xmr.TypeUplinkX:                       {parent: k, obj: leafOf(xmr.TypeUplinkX, append(append([]byte(nil), guid16...), 0, 0, 0, 0))},
		xmr.TypeApplicationIDList:             {parent: p, obj: leafOf(xmr.TypeApplicationIDList, []byte{1, 2})},
		xmr.TypeRealTimeExpiration:            {parent: g, obj: leafOf(xmr.TypeRealTimeExpiration, nil)},
		xmr.TypeNDTxAuthContainer:             {parent: o, obj: boxOf(xmr.TypeNDTxAuthContainer, leafOf(xmr.TypeNDTxAuth, []byte{1}))},
		xmr.TypeNDTxAuth:                      {parent: o, obj: boxOf(xmr.TypeNDTxAuthContainer, leafOf(xmr.TypeNDTxAuth, []byte{1}))},
		xmr.TypeExplicitDigitalVideoContainer: {parent: p, obj: boxOf(xmr.TypeExplicitDigitalVideoContainer, leafOf(xmr.TypeDigitalVideoOutputConfig, cfg))},
		xmr.TypeDigitalVideoOutputConfig:      {parent: p, obj: boxOf(xmr.TypeExplicitDigitalVideoContainer, leafOf(xmr.TypeDigitalVideoOutputConfig, cfg))},
		xmr.TypeSecureStop:                    {parent: g, obj: leafOf(xmr.TypeSecureStop, guid16)},
		xmr.TypeSecureStop2:                   {parent: g, obj: leafOf(xmr.TypeSecureStop2, append(u16b(1), make([]byte, 24)...))},
		xmr.TypeOptimizedContentKey2:          {parent: k, obj: leafOf(xmr.TypeOptimizedContentKey2, []byte{1})},
	}
}

// structural rows are in every license prsim's server issues.
var structural = map[uint16]bool{
	xmr.TypeOuterContainer: true, xmr.TypeGlobalPolicyContainer: true, xmr.TypeKeyMaterialContainer: true,
	xmr.TypeContentKey: true, xmr.TypeSignature: true, xmr.TypeECCDeviceKey: true, xmr.TypeSecurityLevel: true,
	xmr.TypeSettings: true, xmr.TypePlaybackPolicyContainer: true,
	// The v1 form of SECURITY_LEVEL: a license holds exactly one of them and
	// the builder writes version 3 only; both go through the same level check.
	xmr.TypeMinimumEnvironment: true,
}

// licenseCarrying builds a signed, persistent license for d that carries s.
func licenseCarrying(t *testing.T, d *tee.Device, s sample, play bool) []byte {
	t.Helper()
	m, ci, err := ecc.EmbedKey(rand.Reader, testCK)
	require.NoError(t, err)
	ct, err := ecc.Encrypt(rand.Reader, d.EncryptionKey(), m)
	require.NoError(t, err)
	tm := &xmr.Template{
		MinSecurityLevel: 150, IssueDate: uint32(time.Now().Unix()), Play: play,
		ContentKey: xmr.ContentKey{KID: testKID, KeyType: xmr.KeyTypeAESCTR, CipherType: xmr.CipherECC256, EncKey: ct[:]},
		DeviceKey:  d.EncryptionKey(),
	}
	if s.tweak != nil {
		s.tweak(tm)
	}
	raw, err := tm.Build(ci[:])
	require.NoError(t, err)
	if s.obj == nil {
		return raw
	}
	l, err := xmr.Parse(raw)
	require.NoError(t, err)
	parent := l.Outer
	if s.parent != xmr.TypeOuterContainer {
		parent = l.Outer.Child(s.parent)
		if parent == nil {
			parent = boxOf(s.parent)
			l.Outer.Children = append([]*xmr.Object{parent}, l.Outer.Children...)
		}
	}
	if s.parent == xmr.TypeOuterContainer {
		// Before the key material and the signature.
		n := len(l.Outer.Children)
		l.Outer.Children = append(l.Outer.Children[:n-2:n-2], s.obj, l.Outer.Children[n-2], l.Outer.Children[n-1])
	} else {
		parent.Children = append(parent.Children, s.obj)
	}
	b := l.Bytes()
	tag, err := cmac.Sum(ci[:], b[:len(b)-12-16])
	require.NoError(t, err)
	copy(b[len(b)-16:], tag[:])
	_, err = xmr.Parse(b)
	require.NoError(t, err, "sample for 0x%04x must parse", s.obj.Type)
	return b
}

// TestEveryXMRTypeHasARule: the table covers every type docs/formats/xmr.md
// §5 names, so a new type cannot be bound unnoticed.
func TestEveryXMRTypeHasARule(t *testing.T) {
	for typ := uint16(1); typ <= 0x00FF; typ++ {
		if xmr.TypeName(typ) == "UNKNOWN" {
			continue
		}
		r, ok := tee.RuleFor(typ)
		require.True(t, ok, "no rule for %s (0x%04x)", xmr.TypeName(typ), typ)
		require.NotEmpty(t, r.Reason, "0x%04x", typ)
		if r.Handling == tee.HandledRefused || r.RefusedFrom != "" || r.RefusedBefore != "" {
			require.NotZero(t, r.Code, "a refusing row needs a code: 0x%04x", typ)
		}
	}
}

// TestRulesDecideEveryBind builds, for every row and persona, a license
// carrying the row's object: a refusing row refuses the bind with its code
// and names the object; any other row binds.
func TestRulesDecideEveryBind(t *testing.T) {
	b := openSoft(t)
	devs := map[string]*tee.Device{"2.0": provisionVersion(t, b, 3000, "2.0"), "4.5": provisionVersion(t, b, 3000, "4.5")}
	smp := samples()
	for _, r := range tee.Rules() {
		for v, d := range devs {
			t.Run(fmt.Sprintf("%s/%s", r.Name(), v), func(t *testing.T) {
				s, ok := smp[r.Type]
				if !ok {
					require.True(t, structural[r.Type], "row 0x%04x needs a sample", r.Type)
					require.False(t, r.Refuses(d.Persona()), "a structural row cannot refuse")
					return
				}
				k, err := d.Bind(licenseCarrying(t, d, s, true))
				if r.Refuses(d.Persona()) {
					require.ErrorIs(t, err, r.Code)
					var re *tee.RefusalError
					require.True(t, errors.As(err, &re))
					// The row's object, or the sample's container when that
					// refuses first (a copy count inside a copy right).
					outer := r.Type
					if s.obj != nil {
						outer = s.obj.Type
					}
					require.Contains(t, []uint16{r.Type, outer}, re.Type)
					by, _ := tee.RuleFor(re.Type)
					require.Contains(t, err.Error(), by.Reason)
					require.Nil(t, k)
					return
				}
				require.NoError(t, err, "row %s is %s for %s", r.Name(), r.Handling, v)
				require.NoError(t, k.Close())
			})
		}
	}
}

// TestPersonaRows pins the persona-dependent rows the issue names.
func TestPersonaRows(t *testing.T) {
	b := openSoft(t)
	pr2, pr3 := provisionVersion(t, b, 2000, "2.0"), provisionVersion(t, b, 2000, "3.0")
	smp := samples()
	// PR3.0+ accepts only Play: Copy, Execute, Read refused; 2.0 ignores them.
	for _, typ := range []uint16{xmr.TypeCopyPolicy2Container, xmr.TypeExecutePolicyContainer, xmr.TypeReadPolicyContainer} {
		_, err := pr3.Bind(licenseCarrying(t, pr3, smp[typ], true))
		require.ErrorIs(t, err, drm.ErrRightsNotAvailable, xmr.TypeName(typ))
		k, err := pr2.Bind(licenseCarrying(t, pr2, smp[typ], true))
		require.NoError(t, err, xmr.TypeName(typ))
		k.Close()
	}
	// A license with no Play right (only Read) is refused by every persona.
	for _, d := range []*tee.Device{pr2, pr3} {
		_, err := d.Bind(licenseCarrying(t, d, smp[xmr.TypeReadPolicyContainer], false))
		require.ErrorIs(t, err, drm.ErrRightsNotAvailable)
	}
	// 2.0 does not understand digital video output protections.
	_, err := pr2.Bind(licenseCarrying(t, pr2, smp[xmr.TypeExplicitDigitalVideoContainer], true))
	require.ErrorIs(t, err, drm.ErrExtendedRestrictionNotUnderstood)
	k, err := pr3.Bind(licenseCarrying(t, pr3, smp[xmr.TypeExplicitDigitalVideoContainer], true))
	require.NoError(t, err)
	k.Close()
}

// TestUnknownObjects: an unknown must-understand object is refused wherever
// it sits (also inside an unknown container that is not itself
// must-understand); unknown objects without the flag, best-effort ones
// included, never block.
func TestUnknownObjects(t *testing.T) {
	d := provisionVersion(t, openSoft(t), 2000, "4.5")
	p := xmr.TypePlaybackPolicyContainer
	for name, c := range map[string]struct {
		s    sample
		code error
	}{
		"must-understand":           {sample{parent: p, obj: xmr.NewLeaf(xmr.FlagMustUnderstand|xmr.FlagAllowExternalParse, 0x0400, []byte{1})}, drm.ErrExtendedRestrictionNotUnderstood},
		"must-understand-in-right":  {sample{parent: xmr.TypeOuterContainer, obj: xmr.NewContainer(xmr.FlagContainer|xmr.FlagAllowExternalParse, 0x0500, xmr.NewLeaf(xmr.FlagMustUnderstand, 0x0401, []byte{1}))}, drm.ErrExtendedRestrictionNotUnderstood},
		"best-effort":               {sample{parent: p, obj: xmr.NewLeaf(xmr.FlagBestEffort|xmr.FlagAllowExternalParse, 0x0402, []byte{1})}, nil},
		"optional":                  {sample{parent: p, obj: xmr.NewLeaf(xmr.FlagAllowExternalParse, 0x0403, []byte{1})}, nil},
		"must-understand-misplaced": {sample{parent: p, obj: xmr.NewLeaf(xmr.FlagMustUnderstand|xmr.FlagAllowExternalParse, xmr.TypeSourceID, u32b(1))}, drm.ErrExtendedRestrictionNotUnderstood},
	} {
		k, err := d.Bind(licenseCarrying(t, d, c.s, true))
		if c.code != nil {
			require.ErrorIs(t, err, c.code, name)
			continue
		}
		require.NoError(t, err, name)
		k.Close()
	}
}
