package bcert

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/stretchr/testify/require"
)

// Negative cases for the docs/formats/bcert.md §2–§4 parsing rules and the §11
// validation checklist, each with the drm sentinel it must report
// (docs/formats/errors.md §4).

func put32(b []byte, off int, v uint32) []byte {
	b = bytes.Clone(b)
	binary.BigEndian.PutUint32(b[off:], v)
	return b
}

func TestParseChainRejects(t *testing.T) {
	good, _ := buildChain(t, nil)
	b := good.Bytes()
	const leaf = ChainHeaderSize // offset of certificate 0
	leafSigned := int(binary.BigEndian.Uint32(b[leaf+12:]))
	tests := []struct {
		name string
		in   []byte
		want drm.Code
	}{
		{"empty", nil, drm.ErrBCertInvalidChainLength},
		{"short header", b[:ChainHeaderSize-1], drm.ErrBCertInvalidChainLength},
		{"bad magic", append([]byte("CHAX"), b[4:]...), drm.ErrBCertInvalidChainHeaderTag},
		{"bad version", put32(b, 4, 2), drm.ErrBCertInvalidChainVersion},
		{"length too big", put32(b, 8, uint32(len(b)+1)), drm.ErrBCertInvalidChainLength},
		{"length too small", put32(b, 8, uint32(len(b)-1)), drm.ErrBCertInvalidChainLength},
		{"truncated", b[:len(b)-1], drm.ErrBCertInvalidChainLength},
		{"trailing byte", put32(append(bytes.Clone(b), 0), 8, uint32(len(b)+1)), drm.ErrBCertInvalidChainLength},
		{"count 0", put32(b, 16, 0), drm.ErrBCertInvalidChainLength},
		{"count 7", put32(b, 16, 7), drm.ErrBCertChainTooDeep},
		{"count too small", put32(b, 16, 2), drm.ErrBCertInvalidChainLength},
		{"count too big", put32(b, 16, 4), drm.ErrBCertInvalidCertLength},
		{"bad cert magic", put32(b, leaf, 0x43455258), drm.ErrBCertInvalidCertHeaderTag},
		{"cert length past chain", put32(b, leaf+8, uint32(len(b))), drm.ErrBCertInvalidCertLength},
		{"cert length below header", put32(b, leaf+8, 8), drm.ErrBCertInvalidCertLength},
		{"cert length cuts object", put32(b, leaf+8, binary.BigEndian.Uint32(b[leaf+8:])-4), drm.ErrBCertInvalidCertLength},
		{"signed length wrong", put32(b, leaf+12, uint32(leafSigned+4)), drm.ErrBCertInvalidSignedCertLength},
		{"object length < 8", put32(b, leaf+CertHeaderSize+4, 4), drm.ErrBCertObjectHeaderLenTooSmall},
		{"object length overruns", put32(b, leaf+CertHeaderSize+4, 1<<20), drm.ErrBCertInvalidCertLength},
		{"signature type", put32(b, leaf+leafSigned+8, 0x00020040), drm.ErrBCertInvalidSignatureType},
		{"issuer key length", put32(b, leaf+leafSigned+8+4+64, 256), drm.ErrBCertInvalidKeyLength},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := ParseChain(tc.in)
			require.ErrorIs(t, err, tc.want)
			require.Nil(t, ch)
			require.Contains(t, err.Error(), "bcert: ")
		})
	}
}

