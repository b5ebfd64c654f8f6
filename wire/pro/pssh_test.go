package pro

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/wire/kid"
)

func TestSystemID(t *testing.T) {
	id := SystemID()
	require.Equal(t, SystemIDString, kid.ID(id).String())
	require.Equal(t, mustHex("9a04f07998404286ab92e65be0885f95"), id[:])
}

// The pssh boxes shaka-packager 3.4.2 wrote (testdata/README.md) parse,
// re-encode identically, and equal what this package builds from the same
// key: a version 0 box holding a PRO with one header record.
func TestShakaPSSH(t *testing.T) {
	id := kid.MustParse("10000000-1000-1000-1000-100000000001")
	key := testKeys["AAAAEAAQABAQABAAAAAAAQ=="]
	sum, err := Checksum(AlgAESCTR, id, key)
	require.NoError(t, err)
	require.Equal(t, "5TzIYQ2hrOY=", base64.StdEncoding.EncodeToString(sum)) // docs/formats/pro-header.md §8

	for _, tc := range []struct {
		file, golden string
		h            *Header
	}{
		{"shaka-3.4.2-cenc.pssh", "pssh-v0-cenc.golden", &Header{
			Version: Version40,
			KIDs:    []KeyInfo{{ID: id, AlgID: AlgAESCTR, Checksum: sum}},
		}},
		{"shaka-3.4.2-cbcs.pssh", "pssh-v0-cbcs.golden", &Header{
			Version: Version43,
			KIDs:    []KeyInfo{{ID: id, AlgID: AlgAESCBC}},
			LAURL:   "http://127.0.0.1:8080/rightsmanager.asmx",
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			o, err := NewObject(tc.h)
			require.NoError(t, err)
			p := &PSSH{SystemID: SystemID(), Data: o.Bytes()}
			built := p.Bytes()
			golden(t, tc.golden, built)

			shaka := readFile(t, tc.file)
			require.Equal(t, shaka, built)
			p2, err := ParsePSSH(shaka)
			require.NoError(t, err)
			require.Equal(t, shaka, p2.Bytes())
			require.True(t, p2.IsPlayReady())
			require.Zero(t, p2.Version)
			h, err := p2.Header()
			require.NoError(t, err)
			require.Equal(t, tc.h, h)
			require.True(t, h.KIDs[0].VerifyChecksum(key))
		})
	}
}

func TestPSSHv1(t *testing.T) {
	h, err := ParseHeaderXML(string(readFile(t, "header-4.2.xml")))
	require.NoError(t, err)
	o, err := NewObject(h)
	require.NoError(t, err)
	p := &PSSH{Version: 1, SystemID: SystemID(), KIDs: []kid.ID{h.KIDs[0].ID, h.KIDs[1].ID}, Data: o.Bytes()}
	b := p.Bytes()
	golden(t, "pssh-v1-4.2.golden", b)
	// CENC §8.1: the KID list holds big-endian (UUID order) bytes.
	require.Equal(t, mustHex("00000002a2c786d0f9ef4cb3b333cd323a4284a5"), b[28:48])
	p2, err := ParsePSSH(b)
	require.NoError(t, err)
	require.Equal(t, p, p2)
	h2, err := p2.Header()
	require.NoError(t, err)
	require.Equal(t, h, h2)

	// A version 1 box with an empty KID list.
	p = &PSSH{Version: 1, SystemID: SystemID(), Data: []byte{}}
	p2, err = ParsePSSH(p.Bytes())
	require.NoError(t, err)
	require.Equal(t, p, p2)
}

func TestParsePSSHRejects(t *testing.T) {
	good := readFile(t, "shaka-3.4.2-cenc.pssh")
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	for name, b := range map[string][]byte{
		"nil":          nil,
		"short":        good[:31],
		"size small":   mut(func(b []byte) []byte { b[3]--; return b }),
		"size large":   mut(func(b []byte) []byte { b[3]++; return b }),
		"size zero":    mut(func(b []byte) []byte { b[2], b[3] = 0, 0; return b }),
		"size one":     mut(func(b []byte) []byte { b[2], b[3] = 0, 1; return b }),
		"type":         mut(func(b []byte) []byte { b[4] = 'P'; return b }),
		"version 2":    mut(func(b []byte) []byte { b[8] = 2; return b }),
		"data small":   mut(func(b []byte) []byte { b[31]--; return b }),
		"data large":   mut(func(b []byte) []byte { b[31]++; return b }),
		"v1 kid count": mut(func(b []byte) []byte { b[8] = 1; return b }), // reads the data size as a count
		"v1 no data size": func() []byte {
			b := (&PSSH{Version: 1, SystemID: SystemID(), KIDs: []kid.ID{{}}}).Bytes()
			b = b[:len(b)-4]
			b[3] -= 4
			return b
		}(),
		"too large": func() []byte { b := make([]byte, MaxPSSHSize+1); return b }(),
	} {
		p, err := ParsePSSH(b)
		require.ErrorIs(t, err, ErrMalformed, name)
		require.Nil(t, p, name)
	}
	for name, p := range map[string]*PSSH{
		"version 2":   {Version: 2},
		"flags":       {Flags: 1 << 24},
		"v0 with KID": {KIDs: []kid.ID{{}}},
		"too large":   {Data: make([]byte, MaxPSSHSize)},
	} {
		require.Nil(t, p.Bytes(), name)
	}
	// Not PlayReady.
	p, err := ParsePSSH(mut(func(b []byte) []byte { b[12] ^= 1; return b }))
	require.NoError(t, err)
	require.False(t, p.IsPlayReady())
	h, err := p.Header()
	require.ErrorIs(t, err, ErrMalformed)
	require.Nil(t, h)
}

// docs/formats/media.md §3: pssh data / mspr:pro may hold a PRO or a bare
// UTF-16LE WRMHEADER.
func TestParseHeaderData(t *testing.T) {
	pro := readFile(t, "header-spec-3.6.1.pro")
	bare := pro[10:]
	want, err := ParseHeaderXML(string(readFile(t, "header-4.0.xml")))
	require.NoError(t, err)
	for name, b := range map[string][]byte{
		"pro":  pro,
		"bare": bare,
		"bom":  append([]byte{0xFF, 0xFE}, bare...),
	} {
		h, err := ParseHeaderData(b)
		require.NoError(t, err, name)
		require.Equal(t, want, h, name)
	}
	for name, b := range map[string][]byte{
		"nil":          nil,
		"garbage":      []byte("not a header"),
		"utf-8 xml":    readFile(t, "header-4.0.xml"),
		"bad pro":      pro[:len(pro)-2],
		"pro no hdr":   {6, 0, 0, 0, 0, 0},
		"bare garbage": []byte(strings.Repeat("<\x00", 10)),
	} {
		h, err := ParseHeaderData(b)
		require.ErrorIs(t, err, ErrMalformed, name)
		require.Nil(t, h, name)
	}
}
