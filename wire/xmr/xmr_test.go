package xmr

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/cmac"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/wire/kid"
	"github.com/stretchr/testify/require"
)

func TestBuildParseRoundTrip(t *testing.T) {
	for name, tp := range map[string]*Template{"minimal": minimalTemplate(t), "full": fullTemplate(t)} {
		t.Run(name, func(t *testing.T) {
			b := build(t, tp)
			l := mustParse(t, b)
			require.Equal(t, b, l.Bytes())
			require.Equal(t, Version3, l.Version)
			require.Equal(t, tp.RightsID, l.RightsID)
			require.NoError(t, l.VerifySignature(testCI))

			ck, err := l.ContentKey()
			require.NoError(t, err)
			require.Equal(t, tp.ContentKey, *ck)
			dk, ok := l.DeviceKey()
			require.True(t, ok)
			require.Equal(t, tp.DeviceKey, dk)
			require.Equal(t, tp.MinSecurityLevel, l.MinSecurityLevel())
			require.Equal(t, tp.Settings == nil, l.Persistent())

			p := l.Policy()
			require.Equal(t, Policy{
				MinSecurityLevel:     tp.MinSecurityLevel,
				RIV:                  tp.RIV,
				IssueDate:            tp.IssueDate,
				Expiration:           tp.Expiration,
				ExpireAfterFirstPlay: tp.ExpireAfterFirstPlay,
				RemovalDate:          tp.RemovalDate,
				RealTimeExpiration:   tp.RealTimeExpiration,
				Settings:             tp.Settings,
				SecureStopID:         tp.SecureStopID,
				SourceID:             tp.SourceID,
				Play:                 true,
				OPL:                  tp.OPL,
				AnalogVideo:          tp.AnalogVideo,
				DigitalAudio:         tp.DigitalAudio,
				DigitalVideo:         tp.DigitalVideo,
				PlayEnablers:         tp.PlayEnablers,
			}, p)
		})
	}
}

// The canonical flags and layout of docs/formats/xmr.md §5 and §12, checked on the
// built tree.
func TestBuildLayout(t *testing.T) {
	l := mustParse(t, build(t, fullTemplate(t)))
	var outer []uint16
	for _, c := range l.Outer.Children {
		outer = append(outer, c.Type)
	}
	require.Equal(t, []uint16{TypeGlobalPolicyContainer, TypePlaybackPolicyContainer, TypeKeyMaterialContainer, TypeSignature}, outer)
	var walk func(o *Object)
	walk = func(o *Object) {
		want, ok := CanonicalFlags(o.Type)
		require.True(t, ok, "type 0x%04x", o.Type)
		require.Equal(t, want, o.Flags, "type 0x%04x", o.Type)
		for _, c := range o.Children {
			walk(c)
		}
	}
	walk(l.Outer)
	require.Equal(t, uint16(0x0003), l.Outer.Flags)
	require.Equal(t, uint16(0x0002), find(l, TypePlaybackPolicyContainer, TypePlayEnablerContainer).Flags)
	require.Len(t, find(l, TypePlaybackPolicyContainer).ChildrenOf(TypePlayEnablerContainer), 2)

	// GUIDs are on the wire in LE layout (docs/formats/xmr.md §1 example).
	le, _ := hex.DecodeString("d8276678a6c2be448f8808ae255b01a7")
	require.Equal(t, le, find(l, TypePlaybackPolicyContainer, TypePlayEnablerContainer, TypePlayEnabler).Body)
	ck := find(l, TypeKeyMaterialContainer, TypeContentKey).Body
	g := testKID.GUID()
	require.Equal(t, g[:], ck[:16])

	// No Play right: no playback container.
	tp := minimalTemplate(t)
	tp.Play = false
	l = mustParse(t, build(t, tp))
	require.Nil(t, find(l, TypePlaybackPolicyContainer))
	require.False(t, l.Policy().Play)
}

func TestBuildRejects(t *testing.T) {
	for name, mut := range map[string]func(*Template){
		"keyType RC4 in v3":     func(tp *Template) { tp.ContentKey.KeyType = KeyTypeRC4 },
		"short ECC encKey":      func(tp *Template) { tp.ContentKey.EncKey = tp.ContentKey.EncKey[:127] },
		"chained encKey 128":    func(tp *Template) { tp.ContentKey.CipherType = CipherChained },
		"OPL without play":      func(tp *Template) { tp.Play = false; tp.OPL = &OPL{} },
		"enabler without play":  func(tp *Template) { tp.Play = false; tp.PlayEnablers = []kid.ID{guidAllowUnknownHD} },
		"domain with uplink":    func(tp *Template) { tp.Domain = &Domain{}; tp.Uplink = &Uplink{ChecksumType: 1} },
		"encKey over 64 KiB":    func(tp *Template) { tp.ContentKey.CipherType = 0; tp.ContentKey.EncKey = make([]byte, 1<<16) },
		"uplink checksum 64KiB": func(tp *Template) { tp.Uplink = &Uplink{Checksum: make([]byte, 1<<16)} },
	} {
		t.Run(name, func(t *testing.T) {
			tp := minimalTemplate(t)
			mut(tp)
			b, err := tp.Build(testCI)
			require.Error(t, err)
			require.Nil(t, b)
		})
	}
	b, err := minimalTemplate(t).Build(testCI[:15])
	require.Error(t, err)
	require.Nil(t, b)
}