// TestObjectRules edits the leaf's objects, re-encodes (lengths recomputed)
// and expects the parser to reject the result.
func TestObjectRules(t *testing.T) {
	unknownMU := Object{Flags: ObjectFlagMustUnderstand, Tag: 0x0123, Body: []byte{1, 2, 3, 4}}
	tests := []struct {
		name string
		edit func([]Object) []Object
		want drm.Code
	}{
		{"unknown must-understand", func(o []Object) []Object { return slices.Insert(o, 2, unknownMU) }, drm.ErrBCertUnexpectedObjectHeader},
		{"BASIC not first", func(o []Object) []Object { o[0], o[1] = o[1], o[0]; return o }, drm.ErrBCertUnexpectedObjectHeader},
		{"duplicate KEY", func(o []Object) []Object { return slices.Insert(o, 3, o[3]) }, drm.ErrBCertUnexpectedObjectHeader},
		{"object after SIGNATURE", func(o []Object) []Object { return append(o, Object{Tag: 0x0123}) }, drm.ErrBCertUnexpectedObjectHeader},
		{"KEY after SIGNATURE", func(o []Object) []Object { k := o[3]; o = slices.Delete(o, 3, 4); return append(o, k) }, drm.ErrBCertUnexpectedObjectHeader},
		{"container before SIGNATURE", func(o []Object) []Object {
			return slices.Insert(o, 1, Object{Flags: ObjectFlagContainer, Tag: TagExtDataContainer})
		}, drm.ErrBCertUnexpectedObjectHeader},
		{"no KEY", func(o []Object) []Object { return slices.Delete(o, 3, 4) }, drm.ErrBCertRequiredKeyUsageMissing},
		{"no SIGNATURE", func(o []Object) []Object { return o[:len(o)-1] }, drm.ErrBCertInvalidSignedCertLength},
		{"short BASIC", func(o []Object) []Object { o[0].Body = o[0].Body[:76]; return o }, drm.ErrBCertUnexpectedObjectHeader},
		{"KEY trailing bytes", func(o []Object) []Object { o[3].Body = append(o[3].Body, 0, 0, 0, 0); return o }, drm.ErrBCertUnexpectedObjectHeader},
		{"KEY count too big", func(o []Object) []Object { o[3].Body = put32(o[3].Body, 0, 0xFFFFFFFF); return o }, drm.ErrBCertUnexpectedObjectHeader},
		{"KEY usage count too big", func(o []Object) []Object { o[3].Body = put32(o[3].Body, 4+72, 0xFFFFFFF); return o }, drm.ErrBCertUnexpectedObjectHeader},
		{"key length 256", func(o []Object) []Object { o[3].Body = put32(o[3].Body, 4, 0x00010100); return o }, drm.ErrBCertInvalidKeyLength},
		{"33 features", func(o []Object) []Object { o[2].Body = put32(o[2].Body, 0, 33); return o }, drm.ErrBCertUnexpectedObjectHeader},
		{"feature count mismatch", func(o []Object) []Object { o[2].Body = put32(o[2].Body, 0, 2); return o }, drm.ErrBCertUnexpectedObjectHeader},
		{"manufacturer overrun", func(o []Object) []Object { o[4].Body = put32(o[4].Body, 4, 0xFFFFFFFF); return o }, drm.ErrBCertUnexpectedObjectHeader},
		{"short DEVICE", func(o []Object) []Object { o[1].Body = o[1].Body[:8]; return o }, drm.ErrBCertUnexpectedObjectHeader},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ch, _ := buildChain(t, nil)
			leaf := ch.Leaf()
			leaf.Objects = tc.edit(slices.Clone(leaf.Objects))
			p, err := ParseChain(ch.Bytes())
			require.ErrorIs(t, err, tc.want)
			require.Nil(t, p)
			c, err := ParseCert(leaf.Bytes())
			require.ErrorIs(t, err, tc.want)
			require.Nil(t, c)
			// Verify re-parses, so a hand-edited chain fails the same way.
			require.ErrorIs(t, ch.Verify(verifyOpts(t, keys(t))), tc.want)
		})
	}
}

func TestUnknownOptionalObjectKept(t *testing.T) {
	// §4: an unknown object without MUST_UNDERSTAND is skipped and kept.
	ch, k := buildChain(t, nil)
	leaf := ch.Leaf()
	leaf.Objects = slices.Insert(leaf.Objects, 2, Object{Tag: 0x0123, Body: []byte{9, 9}})
	b := ch.Bytes()
	p, err := ParseChain(b)
	require.NoError(t, err)
	require.Equal(t, b, p.Bytes())
	// It sits in the signed area, so the old signature no longer matches.
	require.ErrorIs(t, p.Verify(verifyOpts(t, k)), drm.ErrInvalidDeviceCertificate)
}

