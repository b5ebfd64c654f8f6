package bcert

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/stretchr/testify/require"
)

const (
	goldenChain = "testdata/chain.bcert"
	goldenDump  = "testdata/chain.dump.txt"
)

// writeCorpus writes one seed in Go's fuzz corpus format.
func writeCorpus(t *testing.T, fuzz, name string, data []byte) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", fuzz)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(data)) + ")\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
}

// TestGolden checks the deterministic root → model → leaf chain (built from
// fixed keys with RFC 6979 signatures; layout docs/formats/bcert.md §2–§6, §12)
// against testdata/chain.bcert and its dump.
func TestGolden(t *testing.T) {
	ch, k := buildChain(t, nil)
	b := ch.Bytes()
	dump := ch.Dump()
	if *update {
		require.NoError(t, os.WriteFile(goldenChain, b, 0o644))
		require.NoError(t, os.WriteFile(goldenDump, []byte(dump), 0o644))
		writeCorpus(t, "FuzzParseChain", "golden", b)
		writeCorpus(t, "FuzzParseChain", "header-only", b[:ChainHeaderSize])
		for i, c := range ch.Certs {
			writeCorpus(t, "FuzzParseCert", fmt.Sprintf("cert%d", i), c.Bytes())
		}
	}
	want, err := os.ReadFile(goldenChain)
	require.NoError(t, err)
	require.Equal(t, want, b, "chain bytes differ from the golden file (run with -update if intended)")
	wantDump, err := os.ReadFile(goldenDump)
	require.NoError(t, err)
	require.Equal(t, string(wantDump), dump)

	parsed, err := ParseChain(want)
	require.NoError(t, err)
	require.Equal(t, want, parsed.Bytes())
	require.Equal(t, dump, parsed.Dump())
	require.NoError(t, parsed.Verify(verifyOpts(t, k)))
}

func TestRoundTripAndAccessors(t *testing.T) {
	ch, k := buildChain(t, nil)
	b := ch.Bytes()
	require.Equal(t, uint32(len(b)), binary.BigEndian.Uint32(b[8:]))
	require.Equal(t, uint32(3), binary.BigEndian.Uint32(b[16:]))
	// Chain SL = leaf SL, at byte 60 of the CHAI blob (§6).
	require.Equal(t, uint32(2000), binary.BigEndian.Uint32(b[60:]))

	p, err := ParseChain(b)
	require.NoError(t, err)
	require.Equal(t, b, p.Bytes())
	require.Len(t, p.Certs, 3)
	for _, c := range p.Certs {
		cb := c.Bytes()
		// cbCertificate = cbCertificateSigned + 144 without ext-data (§3).
		require.Equal(t, binary.BigEndian.Uint32(cb[8:]), binary.BigEndian.Uint32(cb[12:])+SignatureObjSize)
		one, err := ParseCert(cb)
		require.NoError(t, err)
		require.Equal(t, cb, one.Bytes())
	}

	leaf := p.Leaf()
	bi := leaf.Basic()
	require.Equal(t, id(0x50), bi.CertID)
	require.Equal(t, id(0x60), bi.ClientID)
	require.Equal(t, uint32(CertTypeDevice), bi.Type)
	require.Equal(t, uint32(ExpirationNever), bi.Expiration)
	signPub := pub(t, k.sign)
	require.Equal(t, sha256.Sum256(signPub[:]), bi.Digest)

	ks := leaf.Keys()
	require.Len(t, ks, 2)
	require.Equal(t, Key{Type: KeyTypeECC256, Length: KeyBits, Public: signPub, Usages: []uint32{KeyUsageSign}}, ks[0])
	enc, ok := leaf.KeyWithUsage(KeyUsageEncryptKey)
	require.True(t, ok)
	require.Equal(t, pub(t, k.enc), enc)
	_, ok = leaf.KeyWithUsage(KeyUsageSignCRL)
	require.False(t, ok)

	require.Equal(t, []uint32{FeatureSecureClock, FeatureSupportsCRLs, FeaturePR3}, leaf.Features())
	require.True(t, leaf.HasFeature(FeaturePR3))
	require.False(t, leaf.HasFeature(FeatureAntiRollbackClock))
	m, ok := leaf.Manufacturer()
	require.True(t, ok)
	require.Equal(t, &Manufacturer{Name: "prsim", Model: "prsim-sl2000", Number: "2000"}, m)
	d, ok := leaf.Device()
	require.True(t, ok)
	require.Equal(t, &DeviceInfo{10240, 15360, 2}, d)
	sv, ok := leaf.SecurityVersion()
	require.True(t, ok)
	require.Equal(t, [2]uint32{0x01020304, PlatformUnspecified}, sv)
	_, ok = leaf.ServerWarningDays()
	require.False(t, ok)

	_, issuer, err := leaf.SignatureInfo()
	require.NoError(t, err)
	require.Equal(t, pub(t, k.model), issuer)
	_, issuer, err = p.Certs[2].SignatureInfo()
	require.NoError(t, err)
	require.Equal(t, pub(t, k.root), issuer, "root is self-signed")

	// Object order of a leaf (§5).
	var tags []uint16
	for _, o := range leaf.Objects {
		tags = append(tags, o.Tag)
	}
	require.Equal(t, []uint16{TagBasic, TagDevice, TagFeature, TagKey, TagManufacturer, TagSecurityVersion, TagSignature}, tags)

	// Prepend leaves the original chain alone.
	model := NewChain(p.Certs[1:]...)
	longer := model.Prepend(leaf)
	require.Len(t, model.Certs, 2)
	require.Equal(t, b, longer.Bytes())
}