// A chained leaf license: no device key, CipherChained, UPLINK_KID_2
// (docs/formats/xmr.md §11).
func TestChainedLeaf(t *testing.T) {
	tp := minimalTemplate(t)
	tp.DeviceKey = ecc.Point{}
	tp.ContentKey.CipherType = CipherChained
	tp.ContentKey.EncKey = bytes.Repeat([]byte{7}, EncKeySizeChained)
	root := kid.MustParse("11111111-2222-3333-4444-555555555555")
	tp.Uplink = &Uplink{KID: root, ChecksumType: ChecksumTypeAESOMAC1, Checksum: bytes.Repeat([]byte{9}, 16)}
	l := mustParse(t, build(t, tp))
	_, ok := l.DeviceKey()
	require.False(t, ok)
	km := l.KeyMaterial()
	require.Equal(t, tp.Uplink, km.Uplink)
	require.False(t, km.Scalable)
	require.NoError(t, l.VerifySignature(testCI))
}

func TestGolden(t *testing.T) {
	for _, name := range []string{"minimal", "full"} {
		t.Run(name, func(t *testing.T) {
			tp := minimalTemplate(t)
			if name == "full" {
				tp = fullTemplate(t)
			}
			b := build(t, tp)
			dump := mustParse(t, b).Dump()
			bin := filepath.Join("testdata", name+".xmr")
			txt := filepath.Join("testdata", name+".dump.txt")
			if *update {
				require.NoError(t, os.MkdirAll("testdata", 0o755))
				require.NoError(t, os.WriteFile(bin, b, 0o644))
				require.NoError(t, os.WriteFile(txt, []byte(dump), 0o644))
			}
			want, err := os.ReadFile(bin)
			require.NoError(t, err)
			require.Equal(t, want, b, "rerun with -update if the change is intended")
			wantDump, err := os.ReadFile(txt)
			require.NoError(t, err)
			require.Equal(t, string(wantDump), dump)
			// The committed file parses back to the same bytes and verifies.
			l := mustParse(t, want)
			require.Equal(t, want, l.Bytes())
			require.NoError(t, l.VerifySignature(testCI))
		})
	}
}

func TestSignature(t *testing.T) {
	b := build(t, fullTemplate(t))
	l := mustParse(t, b)
	require.NoError(t, l.VerifySignature(testCI))

	// Known answer by construction (docs/formats/xmr.md §9): the tag is the CMAC
	// under CI of license[0 : total-12-16], and SignedBytes is that prefix.
	signed := b[:len(b)-12-16]
	require.Equal(t, signed, l.SignedBytes())
	tag, err := cmac.Sum(testCI, signed)
	require.NoError(t, err)
	require.Equal(t, tag[:], b[len(b)-16:])

	t.Run("wrong key", func(t *testing.T) {
		require.ErrorIs(t, l.VerifySignature([]byte("another-16B-key!")), drm.ErrLicSignatureFailure)
		require.ErrorIs(t, l.VerifySignature(testCI[:8]), drm.ErrLicSignatureFailure)
	})

	t.Run("every flipped byte fails", func(t *testing.T) {
		parsed := 0
		for i := range b {
			if i >= len(signed) && i < len(b)-16 {
				continue // the 12 signature header bytes are not MACed
			}
			m := bytes.Clone(b)
			m[i] ^= 0x01
			ml, err := Parse(m)
			if err != nil {
				require.ErrorIs(t, err, drm.ErrInvalidLicense)
				continue
			}
			parsed++
			require.ErrorIs(t, ml.VerifySignature(testCI), drm.ErrLicSignatureFailure, "byte %d", i)
		}
		require.Greater(t, parsed, 200) // most flips (keys, dates, GUIDs, the tag) still parse
	})

	t.Run("MAC over 12 more bytes does not verify", func(t *testing.T) {
		m := bytes.Clone(b)
		wrong, err := cmac.Sum(testCI, m[:len(m)-16])
		require.NoError(t, err)
		copy(m[len(m)-16:], wrong[:])
		require.ErrorIs(t, mustParse(t, m).VerifySignature(testCI), drm.ErrLicSignatureFailure)
	})

	t.Run("HMAC signature type", func(t *testing.T) {
		hl := mustParse(t, b)
		sig := hl.Outer.Children[len(hl.Outer.Children)-1]
		sig.Body = cat(be16(SignatureTypeHMACSHA256), be16(32), make([]byte, 32))
		hl = mustParse(t, hl.Bytes())
		err := hl.VerifySignature(testCI)
		require.ErrorIs(t, err, drm.ErrInvalidLicense)
		require.NotErrorIs(t, err, drm.ErrLicSignatureFailure)
	})

	t.Run("Sign restores the tag", func(t *testing.T) {
		m := bytes.Clone(b)
		m[len(signed)-1] ^= 0xFF // last byte of the device key
		require.ErrorIs(t, mustParse(t, m).VerifySignature(testCI), drm.ErrLicSignatureFailure)
		require.NoError(t, Sign(m, testCI))
		require.NoError(t, mustParse(t, m).VerifySignature(testCI))
		require.Error(t, Sign(m, testCI[:15]))
		require.ErrorIs(t, Sign(m[:len(m)-1], testCI), drm.ErrInvalidLicense)
		require.ErrorIs(t, Sign(m[:20], testCI), drm.ErrInvalidLicense)
	})

	t.Run("edited tree without signature", func(t *testing.T) {
		el := mustParse(t, b)
		remove(el.Outer, TypeSignature)
		require.Nil(t, el.SignedBytes())
		require.ErrorIs(t, el.VerifySignature(testCI), drm.ErrInvalidLicense)
	})
}

