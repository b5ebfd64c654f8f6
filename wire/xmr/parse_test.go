package xmr

import (
	"encoding/binary"
	"testing"

	"github.com/prsim/prsim/drm"
	"github.com/stretchr/testify/require"
)

// A case mutates a freshly built minimal license, either as a tree (then
// re-encoded) or as raw bytes. Source of every rule: docs/formats/xmr.md §4 (rule
// numbers in the names).
type parseCase struct {
	name string
	tree func(l *License)
	raw  func(b []byte) []byte
	tmpl func(tp *Template)
}

func (c parseCase) bytes(t *testing.T) []byte {
	tp := minimalTemplate(t)
	if c.tmpl != nil {
		c.tmpl(tp)
	}
	b := build(t, tp)
	if c.tree != nil {
		l := mustParse(t, b)
		c.tree(l)
		b = l.Bytes()
	}
	if c.raw != nil {
		b = c.raw(b)
	}
	return b
}

func addTo(path ...uint16) func(objs ...*Object) func(*License) {
	return func(objs ...*Object) func(*License) {
		return func(l *License) {
			o := find(l, path...)
			o.Children = append(o.Children, objs...)
		}
	}
}

var (
	addGlobal   = addTo(TypeGlobalPolicyContainer)
	addPlayback = addTo(TypePlaybackPolicyContainer)
	addKeys     = addTo(TypeKeyMaterialContainer)
)

func setVersion(v uint32) func(*License) { return func(l *License) { l.Version = v } }

func setBody(body []byte, path ...uint16) func(*License) {
	return func(l *License) { find(l, path...).Body = body }
}

func setKeyType(kt uint16) func(*License) {
	return func(l *License) {
		binary.BigEndian.PutUint16(find(l, TypeKeyMaterialContainer, TypeContentKey).Body[16:], kt)
	}
}

func both(fs ...func(*License)) func(*License) {
	return func(l *License) {
		for _, f := range fs {
			f(l)
		}
	}
}

// nest returns depth unknown, non-must-understand containers, one inside the other.
func nest(depth int) *Object {
	o := NewContainer(FlagContainer, 0x7F00)
	for i := 1; i < depth; i++ {
		o = NewContainer(FlagContainer, 0x7F00, o)
	}
	return o
}

func minEnv(sl uint16, app, dev uint32) *Object {
	return NewLeaf(FlagMustUnderstand, TypeMinimumEnvironment, cat(be16(sl), be32(app), be32(dev)))
}

func domain() *Object { return NewLeaf(FlagMustUnderstand, TypeDomainID, make([]byte, 20)) }
func uplink2(ct uint16) *Object {
	return NewLeaf(FlagMustUnderstand, TypeUplinkKID2, cat(make([]byte, 16), be16(ct), be16(16), make([]byte, 16)))
}