func TestVerifyRejects(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(root, model, leaf *Template)
		chain func(t *testing.T, ch *Chain, k pkiKeys) *Chain
		opts  func(o *VerifyOptions)
		want  []drm.Code
	}{
		{name: "valid"},
		{name: "leaf signature tampered", chain: func(t *testing.T, ch *Chain, _ pkiKeys) *Chain {
			o := ch.Leaf().Objects
			o[len(o)-1].Body[10] ^= 0x80
			return ch
		}, want: []drm.Code{drm.ErrInvalidDeviceCertificate}},
		{name: "signed data tampered", chain: func(t *testing.T, ch *Chain, _ pkiKeys) *Chain {
			ch.Certs[1].Objects[0].Body[19] ^= 1 // model SL
			return ch
		}, want: []drm.Code{drm.ErrInvalidDeviceCertificate}},
		{name: "issuer key not in parent", chain: func(t *testing.T, ch *Chain, k pkiKeys) *Chain {
			other := testKey(t, "stranger")
			ch.Certs[0] = mustCert(t, leafTemplate(t, k), newSigner(t, other))
			return ch
		}, want: []drm.Code{drm.ErrBCertIssuerKeyKeyInfoMismatch}},
		{name: "parent key without issuer usage", edit: func(_, m, _ *Template) {
			m.Keys[0].Usages = []uint32{KeyUsageSign}
		}, want: []drm.Code{drm.ErrBCertInvalidKeyUsage}},
		{name: "parent not ISSUER", edit: func(_, m, _ *Template) { m.Type = CertTypeDevice },
			want: []drm.Code{drm.ErrBCertInvalidCertType}},
		{name: "child SL above parent", edit: func(_, _, l *Template) { l.SecurityLevel = 3000 },
			want: []drm.Code{drm.ErrBCertInvalidSecurityLevel}},
		{name: "model SL above root", edit: func(_, m, l *Template) { m.SecurityLevel = 3001 },
			want: []drm.Code{drm.ErrBCertInvalidSecurityLevel}},
		{name: "model expired", edit: func(_, m, _ *Template) {
			m.Expiration = uint32(verifyTime.Add(-time.Second).Unix())
		}, want: []drm.Code{drm.ErrBCertBasicInfoCertExpired}},
		{name: "expires exactly now is valid", edit: func(_, m, _ *Template) {
			m.Expiration = uint32(verifyTime.Unix())
		}},
		{name: "leaf expired", edit: func(_, _, l *Template) { l.Expiration = 1 },
			want: []drm.Code{drm.ErrBCertBasicInfoCertExpired}},
		{name: "root expired", edit: func(r, _, _ *Template) { r.Expiration = 1 },
			want: []drm.Code{drm.ErrBCertBasicInfoCertExpired}},
		{name: "leaf missing ENCRYPT_KEY", edit: func(_, _, l *Template) { l.Keys = l.Keys[:1] },
			want: []drm.Code{drm.ErrInvalidDeviceCertificate, drm.ErrBCertRequiredKeyUsageMissing}},
		{name: "leaf missing SIGN", edit: func(_, _, l *Template) { l.Keys = l.Keys[1:]; l.DigestKey = l.Keys[0].Public },
			want: []drm.Code{drm.ErrInvalidDeviceCertificate, drm.ErrBCertRequiredKeyUsageMissing}},
		{name: "leaf two SIGN keys", edit: func(_, _, l *Template) {
			l.Keys = append(l.Keys, Key{Public: l.Keys[1].Public, Usages: []uint32{KeyUsageSign}})
		}, want: []drm.Code{drm.ErrInvalidDeviceCertificate}},
		{name: "leaf one key for both", edit: func(_, _, l *Template) {
			l.Keys = []Key{{Public: l.Keys[0].Public, Usages: []uint32{KeyUsageSign, KeyUsageEncryptKey}}}
		}, want: []drm.Code{drm.ErrInvalidDeviceCertificate}},
		{name: "digest of a foreign key", edit: func(_, _, l *Template) { l.DigestKey = l.Keys[0].Public; l.DigestKey[63] ^= 1 },
			want: []drm.Code{drm.ErrBCertInvalidDigest}},
		{name: "untrusted root", opts: func(o *VerifyOptions) { o.Roots = []ecc.Point{o.Roots[0]}; o.Roots[0][0] ^= 1 },
			want: []drm.Code{drm.ErrBCertIssuerKeyKeyInfoMismatch}},
		{name: "no roots", opts: func(o *VerifyOptions) { o.Roots = nil },
			want: []drm.Code{drm.ErrBCertIssuerKeyKeyInfoMismatch}},
		{name: "second root accepted", opts: func(o *VerifyOptions) { o.Roots = append([]ecc.Point{{1}}, o.Roots...) }},
		{name: "leaf type mismatch", opts: func(o *VerifyOptions) { o.LeafType = CertTypeServer },
			want: []drm.Code{drm.ErrInvalidDeviceCertificate, drm.ErrBCertInvalidCertType}},
		{name: "leaf type device", opts: func(o *VerifyOptions) { o.LeafType = CertTypeDevice }},
		{name: "root cert omitted, model signed by the anchor", chain: func(t *testing.T, ch *Chain, _ pkiKeys) *Chain {
			// As with real chains, the anchor need not be in the chain.
			return NewChain(ch.Certs[:2]...)
		}},
		{name: "leaf alone", chain: func(t *testing.T, ch *Chain, _ pkiKeys) *Chain {
			return NewChain(ch.Certs[0])
		}, want: []drm.Code{drm.ErrBCertIssuerKeyKeyInfoMismatch}},
		{name: "7 certificates", chain: func(t *testing.T, ch *Chain, _ pkiKeys) *Chain {
			return NewChain(append(ch.Certs, ch.Certs[2], ch.Certs[2], ch.Certs[2], ch.Certs[2])...)
		}, want: []drm.Code{drm.ErrBCertChainTooDeep}},
		{name: "6 certificates", chain: func(t *testing.T, ch *Chain, _ pkiKeys) *Chain {
			// The self-signed root may repeat: each copy signs the next.
			return NewChain(append(ch.Certs, ch.Certs[2], ch.Certs[2], ch.Certs[2])...)
		}},
		{name: "empty chain", chain: func(t *testing.T, ch *Chain, _ pkiKeys) *Chain { return NewChain() },
			want: []drm.Code{drm.ErrBCertInvalidChainLength}},
		{name: "chain version", chain: func(t *testing.T, ch *Chain, _ pkiKeys) *Chain { ch.Version = 2; return ch },
			want: []drm.Code{drm.ErrBCertInvalidChainVersion}},
		{name: "nil certificate", chain: func(t *testing.T, ch *Chain, _ pkiKeys) *Chain { ch.Certs[1] = nil; return ch },
			want: []drm.Code{drm.ErrInvalidDeviceCertificate}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ch, k := buildChain(t, tc.edit)
			if tc.chain != nil {
				ch = tc.chain(t, ch, k)
			}
			opts := verifyOpts(t, k)
			if tc.opts != nil {
				tc.opts(&opts)
			}
			err := ch.Verify(opts)
			if len(tc.want) == 0 {
				require.NoError(t, err)
				// A valid chain also survives the wire.
				p, err := ParseChain(ch.Bytes())
				require.NoError(t, err)
				require.NoError(t, p.Verify(opts))
				return
			}
			for _, w := range tc.want {
				require.ErrorIs(t, err, w)
			}
			code, ok := drm.CodeOf(err)
			require.True(t, ok)
			require.Equal(t, tc.want[0], code, "primary code")
			require.Contains(t, err.Error(), "bcert: ")
		})
	}
}

func TestCRLSignerLeaf(t *testing.T) {
	k := keys(t)
	root := mustCert(t, rootTemplate(t, k), newSigner(t, k.root))
	mk := func(u uint32) *Chain {
		c := mustCert(t, &Template{SecurityLevel: 3000, Type: CertTypeCRLSigner,
			Keys: []Key{{Public: pub(t, k.sign), Usages: []uint32{u}}}}, newSigner(t, k.root))
		return NewChain(c, root)
	}
	opts := verifyOpts(t, k)
	opts.LeafType = CertTypeCRLSigner
	require.NoError(t, mk(KeyUsageSignCRL).Verify(opts))
	require.ErrorIs(t, mk(KeyUsageSign).Verify(opts), drm.ErrBCertRequiredKeyUsageMissing)
}

func TestVerifyDefaultTime(t *testing.T) {
	// Zero CurrentTime means now: a certificate that expired in 1970 fails.
	ch, k := buildChain(t, func(_, _, l *Template) { l.Expiration = 1 })
	opts := verifyOpts(t, k)
	opts.CurrentTime = time.Time{}
	require.ErrorIs(t, ch.Verify(opts), drm.ErrBCertBasicInfoCertExpired)
}
