package xmr

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/prsim/prsim/wire/kid"
	"github.com/stretchr/testify/require"
)

var (
	guidA = kid.MustParse("01020304-0506-0708-090a-0b0c0d0e0f10")
	guidB = kid.MustParse("11121314-1516-1718-191a-1b1c1d1e1f20")
)

func g(id kid.ID) []byte { return guidBytes(id) }

// kitchenSink returns a signed v3 license holding every object type of the
// §5 table that has a layout (in its table parent), plus extensible rights
// and restrictions. Uplink objects are left out because the license is
// domain-bound (rule 10); uplinkLicense has them.
func kitchenSink(t testing.TB) []byte {
	l := mustParse(t, build(t, fullTemplate(t)))
	glob := find(l, TypeGlobalPolicyContainer)
	glob.Children = append(glob.Children,
		NewLeaf(FlagMustUnderstand, TypeSerialNumber, []byte("SN-1")),
		NewLeaf(0, TypeInclusionList, cat(be32(2), g(guidA), g(guidB))),
		NewLeaf(0, TypePriority, be32(3)),
		NewLeaf(FlagMustUnderstand, TypeExpirationAfterFirstUse, be32(3600)),
		NewLeaf(FlagMustUnderstand, TypeExpirationAfterFirstStore, be32(7200)),
		NewLeaf(FlagMustUnderstand, TypeMetering, g(guidA)),
		NewLeaf(0, TypeGracePeriod, be32(60)),
		NewLeaf(0, TypeRevocationInfoVersion, be32(41)),
		NewLeaf(FlagMustUnderstand, TypeRestrictedSourceID, nil),
		NewLeaf(FlagMustUnderstand, TypeDomainID, cat(bytes.Repeat([]byte{0xd0}, 16), be32(4))),
		NewLeaf(0, TypePolicyMetadata, cat(g(guidB), []byte{1, 2})),
		NewLeaf(0, TypePolicyMetadata, g(guidA)),
		NewLeaf(0, TypeEmbeddingBehavior, be16(EmbeddingBehaviorCopy)),
	)
	play := find(l, TypePlaybackPolicyContainer)
	play.Children = append(play.Children,
		NewLeaf(FlagMustUnderstand, TypePlayCount, be32(5)),
		NewLeaf(0, TypeRingtoneEnabler, nil),
		NewLeaf(flagsMEB, TypeApplicationIDList, []byte{0xa1}),
		NewLeaf(0x1D, 400, []byte{2}), // extensible restriction (docs/formats/xmr.md §3)
	)
	keys := find(l, TypeKeyMaterialContainer)
	keys.Children = append(keys.Children,
		NewLeaf(0, TypeRSADeviceKey, cat(be32(65537), be16(4), []byte{0xc0, 1, 2, 3})),
		NewLeaf(0, TypeOptimizedContentKey, cat(be16(OptimizedKeyAES128ECB), be16(16), bytes.Repeat([]byte{0x0c}, 16))),
		NewLeaf(FlagMustUnderstand, TypeAuxKey, cat(be16(2), be32(1), bytes.Repeat([]byte{0xa1}, 16), be32(2), bytes.Repeat([]byte{0xa2}, 16))),
	)
	sig := l.Outer.Children[len(l.Outer.Children)-1]
	l.Outer.Children = append(l.Outer.Children[:len(l.Outer.Children)-1],
		NewContainer(FlagContainer, TypeCopyPolicyContainer,
			NewLeaf(FlagMustUnderstand, TypeCopyCount, be32(1)),
			NewLeaf(FlagMustUnderstand, TypeCopyProtection, be16(300))),
		NewContainer(FlagContainer, TypeCopyPolicy2Container,
			NewLeaf(FlagMustUnderstand, TypeCopyCount2, be32(2)),
			NewLeaf(0, TypeMoveEnabler, be32(400)),
			NewContainer(FlagContainer, TypeCopyEnablerContainer, NewLeaf(0, TypeCopyEnabler, g(guidB)))),
		NewContainer(FlagContainer, TypeAllowPlaylistBurnContainer,
			NewLeaf(FlagMustUnderstand, TypePlaylistBurnCount, cat(be32(10), be32(20)))),
		NewContainer(FlagContainer, TypeRevocationContainer,
			NewLeaf(0, TypeRSALicenseGranterKey, cat(be32(3), be16(2), []byte{0xbe, 0xef})),
			NewLeaf(0, TypeUserID, []byte("user"))),
		NewLeaf(0, TypeGenerationNumber, be32(9)),
		NewContainer(flagsCE, TypeRingtonePolicyContainer),
		NewContainer(FlagContainer, TypeCopyToPCContainer),
		NewContainer(FlagContainer, TypeExecutePolicyContainer, NewLeaf(FlagMustUnderstand, TypeExecutePolicy, nil)),
		NewContainer(flagsCE, TypeReadPolicyContainer),
		NewContainer(flagsCE, 0x0042, NewLeaf(0x1C, 500, []byte{7})),
		NewContainer(FlagContainer, TypeNDTxAuthContainer, NewLeaf(0, TypeNDTxAuth, []byte{1})),
		sig)
	b := l.Bytes()
	require.NoError(t, Sign(b, testCI))
	return b
}