func TestParseRejects(t *testing.T) {
	cases := []parseCase{
		// Rule 1.
		{name: "1 bad magic", raw: func(b []byte) []byte { b[0] = 'Y'; return b }},
		{name: "1 version 0", tree: setVersion(0)},
		{name: "1 version 2", tree: setVersion(2)},
		{name: "1 version 4", tree: setVersion(4)},
		{name: "1 trailing byte", raw: func(b []byte) []byte { return append(b, 0) }},
		{name: "1 second root object", raw: func(b []byte) []byte { return append(b, 0, 0, 0x7F, 0, 0, 0, 0, 8) }},
		{name: "1 truncated", raw: func(b []byte) []byte { return b[:len(b)-1] }},
		{name: "1 header only", raw: func(b []byte) []byte { return b[:HeaderSize] }},
		{name: "1 empty", raw: func(b []byte) []byte { return nil }},
		{name: "1 outer length too long", raw: func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[28:], binary.BigEndian.Uint32(b[28:])+1)
			return b
		}},
		{name: "1 root object not outer", raw: func(b []byte) []byte { b[HeaderSize+3] = 0x02; return b }},
		// Rule 2.
		{name: "2 child length below 8", raw: func(b []byte) []byte { binary.BigEndian.PutUint32(b[36:], 7); return b }},
		{name: "2 child length 0", raw: func(b []byte) []byte { binary.BigEndian.PutUint32(b[36:], 0); return b }},
		{name: "2 child overruns parent", raw: func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[36:], uint32(len(b)-32+1))
			return b
		}},
		{name: "2 partial child header", tree: addGlobal(NewLeaf(FlagContainer, 0x7F00, []byte{1, 2, 3, 4}))},
		{name: "2 grandchild below 8", tree: addGlobal(NewLeaf(FlagContainer, 0x7F00, []byte{0, 0, 0x7F, 1, 0, 0, 0, 4}))},
		{name: "2 grandchild overruns", tree: addGlobal(NewLeaf(FlagContainer, 0x7F00, []byte{0, 0, 0x7F, 1, 0, 0, 0, 9}))},
		// Rule 3: global is level 2, so four nested containers reach level 6.
		{name: "3 depth 6", tree: addGlobal(nest(4))},
		{name: "3 depth 6 under playback", tree: addPlayback(nest(4))},
		// Rule 5.
		{name: "5 duplicate security level", tree: addGlobal(NewLeaf(FlagMustUnderstand, TypeSecurityLevel, be16(150)))},
		{name: "5 duplicate issue date", tree: addGlobal(NewLeaf(0, TypeIssueDate, be32(1)))},
		{name: "5 duplicate RIV", tree: addGlobal(NewLeaf(FlagMustUnderstand, TypeRevocationInfoVersion2, be32(1)))},
		{name: "5 duplicate content key", tree: func(l *License) {
			k := find(l, TypeKeyMaterialContainer)
			k.Children = append(k.Children, k.Child(TypeContentKey))
		}},
		{name: "5 duplicate playback", tree: func(l *License) {
			l.Outer.Children = append([]*Object{NewContainer(FlagContainer, TypePlaybackPolicyContainer)}, l.Outer.Children...)
		}},
		{name: "5 duplicate OPL", tree: addPlayback(NewLeaf(FlagMustUnderstand, TypeOutputProtection, make([]byte, 10)), NewLeaf(FlagMustUnderstand, TypeOutputProtection, make([]byte, 10)))},
		{name: "5 duplicate explicit container", tree: addPlayback(NewContainer(flagsMC, TypeExplicitAnalogVideoContainer), NewContainer(flagsMC, TypeExplicitAnalogVideoContainer))},
		// Rule 6: fixed sizes, too long and too short.
		{name: "6 security level 12", tree: setBody(make([]byte, 4), TypeGlobalPolicyContainer, TypeSecurityLevel)},
		{name: "6 security level 8", tree: setBody([]byte{}, TypeGlobalPolicyContainer, TypeSecurityLevel)},
		{name: "6 minimum environment 20", tree: both(func(l *License) { remove(find(l, TypeGlobalPolicyContainer), TypeSecurityLevel) },
			addGlobal(NewLeaf(FlagMustUnderstand, TypeMinimumEnvironment, make([]byte, 12))))},
		{name: "6 minimum environment 16", tree: both(func(l *License) { remove(find(l, TypeGlobalPolicyContainer), TypeSecurityLevel) },
			addGlobal(NewLeaf(FlagMustUnderstand, TypeMinimumEnvironment, make([]byte, 8))))},
		{name: "6 OPL 20", tree: addPlayback(NewLeaf(FlagMustUnderstand, TypeOutputProtection, make([]byte, 12)))},
		{name: "6 OPL 16", tree: addPlayback(NewLeaf(FlagMustUnderstand, TypeOutputProtection, make([]byte, 8)))},
		{name: "6 expiration 18", tree: addGlobal(NewLeaf(FlagMustUnderstand, TypeExpiration, make([]byte, 10)))},
		{name: "6 expiration 12", tree: addGlobal(NewLeaf(FlagMustUnderstand, TypeExpiration, make([]byte, 4)))},
		{name: "6 domain 30", tree: addGlobal(NewLeaf(FlagMustUnderstand, TypeDomainID, make([]byte, 22)))},
		{name: "6 domain 26", tree: addGlobal(NewLeaf(FlagMustUnderstand, TypeDomainID, make([]byte, 18)))},
		{name: "6 removal date 14", tree: addGlobal(NewLeaf(0, TypeRemovalDate, make([]byte, 6)))},
		{name: "6 removal date 10", tree: addGlobal(NewLeaf(0, TypeRemovalDate, make([]byte, 2)))},
		{name: "6 content key 29", tree: setBody(make([]byte, 21), TypeKeyMaterialContainer, TypeContentKey)},
		{name: "6 content key trailing byte", tree: func(l *License) {
			o := find(l, TypeKeyMaterialContainer, TypeContentKey)
			o.Body = append(o.Body, 0)
		}},
		{name: "6 content key cbEncKey past end", tree: func(l *License) {
			binary.BigEndian.PutUint16(find(l, TypeKeyMaterialContainer, TypeContentKey).Body[20:], 129)
		}},
		{name: "6 ECC encKey 127", tree: func(l *License) {
			o := find(l, TypeKeyMaterialContainer, TypeContentKey)
			binary.BigEndian.PutUint16(o.Body[20:], 127)
			o.Body = o.Body[:len(o.Body)-1]
		}},
		{name: "6 RIV 10", tree: setBody(make([]byte, 2), TypeGlobalPolicyContainer, TypeRevocationInfoVersion2)},
		{name: "6 device key curve 2", tree: func(l *License) {
			binary.BigEndian.PutUint16(find(l, TypeKeyMaterialContainer, TypeECCDeviceKey).Body, 2)
		}},
		{name: "6 device key 63 bytes", tree: func(l *License) {
			o := find(l, TypeKeyMaterialContainer, TypeECCDeviceKey)
			binary.BigEndian.PutUint16(o.Body[2:], 63)
			o.Body = o.Body[:len(o.Body)-1]
		}},
		{name: "6 signature type 7", raw: func(b []byte) []byte { b[len(b)-19] = 7; return b }},
		{name: "6 CMAC signature 15 bytes", tree: func(l *License) {
			l.Outer.Children[len(l.Outer.Children)-1].Body = cat(be16(1), be16(15), make([]byte, 15))
		}},
		{name: "6 real-time expiration with body", tree: addGlobal(NewLeaf(FlagMustUnderstand, TypeRealTimeExpiration, []byte{0}))},
		{name: "6 inclusion list count too big", tree: addGlobal(NewLeaf(0, TypeInclusionList, cat(be32(0xFFFFFFFF), make([]byte, 16))))},
		{name: "6 aux key count too big", tree: addKeys(NewLeaf(FlagMustUnderstand, TypeAuxKey, cat(be16(2), make([]byte, 20))))},
		{name: "6 minimum environment CRL in v3", tree: both(func(l *License) { remove(find(l, TypeGlobalPolicyContainer), TypeSecurityLevel) },
			addGlobal(minEnv(2000, 1, 0)))},
		// Rule 7.
		{name: "7 signature not last", tree: func(l *License) {
			n := len(l.Outer.Children)
			l.Outer.Children[n-1], l.Outer.Children[n-2] = l.Outer.Children[n-2], l.Outer.Children[n-1]
		}},
		{name: "7 no signature", tree: func(l *License) { remove(l.Outer, TypeSignature) }},
		{name: "7 signature in global", tree: func(l *License) {
			sig := l.Outer.Children[len(l.Outer.Children)-1]
			find(l, TypeGlobalPolicyContainer).Children = append(find(l, TypeGlobalPolicyContainer).Children, sig)
		}},
		// Rule 8.
		{name: "8 play enabler container with M", tree: addPlayback(NewContainer(FlagMustUnderstand|FlagContainer, TypePlayEnablerContainer))},
		{name: "8 play enabler container without C", tree: addPlayback(NewContainer(0, TypePlayEnablerContainer))},
		// Rule 9.
		{name: "9 no global", tree: func(l *License) { remove(l.Outer, TypeGlobalPolicyContainer) }},
		{name: "9 no key material", tree: func(l *License) { remove(l.Outer, TypeKeyMaterialContainer) }},
		{name: "9 no content key", tree: func(l *License) { remove(find(l, TypeKeyMaterialContainer), TypeContentKey) }},
		{name: "9 no security level", tree: func(l *License) { remove(find(l, TypeGlobalPolicyContainer), TypeSecurityLevel) }},
		{name: "9 security level and minimum environment", tree: addGlobal(minEnv(2000, 0, 0))},
		{name: "9 no RIV", tree: func(l *License) { remove(find(l, TypeGlobalPolicyContainer), TypeRevocationInfoVersion2) }},
		{name: "9 empty outer", tree: func(l *License) { l.Outer.Children = []*Object{} }},
		// Rule 10.
		{name: "10 domain with uplink KID 2", tree: both(addGlobal(domain()), addKeys(uplink2(1)))},
		{name: "10 domain with uplink KID", tree: both(addGlobal(domain()), addKeys(NewLeaf(FlagMustUnderstand, TypeUplinkKID, cat(make([]byte, 16), be16(0)))))},
		{name: "10 domain with uplinkx", tree: both(addGlobal(domain()), addKeys(NewLeaf(FlagMustUnderstand, TypeUplinkX, cat(make([]byte, 16), be16(0), be16(0)))))},
		// Rule 11 (and the uplink checksum type of v3).
		{name: "11 v3 keyType RC4", tree: setKeyType(KeyTypeRC4)},
		{name: "11 v3 keyType 0", tree: setKeyType(0)},
		{name: "11 v3 keyType keyexchange", tree: setKeyType(KeyTypeKeyExchange)},
		{name: "11 v1 keyType CBC", tree: both(setVersion(1), setKeyType(KeyTypeAESCBC))},
		{name: "11 v1 keyType cocktail", tree: both(setVersion(1), setKeyType(KeyTypeCocktail))},
		{name: "11 v3 uplink checksum XMRV1", tree: addKeys(uplink2(ChecksumTypeXMRV1))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, err := Parse(c.bytes(t))
			require.ErrorIs(t, err, drm.ErrInvalidLicense)
			require.Nil(t, l)
		})
	}
}

