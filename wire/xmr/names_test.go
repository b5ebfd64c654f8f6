package xmr_test

import (
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/xmr"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

// TestNames checks every GUID prsim names against the tables of
// docs/formats/policies-and-outputs.md §3 and §4, spelled out here again.
func TestNames(t *testing.T) {
	t.Parallel()
	for g, want := range map[string]string{
		"ABB2C6F1-E663-4625-A945-972D17B231E7": "HDCP type restriction (HDCP 2.x with content stream type 1)",
		"9645E831-E01D-4FFF-8342-0A720E3E028F": "maximum effective decode resolution",
		"760AE755-682A-41E0-B1B3-DCDF836A7306": "digital video only (every analog video output blocked)",
		"C3FD11C6-F8B7-4D20-B008-1DB17D61F2DA": "AGC and colour stripe",
		"225CD36F-F132-49EF-BA8C-C91EA28E4369": "best-effort analog TV restriction (CGMS-A)",
		"2098DE8D-7DDD-4BAB-96C6-32EBB6FABEA3": "hard analog TV restriction (CGMS-A)",
		"D783A191-E083-4BAF-B2DA-E69F910B3772": "pixel cap for VGA/RGB",
		"811C5110-46C8-4C6E-8163-C0482A15D47E": "pixel cap for component video",
		"6D5CFA59-C250-4426-930E-FAC72C8FCFA6": "SCMS copy bits",
		"2076ECD5-044F-4047-BFCF-7A75D0E4E269": "internal video output only",
		"6CDA453D-BFBB-45D1-AEB7-37287B2403AE": "watermarking",
	} {
		require.Equal(t, want, xmr.OutputProtectionName(kid.MustParse(g)), g)
		require.Empty(t, xmr.PlayEnablerName(kid.MustParse(g)), g)
	}
	for g, want := range map[string]string{
		"786627D8-C2A6-44BE-8F88-08AE255B01A7": "unknown output (any resolution)",
		"B621D91F-EDCC-4035-8D4B-DC71760D43E9": "unknown output at constrained resolution",
		"5ABF0F0D-DC29-4B82-9982-FD8E57525BFC": "AirPlay",
		"A340C256-0941-4D4C-AD1D-0B6735C0CB24": "HDCP / Miracast",
		"1B4542E3-B5CF-4C99-B3BA-829AF46C92F8": "HDCP / WiVu",
		"D685030B-0F4F-43A6-BBAD-356F1EA0049A": "DTCP",
		"002F9772-38A0-43E5-9F79-0F6361DCC62A": "Helix",
	} {
		require.Equal(t, want, xmr.PlayEnablerName(kid.MustParse(g)), g)
		require.Empty(t, xmr.OutputProtectionName(kid.MustParse(g)), g)
	}
	other := kid.MustParse("01234567-89AB-CDEF-0123-456789ABCDEF")
	require.Empty(t, xmr.OutputProtectionName(other))
	require.Empty(t, xmr.PlayEnablerName(other))
	require.Equal(t, "DTCP", xmr.SourceIDName(258))
	require.Equal(t, "DTCP at no greater than 520,000 pixels per frame", xmr.SourceIDName(265))
	require.Empty(t, xmr.SourceIDName(260))
}

func TestDescribeConfig(t *testing.T) {
	t.Parallel()
	vendor := kid.MustParse("11111111-2222-3333-4444-555555555555").GUID()
	for _, tc := range []struct {
		guid, data, want string
	}{
		{xmr.ProtectionHDCPType, "00000001", "1: HDCP 2.2 or later with content stream type 1 (with uncompressed digital video OPL 271–300)"},
		{xmr.ProtectionHDCPType, "", "1: HDCP 2.2 or later with content stream type 1 (with uncompressed digital video OPL 271–300)"},
		{xmr.ProtectionHDCPType, "00000000", "0: no type restriction"},
		{xmr.ProtectionHDCPType, "00000009", "unrecognised (data 00000009)"},
		{xmr.ProtectionMaxResolution, "0000078000000438", "1920x1080 (width, height)"},
		{xmr.ProtectionMaxResolution, "0780", "malformed: want two big-endian u32, width and height (data 0780)"},
		{xmr.ProtectionAGC, "02000000", "level 2 (APSTB 10b)"},
		{xmr.ProtectionAGC, "03", "level 3 (APSTB 11b)"},
		{xmr.ProtectionAGC, "00000004", "malformed: want level 0–3 (data 00000004)"},
		{xmr.ProtectionCGMSA, "00000001", "1: CGMS-A CopyNoMore (01b)"},
		{xmr.ProtectionCGMSAHard, "03", "3: CGMS-A CopyNever (11b)"},
		{xmr.ProtectionComponentCap, "0007EF40", "at most 520000 pixels per frame"},
		{xmr.ProtectionVGACap, "", "at most 520000 pixels per frame"},
		{xmr.ProtectionSCMS, "01", "copy bits 01"},
		{xmr.ProtectionSCMS, "11", "copy bits 11"},
		{xmr.ProtectionSCMS, "00000002", "copy bits 10"},
		{xmr.ProtectionDigitalVideoOnly, "00000001", "every analog video output blocked (data 00000001)"},
		{xmr.ProtectionInternalOnly, "01", "every external video output blocked (data 01)"},
		{xmr.ProtectionWatermark, "00", "disengage"},
		{xmr.ProtectionWatermark, "010bb8" + hex.EncodeToString(vendor[:]) + "abcd", "must engage, inside the TEE (3000), vendor 11111111-2222-3333-4444-555555555555, 2 bytes of vendor data"},
		{xmr.ProtectionWatermark, "0307d0" + hex.EncodeToString(vendor[:]), "engage if possible, in or outside the TEE (2000), vendor 11111111-2222-3333-4444-555555555555, 0 bytes of vendor data"},
		{xmr.ProtectionWatermark, "0101", "malformed: xmr: watermarking modes 1 and 3 need at least 19 bytes (data 0101)"},
		{xmr.ProtectionWatermark, "0201", "malformed: xmr: watermarking modes 0 and 2 take no further bytes (data 0201)"},
		{xmr.ProtectionWatermark, "09", "malformed: xmr: watermarking mode must be 0–3 (data 09)"},
		{"01234567-89AB-CDEF-0123-456789ABCDEF", "abcd", "abcd"},
		{"01234567-89AB-CDEF-0123-456789ABCDEF", "", "(no data)"},
	} {
		require.Equal(t, tc.want, xmr.DescribeConfig(kid.MustParse(tc.guid), unhex(t, tc.data)), "%s %s", tc.guid, tc.data)
	}
}

func TestConfigValue(t *testing.T) {
	t.Parallel()
	for data, want := range map[string]uint32{"01": 1, "00000001": 1, "02000000": 2, "0003": 3, "0300": 3, "00000100": 256, "ffffffff": 0xffffffff} {
		v, ok := xmr.ConfigValue(unhex(t, data))
		require.True(t, ok, data)
		require.Equal(t, want, v, data)
	}
	for _, data := range []string{"", "000001", "0000000001"} {
		_, ok := xmr.ConfigValue(unhex(t, data))
		require.False(t, ok, data)
	}
	_, _, ok := xmr.MaxResolution(unhex(t, "0000000000000438"))
	require.False(t, ok, "zero width")
	_, ok = xmr.PixelCap(unhex(t, "00000000"))
	require.False(t, ok, "zero cap")
	_, ok = xmr.SCMSBits(unhex(t, "04"))
	require.False(t, ok)
	require.Empty(t, xmr.CGMSName(4))
}
