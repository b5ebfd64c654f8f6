package xmr

import (
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"testing"

	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/wire/kid"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files")

// Fixed test inputs. The KID is the PlayReady Header spec v4.2 example
// (docs/formats/pro-header.md §5); the GUIDs are from policies-and-outputs.md §3–§4.
var (
	testCI     = []byte("prsim-xmr-CI-key") // 16 bytes
	testKID    = kid.MustParse("a2c786d0-f9ef-4cb3-b333-cd323a4284a5")
	testRights = [16]byte{0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f}

	guidAllowUnknownHD = kid.MustParse("786627D8-C2A6-44BE-8F88-08AE255B01A7")
	guidAllowUnknownSD = kid.MustParse("B621D91F-EDCC-4035-8D4B-DC71760D43E9")
	guidHDCPType       = kid.MustParse("ABB2C6F1-E663-4625-A945-972D17B231E7")
	guidMaxRes         = kid.MustParse("9645E831-E01D-4FFF-8342-0A720E3E028F")
	guidAGC            = kid.MustParse("C3FD11C6-F8B7-4D20-B008-1DB17D61F2DA")
	guidCGMSA          = kid.MustParse("225CD36F-F132-49EF-BA8C-C91EA28E4369")
	guidSCMS           = kid.MustParse("6D5CFA59-C250-4426-930E-FAC72C8FCFA6")
)

// testDeviceKey is a P-256 key whose scalar is a fixed SHA-256 hash.
func testDeviceKey(t testing.TB) (d []byte, pub ecc.Point) {
	t.Helper()
	h := sha256.Sum256([]byte("prsim wire/xmr test device key"))
	pub, err := ecc.ScalarBaseMult(h[:])
	require.NoError(t, err)
	return h[:], pub
}

// fixedEncKey is 128 arbitrary but fixed bytes standing in for an ElGamal
// ciphertext in golden files.
func fixedEncKey() []byte {
	b := make([]byte, 0, EncKeySizeECC256)
	for i := byte(0); len(b) < EncKeySizeECC256; i++ {
		h := sha256.Sum256([]byte{'k', i})
		b = append(b, h[:]...)
	}
	return b[:EncKeySizeECC256]
}

// detReader is a deterministic byte stream (SHA-256 in counter mode).
type detReader struct {
	seed string
	n    uint64
	buf  []byte
}

func (r *detReader) Read(p []byte) (int, error) {
	for i := range p {
		if len(r.buf) == 0 {
			h := sha256.Sum256(binary.BigEndian.AppendUint64([]byte(r.seed), r.n))
			r.n++
			r.buf = h[:]
		}
		p[i] = r.buf[0]
		r.buf = r.buf[1:]
	}
	return len(p), nil
}

func ptr32(v uint32) *uint32 { return &v }

func minimalTemplate(t testing.TB) *Template {
	_, pub := testDeviceKey(t)
	return &Template{
		RightsID:         testRights,
		MinSecurityLevel: 2000,
		RIV:              1,
		IssueDate:        1700000000,
		Play:             true,
		ContentKey:       ContentKey{KID: testKID, KeyType: KeyTypeAESCTR, CipherType: CipherECC256, EncKey: fixedEncKey()},
		DeviceKey:        pub,
	}
}

func fullTemplate(t testing.TB) *Template {
	tp := minimalTemplate(t)
	set := SettingCannotPersist
	tp.MinSecurityLevel = 3000
	tp.RIV = 42
	tp.Expiration = &Expiration{Begin: 1700000000, End: 1800000000}
	tp.ExpireAfterFirstPlay = ptr32(0x0002A300) // 48 h, the playready-rs example (docs/formats/xmr.md §5)
	tp.RemovalDate = ptr32(1900000000)
	tp.RealTimeExpiration = true
	tp.Settings = &set
	tp.SecureStopID = &[16]byte{0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf}
	tp.SourceID = ptr32(260)
	tp.OPL = &OPL{500, 250, 150, 100, 100} // docs/formats/xmr.md §7 example
	tp.AnalogVideo = []OutputConfig{{ID: guidAGC, Data: []byte{2, 0, 0, 0}}, {ID: guidCGMSA, Data: []byte{0, 0, 0, 1}}}
	tp.DigitalAudio = []OutputConfig{{ID: guidSCMS, Data: []byte{0, 0, 0, 1}}}
	tp.DigitalVideo = []OutputConfig{{ID: guidHDCPType, Data: []byte{0, 0, 0, 1}}, {ID: guidMaxRes, Data: []byte{0, 0, 4, 0x38, 0, 0, 7, 0x80}}}
	tp.PlayEnablers = []kid.ID{guidAllowUnknownHD, guidAllowUnknownSD}
	tp.ContentKey.KeyType = KeyTypeAESCBC
	return tp
}

func build(t testing.TB, tp *Template) []byte {
	t.Helper()
	b, err := tp.Build(testCI)
	require.NoError(t, err)
	return b
}

func mustParse(t testing.TB, b []byte) *License {
	t.Helper()
	l, err := Parse(b)
	require.NoError(t, err)
	return l
}

// find walks a path of child types from the outer container.
func find(l *License, path ...uint16) *Object {
	o := l.Outer
	for _, t := range path {
		o = o.Child(t)
		if o == nil {
			return nil
		}
	}
	return o
}

func remove(o *Object, t uint16) {
	out := o.Children[:0]
	for _, c := range o.Children {
		if c.Type != t {
			out = append(out, c)
		}
	}
	o.Children = out
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}