// Positive twins of the negative cases: the same kind of edit, legal.
func TestParseAccepts(t *testing.T) {
	cases := []parseCase{
		{name: "3 depth 5", tree: addGlobal(nest(3))},
		{name: "4 playback before global", tree: func(l *License) {
			l.Outer.Children[0], l.Outer.Children[1] = l.Outer.Children[1], l.Outer.Children[0]
		}},
		{name: "4 content key after device key", tree: func(l *License) {
			k := find(l, TypeKeyMaterialContainer)
			k.Children[0], k.Children[1] = k.Children[1], k.Children[0]
		}},
		{name: "5 dup ok types", tree: both(
			addPlayback(
				NewContainer(FlagContainer, TypePlayEnablerContainer, NewLeaf(0, TypePlayEnabler, make([]byte, 16)), NewLeaf(0, TypePlayEnabler, make([]byte, 16))),
				NewContainer(FlagContainer, TypePlayEnablerContainer),
				NewContainer(flagsMC, TypeExplicitAnalogVideoContainer, NewLeaf(1, TypeAnalogVideoOutputConfig, make([]byte, 16)), NewLeaf(1, TypeAnalogVideoOutputConfig, make([]byte, 20))),
				NewContainer(flagsMC, TypeExplicitDigitalAudioContainer, NewLeaf(1, TypeDigitalAudioOutputConfig, make([]byte, 16)), NewLeaf(1, TypeDigitalAudioOutputConfig, make([]byte, 16))),
				NewContainer(flagsMC, TypeExplicitDigitalVideoContainer, NewLeaf(1, TypeDigitalVideoOutputConfig, make([]byte, 16)), NewLeaf(1, TypeDigitalVideoOutputConfig, make([]byte, 16)))),
			addGlobal(NewLeaf(0, TypePolicyMetadata, make([]byte, 16)), NewLeaf(0, TypePolicyMetadata, make([]byte, 17))))},
		{name: "5 duplicate unknown non-M", tree: addGlobal(NewLeaf(0, 0x7F01, nil), NewLeaf(0, 0x7F01, nil))},
		{name: "6 minimum environment 18", tree: both(func(l *License) { remove(find(l, TypeGlobalPolicyContainer), TypeSecurityLevel) },
			addGlobal(minEnv(2000, 0, 0)))},
		{name: "6 fixed sizes exact", tree: both(
			addGlobal(NewLeaf(FlagMustUnderstand, TypeExpiration, make([]byte, 8)), NewLeaf(0, TypeRemovalDate, make([]byte, 4)), domain()),
			addPlayback(NewLeaf(FlagMustUnderstand, TypeOutputProtection, make([]byte, 10))))},
		{name: "6 content key cipher 1 short encKey", tree: func(l *License) {
			o := find(l, TypeKeyMaterialContainer, TypeContentKey)
			o.Body = cat(o.Body[:18], be16(CipherRSA1024), be16(0))
		}},
		{name: "9 RIV v1 object instead", tree: func(l *License) {
			g := find(l, TypeGlobalPolicyContainer)
			remove(g, TypeRevocationInfoVersion2)
			g.Children = append(g.Children, NewLeaf(0, TypeRevocationInfoVersion, be32(5)))
		}},
		{name: "9 no playback", tree: func(l *License) { remove(l.Outer, TypePlaybackPolicyContainer) }},
		{name: "10 domain without uplink", tree: addGlobal(domain())},
		{name: "10 uplink without domain", tree: addKeys(uplink2(1))},
		{name: "11 v3 keyType CBC", tree: setKeyType(KeyTypeAESCBC)},
		{name: "11 v3 keyType ECB", tree: setKeyType(KeyTypeAESECB)},
		{name: "11 v3 keyType cocktail", tree: setKeyType(KeyTypeCocktail)},
		{name: "11 v1 keyType RC4", tree: both(setVersion(1), setKeyType(KeyTypeRC4))},
		{name: "11 v1 uplink checksum XMRV1", tree: both(setVersion(1), addKeys(uplink2(ChecksumTypeXMRV1)))},
		{name: "v1 minimum environment with CRL versions", tree: both(setVersion(1),
			func(l *License) { remove(find(l, TypeGlobalPolicyContainer), TypeSecurityLevel) }, addGlobal(minEnv(150, 7, 9)))},
		{name: "HMAC signature parses", tree: func(l *License) {
			l.Outer.Children[len(l.Outer.Children)-1].Body = cat(be16(2), be16(32), make([]byte, 32))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.bytes(t)
			l, err := Parse(b)
			require.NoError(t, err)
			require.Equal(t, b, l.Bytes())
		})
	}
}