func TestManufacturerPadding(t *testing.T) {
	// Lengths count the NUL and strings pad to 4 (§5 MANUFACTURER).
	b, err := encodeManufacturer(&Manufacturer{Flags: 7, Name: "abc", Model: "", Number: "abcd"})
	require.NoError(t, err)
	want := []byte{0, 0, 0, 7, 0, 0, 0, 4, 'a', 'b', 'c', 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 'a', 'b', 'c', 'd', 0, 0, 0, 0}
	require.Equal(t, want, b)
	m, err := decodeManufacturer(b)
	require.NoError(t, err)
	require.Equal(t, &Manufacturer{Flags: 7, Name: "abc", Number: "abcd"}, m)
}

func TestServerCert(t *testing.T) {
	k := keys(t)
	days := uint32(30)
	root := mustCert(t, rootTemplate(t, k), newSigner(t, k.root))
	srv := mustCert(t, &Template{
		SecurityLevel: 3000, Type: CertTypeServer, Server: &days,
		Keys: []Key{
			{Public: pub(t, k.sign), Usages: []uint32{KeyUsageSignResponse}},
			{Public: pub(t, k.enc), Usages: []uint32{KeyUsageEncryptKey}},
		},
	}, newSigner(t, k.root))
	w, ok := srv.ServerWarningDays()
	require.True(t, ok)
	require.Equal(t, days, w)
	ch := NewChain(srv, root)
	opts := verifyOpts(t, k)
	opts.LeafType = CertTypeServer
	require.NoError(t, ch.Verify(opts))
	opts.LeafType = CertTypeDevice
	require.ErrorIs(t, ch.Verify(opts), drm.ErrBCertInvalidCertType)
}

func TestSelfSignedRootAlone(t *testing.T) {
	k := keys(t)
	root := mustCert(t, rootTemplate(t, k), newSigner(t, k.root))
	require.NoError(t, NewChain(root).Verify(verifyOpts(t, k)))
}

func TestExtDataAfterSignature(t *testing.T) {
	// EXTDATACONTAINER follows SIGNATURE (§5) and parses and round-trips
	// there. Its bytes are outside the signed range, but the CERT header's
	// cbCertificate is inside it, so a container added after signing breaks
	// the signature: ext-data must be sized before the issuer signs (§3, §11).
	ch, k := buildChain(t, nil)
	leaf := ch.Leaf()
	leaf.Objects = append(leaf.Objects, Object{Flags: ObjectFlagContainer, Tag: TagExtDataContainer, Body: []byte{0, 0, 0, 1}})
	b := ch.Bytes()
	p, err := ParseChain(b)
	require.NoError(t, err)
	require.Equal(t, b, p.Bytes())
	require.ErrorIs(t, p.Verify(verifyOpts(t, k)), drm.ErrInvalidDeviceCertificate)
	c := p.Leaf().Bytes()
	require.Equal(t, binary.BigEndian.Uint32(c[12:])+SignatureObjSize+8+4, binary.BigEndian.Uint32(c[8:]))
}

func TestNewCertRejects(t *testing.T) {
	k := keys(t)
	s := newSigner(t, k.root)
	tests := map[string]func(*Template){
		"no keys":          func(tm *Template) { tm.Keys = nil },
		"device+server":    func(tm *Template) { d := uint32(1); tm.Server = &d; tm.Device = &DeviceInfo{} },
		"too many feature": func(tm *Template) { tm.Features = make([]uint32, MaxFeatures+1) },
		"bad key length":   func(tm *Template) { tm.Keys[0].Length = 256 },
		"off-curve key":    func(tm *Template) { tm.Keys[0].Public = ecc.Point{1} },
		"long string":      func(tm *Template) { tm.Manufacturer.Name = string(make([]byte, MaxStringSize)) },
		"NUL in string":    func(tm *Template) { tm.Manufacturer.Model = "a\x00b" },
	}
	for name, edit := range tests {
		t.Run(name, func(t *testing.T) {
			tm := leafTemplate(t, k)
			edit(tm)
			c, err := NewCert(tm, s)
			require.Error(t, err)
			require.Nil(t, c)
		})
	}
	c, err := NewCert(leafTemplate(t, k), nil)
	require.Error(t, err)
	require.Nil(t, c)
	c, err = NewCert(leafTemplate(t, k), badSigner{newSigner(t, k.root)})
	require.ErrorContains(t, err, "does not verify")
	require.Nil(t, c)
}

// badSigner returns a signature that does not verify.
type badSigner struct{ *testSigner }

func (b badSigner) SignDigest(d []byte) ([ecc.SignatureSize]byte, error) {
	s, err := b.testSigner.SignDigest(d)
	s[5] ^= 1
	return s, err
}