// uplinkLicense is a chained leaf with every uplink object (docs/formats/xmr.md §11).
func uplinkLicense(t testing.TB) []byte {
	tp := minimalTemplate(t)
	tp.ContentKey.CipherType = CipherChained
	tp.ContentKey.EncKey = bytes.Repeat([]byte{0xee}, EncKeySizeChained)
	tp.DeviceKey = [64]byte{}
	tp.Uplink = &Uplink{KID: guidA, ChecksumType: ChecksumTypeAESOMAC1, Checksum: []byte{1, 2, 3}}
	l := mustParse(t, build(t, tp))
	keys := find(l, TypeKeyMaterialContainer)
	keys.Children = append(keys.Children,
		NewLeaf(FlagMustUnderstand, TypeUplinkKID, cat(g(guidB), be16(2), []byte{4, 5})),
		NewLeaf(FlagMustUnderstand, TypeUplinkX, cat(g(guidB), be16(1), []byte{6}, be16(2), be32(7), be32(8), []byte{0xff})))
	b := l.Bytes()
	require.NoError(t, Sign(b, testCI))
	return b
}

func TestTypedDecodeAll(t *testing.T) {
	b := kitchenSink(t)
	l := mustParse(t, b)
	require.Equal(t, b, l.Bytes())
	require.NoError(t, l.VerifySignature(testCI))
	p := l.Policy()

	require.Equal(t, []byte("SN-1"), p.SerialNumber)
	require.Equal(t, []kid.ID{guidA, guidB}, p.InclusionList)
	require.Equal(t, ptr32(3), p.Priority)
	require.Equal(t, ptr32(3600), p.ExpireAfterFirstUse)
	require.Equal(t, ptr32(7200), p.ExpireAfterFirstStore)
	require.Equal(t, &guidA, p.Metering)
	require.Equal(t, ptr32(60), p.GracePeriod)
	require.Equal(t, uint32(42), p.RIV, "0x32 wins over 0x20")
	require.True(t, p.RestrictedSourceID)
	require.Equal(t, &Domain{AccountID: [16]byte(bytes.Repeat([]byte{0xd0}, 16)), Revision: 4}, p.Domain)
	require.Equal(t, []Metadata{{Type: guidB, Data: []byte{1, 2}}, {Type: guidA, Data: []byte{}}}, p.Metadata)
	require.Equal(t, &[]uint16{EmbeddingBehaviorCopy}[0], p.EmbeddingBehavior)
	require.Equal(t, ptr32(9), p.GenerationNumber)
	require.Equal(t, ptr32(5), p.PlayCount)
	require.Equal(t, ptr32(260), p.SourceID)
	require.Equal(t, &CopyPolicy{Count: ptr32(2), ProtectionLevel: &[]uint16{300}[0], MinMoveProtection: ptr32(400), Enablers: []kid.ID{guidB}}, p.Copy)
	require.Equal(t, &PlaylistBurn{MaxBurns: 10, TrackCount: 20}, p.PlaylistBurn)
	require.Equal(t, &Revocation{GranterKey: &RSAKey{Exponent: 3, Modulus: []byte{0xbe, 0xef}}, UserID: []byte("user")}, p.Revocation)
	require.False(t, l.Persistent())

	var unknown []uint16
	for _, o := range p.Unknown {
		unknown = append(unknown, o.Type)
	}
	require.Equal(t, []uint16{400, 500}, unknown)

	km := l.KeyMaterial()
	require.Equal(t, &RSAKey{Exponent: 65537, Modulus: []byte{0xc0, 1, 2, 3}}, km.RSADeviceKey)
	require.Equal(t, &OptimizedContentKey{KeyType: OptimizedKeyAES128ECB, Data: bytes.Repeat([]byte{0x0c}, 16)}, km.OptimizedContentKey)
	require.True(t, km.Scalable)
	require.Equal(t, []AuxKey{{1, [16]byte(bytes.Repeat([]byte{0xa1}, 16))}, {2, [16]byte(bytes.Repeat([]byte{0xa2}, 16))}}, km.AuxKeys)

	u := mustParse(t, uplinkLicense(t))
	require.NoError(t, u.VerifySignature(testCI))
	ukm := u.KeyMaterial()
	require.Equal(t, &Uplink{KID: guidA, ChecksumType: ChecksumTypeAESOMAC1, Checksum: []byte{1, 2, 3}}, ukm.Uplink, "0x3B wins over 0x06")
	require.Equal(t, &UplinkX{KID: guidB, Checksum: []byte{6}, Locations: []uint32{7, 8}, Trailing: []byte{0xff}}, ukm.UplinkX)
	require.Nil(t, ukm.DeviceKey)

	// v1 UPLINK_KID alone: checksum type implicitly XMRV1.
	keys := find(u, TypeKeyMaterialContainer)
	remove(keys, TypeUplinkKID2)
	require.Equal(t, &Uplink{KID: guidB, ChecksumType: ChecksumTypeXMRV1, Checksum: []byte{4, 5}}, u.KeyMaterial().Uplink)
}

// Golden dumps of the kitchen-sink and uplink licenses (every layout
// printed); their bytes are also fuzz seeds.
func TestGoldenAll(t *testing.T) {
	for name, b := range map[string][]byte{"all": kitchenSink(t), "uplink": uplinkLicense(t)} {
		t.Run(name, func(t *testing.T) {
			dump := mustParse(t, b).Dump()
			bin := filepath.Join("testdata", name+".xmr")
			txt := filepath.Join("testdata", name+".dump.txt")
			if *update {
				require.NoError(t, os.WriteFile(bin, b, 0o644))
				require.NoError(t, os.WriteFile(txt, []byte(dump), 0o644))
			}
			want, err := os.ReadFile(bin)
			require.NoError(t, err)
			require.Equal(t, want, b, "rerun with -update if the change is intended")
			wantDump, err := os.ReadFile(txt)
			require.NoError(t, err)
			require.Equal(t, string(wantDump), dump)
		})
	}
}