// A real EncKey: embed CK, ElGamal-encrypt to the device key, build, parse,
// decrypt with the device scalar and recover CI‖CK (docs/formats/xmr.md §10).
func TestECCContentKey(t *testing.T) {
	d, pub := testDeviceKey(t)
	rnd := &detReader{seed: "xmr ecc test"}
	ck := [16]byte([]byte("content-key-0123"))
	m, ci, err := ecc.EmbedKey(rnd, ck)
	require.NoError(t, err)
	ct, err := ecc.Encrypt(rnd, pub, m)
	require.NoError(t, err)

	tp := minimalTemplate(t)
	tp.DeviceKey = pub
	tp.ContentKey.EncKey = ct[:]
	b, err := tp.Build(ci[:])
	require.NoError(t, err)

	l := mustParse(t, b)
	dk, ok := l.DeviceKey()
	require.True(t, ok)
	require.Equal(t, pub, dk)
	key, err := l.ContentKey()
	require.NoError(t, err)
	require.Equal(t, CipherECC256, key.CipherType)
	got, err := ecc.Decrypt(d, ecc.Ciphertext(key.EncKey))
	require.NoError(t, err)
	x := got.X()
	require.Equal(t, ci[:], x[:16])
	require.Equal(t, ck[:], x[16:])
	require.NoError(t, l.VerifySignature(x[:16]))
	require.ErrorIs(t, l.VerifySignature(testCI), drm.ErrLicSignatureFailure)
}

// Editing the tree after Parse shows in Bytes and in the views.
func TestEditTree(t *testing.T) {
	l := mustParse(t, build(t, minimalTemplate(t)))
	keys := find(l, TypeKeyMaterialContainer)
	keys.Children = append(keys.Children, NewLeaf(0, TypeOptimizedContentKey, cat(be16(OptimizedKeyAES128ECB), be16(4), []byte{1, 2, 3, 4})))
	l2 := mustParse(t, l.Bytes())
	require.Equal(t, &OptimizedContentKey{KeyType: OptimizedKeyAES128ECB, Data: []byte{1, 2, 3, 4}}, l2.KeyMaterial().OptimizedContentKey)
	require.ErrorIs(t, l2.VerifySignature(testCI), drm.ErrLicSignatureFailure)

	// A broken body in an edited tree is skipped by the views, not a panic.
	find(l, TypeGlobalPolicyContainer, TypeSecurityLevel).Body = []byte{1}
	require.Equal(t, uint16(0), l.MinSecurityLevel())
	remove(keys, TypeContentKey)
	_, err := l.ContentKey()
	require.ErrorIs(t, err, drm.ErrInvalidLicense)
	require.NotEmpty(t, l.Dump())
}

func TestTypeNames(t *testing.T) {
	require.Equal(t, "CONTENT_KEY", TypeName(TypeContentKey))
	require.Equal(t, "EXTENSIBLE_POLICY_RESERVED", TypeName(0x0045))
	require.Equal(t, "UNKNOWN", TypeName(0x0018))
	f, ok := CanonicalFlags(TypePlayEnablerContainer)
	require.True(t, ok)
	require.Equal(t, FlagContainer, f)
	_, ok = CanonicalFlags(0x7777)
	require.False(t, ok)
}