func TestMinimumEnvironmentPolicy(t *testing.T) {
	b := parseCase{tree: both(setVersion(1),
		func(l *License) { remove(find(l, TypeGlobalPolicyContainer), TypeSecurityLevel) },
		addGlobal(minEnv(150, 7, 9)))}.bytes(t)
	l := mustParse(t, b)
	require.Equal(t, uint16(150), l.MinSecurityLevel())
	p := l.Policy()
	require.Equal(t, uint32(7), p.MinAppCRLVersion)
	require.Equal(t, uint32(9), p.MinDeviceCRLVersion)
}

// The unknown-object rule of docs/formats/xmr.md §3, both readings of E: on the
// parent (as the spec states) and on the object itself (the flag's meaning).
func TestUnknownObjects(t *testing.T) {
	const unk = 0x7F10
	reject := []parseCase{
		{name: "M in global", tree: addGlobal(NewLeaf(FlagMustUnderstand, unk, []byte{1}))},
		{name: "M in playback", tree: addPlayback(NewLeaf(FlagMustUnderstand, unk, nil))},
		{name: "M container in outer", tree: func(l *License) {
			l.Outer.Children = append([]*Object{NewContainer(flagsMC, unk)}, l.Outer.Children...)
		}},
		{name: "M under non-E unknown container", tree: addGlobal(NewContainer(FlagContainer, unk, NewLeaf(FlagMustUnderstand, unk+1, nil)))},
		{name: "misplaced known M", tree: addPlayback(NewLeaf(FlagMustUnderstand, TypeExpiration, make([]byte, 8)))},
		{name: "deprecated type with M", tree: addGlobal(NewLeaf(FlagMustUnderstand, 0x0018, nil))},
		{name: "M|B restriction", tree: addPlayback(NewLeaf(FlagMustUnderstand|FlagBestEffort, 400, []byte{2}))},
	}
	for _, c := range reject {
		t.Run("reject "+c.name, func(t *testing.T) {
			l, err := Parse(c.bytes(t))
			require.ErrorIs(t, err, ErrUnknownObject)
			require.ErrorIs(t, err, drm.ErrInvalidLicense)
			require.Nil(t, l)
		})
	}

	accept := []struct {
		parseCase
		unknown []uint16 // types listed in Policy.Unknown
	}{
		{parseCase{name: "non-M in global", tree: addGlobal(NewLeaf(0, unk, []byte{1, 2, 3}))}, []uint16{unk}},
		{parseCase{name: "non-M container with non-M child", tree: addGlobal(NewContainer(FlagContainer, unk, NewLeaf(0, unk+1, []byte{5})))}, []uint16{unk}},
		{parseCase{name: "M|E extensible restriction in playback", tree: addPlayback(NewLeaf(0x1D, 400, []byte{2}))}, []uint16{400}},
		{parseCase{name: "M under unknown E container", tree: addGlobal(NewContainer(flagsCE, unk, NewLeaf(FlagMustUnderstand, unk+1, nil), NewLeaf(FlagMustUnderstand, TypeContentKey, nil)))}, []uint16{unk}},
		{parseCase{name: "M under extensible right", tree: func(l *License) {
			right := NewContainer(flagsCE, 0x0045, NewLeaf(FlagMustUnderstand, unk, []byte{9}))
			l.Outer.Children = append([]*Object{right}, l.Outer.Children...)
		}}, []uint16{unk}},
		{parseCase{name: "misplaced known non-M", tree: addPlayback(NewLeaf(0, TypeIssueDate, []byte{1}))}, []uint16{TypeIssueDate}},
		{parseCase{name: "deprecated type without M", tree: addGlobal(NewLeaf(0, 0x0018, nil))}, []uint16{0x0018}},
		{parseCase{name: "application ID list", tree: addPlayback(NewLeaf(flagsMEB, TypeApplicationIDList, []byte{1, 2}))}, nil},
		{parseCase{name: "secure stop 2 in global", tree: addGlobal(NewLeaf(0, TypeSecureStop2, append(be16(1), make([]byte, 24)...)))}, nil},
		{parseCase{name: "misplaced secure stop 2 without M", tree: addPlayback(NewLeaf(0, TypeSecureStop2, []byte{1}))}, []uint16{TypeSecureStop2}},
	}
	for _, c := range accept {
		t.Run("accept "+c.name, func(t *testing.T) {
			b := c.bytes(t)
			l, err := Parse(b)
			require.NoError(t, err)
			require.Equal(t, b, l.Bytes())
			var got []uint16
			for _, o := range l.Policy().Unknown {
				got = append(got, o.Type)
			}
			require.Equal(t, c.unknown, got)
			// Minimal license policy is unaffected.
			require.Equal(t, uint16(2000), l.MinSecurityLevel())
		})
	}
}
