package xmr

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/prsim/prsim/wire/kid"
)

// Explicit output protection GUIDs, registry format (docs/formats/policies-and-outputs.md §3).
// They are strings so that no one can change them; kid.MustParse gives the ID.
const (
	ProtectionHDCPType         = "ABB2C6F1-E663-4625-A945-972D17B231E7" // digital video: require HDCP 2.x content stream type 1
	ProtectionMaxResolution    = "9645E831-E01D-4FFF-8342-0A720E3E028F" // digital video: maximum effective decode resolution
	ProtectionInternalOnly     = "2076ECD5-044F-4047-BFCF-7A75D0E4E269" // digital video: internal video output only
	ProtectionWatermark        = "6CDA453D-BFBB-45D1-AEB7-37287B2403AE" // digital video: watermarking
	ProtectionDigitalVideoOnly = "760AE755-682A-41E0-B1B3-DCDF836A7306" // analog video: block every analog video output
	ProtectionAGC              = "C3FD11C6-F8B7-4D20-B008-1DB17D61F2DA" // analog video: AGC and colour stripe, level 0–3
	ProtectionCGMSA            = "225CD36F-F132-49EF-BA8C-C91EA28E4369" // analog video: best-effort analog TV restriction (CGMS-A)
	ProtectionCGMSAHard        = "2098DE8D-7DDD-4BAB-96C6-32EBB6FABEA3" // analog video: hard analog TV restriction (CGMS-A)
	ProtectionComponentCap     = "811C5110-46C8-4C6E-8163-C0482A15D47E" // analog video: pixel cap for component video
	ProtectionVGACap           = "D783A191-E083-4BAF-B2DA-E69F910B3772" // analog video: pixel cap for VGA/RGB
	ProtectionSCMS             = "6D5CFA59-C250-4426-930E-FAC72C8FCFA6" // digital audio: SCMS copy bits
)

// Play enabler GUIDs, registry format (docs/formats/policies-and-outputs.md §4).
const (
	EnablerUnknownOutput            = "786627D8-C2A6-44BE-8F88-08AE255B01A7" // pass to an unknown output, any resolution
	EnablerConstrainedUnknownOutput = "B621D91F-EDCC-4035-8D4B-DC71760D43E9" // pass constrained resolution to an unknown output
	EnablerAirPlay                  = "5ABF0F0D-DC29-4B82-9982-FD8E57525BFC"
	EnablerMiracast                 = "A340C256-0941-4D4C-AD1D-0B6735C0CB24" // HDCP / Miracast
	EnablerWiVu                     = "1B4542E3-B5CF-4C99-B3BA-829AF46C92F8" // HDCP / WiVu
	EnablerDTCP                     = "D685030B-0F4F-43A6-BBAD-356F1EA0049A"
	EnablerHelix                    = "002F9772-38A0-43E5-9F79-0F6361DCC62A"
)

// DefaultPixelCap is the 520,000-pixels-per-frame constraint of the OPL
// tables and of the pixel-cap protections without data.
const DefaultPixelCap = 520000

type guidName struct{ id, name string }

var protectionNames = [...]guidName{
	{ProtectionHDCPType, "HDCP type restriction (HDCP 2.x with content stream type 1)"},
	{ProtectionMaxResolution, "maximum effective decode resolution"},
	{ProtectionInternalOnly, "internal video output only"},
	{ProtectionWatermark, "watermarking"},
	{ProtectionDigitalVideoOnly, "digital video only (every analog video output blocked)"},
	{ProtectionAGC, "AGC and colour stripe"},
	{ProtectionCGMSA, "best-effort analog TV restriction (CGMS-A)"},
	{ProtectionCGMSAHard, "hard analog TV restriction (CGMS-A)"},
	{ProtectionComponentCap, "pixel cap for component video"},
	{ProtectionVGACap, "pixel cap for VGA/RGB"},
	{ProtectionSCMS, "SCMS copy bits"},
}

var enablerNames = [...]guidName{
	{EnablerUnknownOutput, "unknown output (any resolution)"},
	{EnablerConstrainedUnknownOutput, "unknown output at constrained resolution"},
	{EnablerAirPlay, "AirPlay"},
	{EnablerMiracast, "HDCP / Miracast"},
	{EnablerWiVu, "HDCP / WiVu"},
	{EnablerDTCP, "DTCP"},
	{EnablerHelix, "Helix"},
}

func lookupGUID(tab []guidName, id kid.ID) string {
	for _, g := range tab {
		if kid.MustParse(g.id) == id {
			return g.name
		}
	}
	return ""
}

// OutputProtectionName names an explicit output protection GUID; "" when
// prsim does not know it.
func OutputProtectionName(id kid.ID) string { return lookupGUID(protectionNames[:], id) }

// PlayEnablerName names a play enabler GUID; "" when prsim does not know it.
func PlayEnablerName(id kid.ID) string { return lookupGUID(enablerNames[:], id) }

// SourceIDName names a SOURCEID (0x22) value from the list of recognised
// ecosystems in the Axinom docs (docs/formats/policies-and-outputs.md §3); ""
// for a value not listed.
func SourceIDName(v uint32) string {
	switch v {
	case 1:
		return "Macrovision"
	case 2:
		return "CGMS-A"
	case 4:
		return "OpenCable Unidirectional Receiver (OCUR)"
	case 257:
		return "CPRM, CPPM"
	case 258:
		return "DTCP"
	case 259:
		return "OMA/CMLA"
	case 262:
		return "AACS (pre-recorded)"
	case 263:
		return "AACS (recordable)"
	case 265:
		return "DTCP at no greater than 520,000 pixels per frame"
	case 266:
		return "ISDB"
	case 267:
		return "UltraViolet Download"
	case 268:
		return "UltraViolet Streaming"
	case 269:
		return "Widevine"
	case 270:
		return "FairPlay Server"
	case 271:
		return "FairPlay Local"
	}
	return ""
}

// ConfigValue decodes the small number a configData carries (a level, a
// CGMS-A value, a flag): one byte, or a u16/u32 in either byte order, since
// the docs write 1 as 00000001 and 2 as 02000000. Big-endian is read unless
// it is above 255 and the little-endian reading is not.
func ConfigValue(data []byte) (uint32, bool) {
	var be, le uint32
	switch len(data) {
	case 1:
		return uint32(data[0]), true
	case 2:
		be, le = uint32(binary.BigEndian.Uint16(data)), uint32(binary.LittleEndian.Uint16(data))
	case 4:
		be, le = binary.BigEndian.Uint32(data), binary.LittleEndian.Uint32(data)
	default:
		return 0, false
	}
	if be > 255 && le <= 255 {
		return le, true
	}
	return be, true
}

// MaxResolution decodes the maximum effective decode resolution: two
// big-endian u32, width then height (the Axinom reading prsim follows,
// docs/formats/policies-and-outputs.md §3).
func MaxResolution(data []byte) (width, height uint32, ok bool) {
	if len(data) != 8 {
		return 0, 0, false
	}
	w, h := binary.BigEndian.Uint32(data), binary.BigEndian.Uint32(data[4:])
	return w, h, w != 0 && h != 0
}

// PixelCap decodes the pixel cap of the component and VGA protections: a
// big-endian u32; no data means [DefaultPixelCap].
func PixelCap(data []byte) (uint32, bool) {
	switch len(data) {
	case 0:
		return DefaultPixelCap, true
	case 4:
		v := binary.BigEndian.Uint32(data)
		return v, v != 0
	}
	return 0, false
}

// SCMSBits decodes the SCMS copy bits 00, 01, 10 or 11 (Cp bit, L bit) as
// 0–3. One byte 0x10 or 0x11 is read as the bit strings "10" and "11".
func SCMSBits(data []byte) (uint32, bool) {
	if len(data) == 1 && (data[0] == 0x10 || data[0] == 0x11) {
		return uint32(data[0]&1) | 2, true
	}
	v, ok := ConfigValue(data)
	return v, ok && v <= 3
}

// Watermark modes (first configData byte of [ProtectionWatermark]).
const (
	WatermarkDisengage        = 0
	WatermarkMustEngage       = 1
	WatermarkDropIfPossible   = 2
	WatermarkEngageIfPossible = 3
)

// WatermarkConfig is the decoded configData of [ProtectionWatermark]
// (docs/formats/policies-and-outputs.md §3, Axinom docs).
type WatermarkConfig struct {
	Mode       byte   // Watermark… modes
	Where      uint16 // 2000: in or outside the TEE; 3000: inside the TEE; 0 when absent
	Vendor     kid.ID // the watermark vendor, for modes 1 and 3
	VendorData []byte // anything after the vendor GUID
}

// ParseWatermarkConfig decodes the watermarking configData: mode byte;
// for modes 1 and 3 a big-endian WORD (2000 or 3000) and the vendor GUID
// (at least 19 bytes), then vendor data; modes 0 and 2 take no more bytes.
func ParseWatermarkConfig(data []byte) (WatermarkConfig, error) {
	if len(data) == 0 {
		return WatermarkConfig{}, errors.New("xmr: watermarking config is empty")
	}
	w := WatermarkConfig{Mode: data[0]}
	switch w.Mode {
	case WatermarkDisengage, WatermarkDropIfPossible:
		if len(data) != 1 {
			return WatermarkConfig{}, errors.New("xmr: watermarking modes 0 and 2 take no further bytes")
		}
		return w, nil
	case WatermarkMustEngage, WatermarkEngageIfPossible:
		if len(data) < 19 {
			return WatermarkConfig{}, errors.New("xmr: watermarking modes 1 and 3 need at least 19 bytes")
		}
		w.Where = binary.BigEndian.Uint16(data[1:])
		if w.Where != 2000 && w.Where != 3000 {
			return WatermarkConfig{}, errors.New("xmr: watermarking location must be 2000 or 3000")
		}
		w.Vendor = guidOf(data[3:19])
		w.VendorData = clone(data[19:])
		return w, nil
	}
	return WatermarkConfig{}, errors.New("xmr: watermarking mode must be 0–3")
}

var cgmsNames = [4]string{"CopyFreely", "CopyNoMore", "CopyOnce", "CopyNever"}

// CGMSName names a CGMS-A value 0–3 (00 copy freely, 01 copy no more,
// 10 copy once, 11 copy never).
func CGMSName(v uint32) string {
	if v < 4 {
		return cgmsNames[v]
	}
	return ""
}

// DescribeConfig decodes the configData of a known output protection into
// words, e.g. "1920x1080" or "level 2 (APSTB 10b)"; other GUIDs, and data
// that does not decode, give the data as hex.
func DescribeConfig(id kid.ID, data []byte) string {
	raw := func(why string) string {
		if len(data) == 0 {
			return why + " (no data)"
		}
		return why + " (data " + hex.EncodeToString(data) + ")"
	}
	switch id {
	case kid.MustParse(ProtectionHDCPType):
		if v, ok := ConfigValue(data); ok && v == 0 {
			return "0: no type restriction"
		}
		if v, ok := ConfigValue(data); (ok && v == 1) || len(data) == 0 {
			return "1: HDCP 2.2 or later with content stream type 1 (with uncompressed digital video OPL 271–300)"
		}
		return raw("unrecognised")
	case kid.MustParse(ProtectionMaxResolution):
		if w, h, ok := MaxResolution(data); ok {
			return fmt.Sprintf("%dx%d (width, height)", w, h)
		}
		return raw("malformed: want two big-endian u32, width and height")
	case kid.MustParse(ProtectionInternalOnly):
		return raw("every external video output blocked")
	case kid.MustParse(ProtectionDigitalVideoOnly):
		return raw("every analog video output blocked")
	case kid.MustParse(ProtectionAGC):
		if v, ok := ConfigValue(data); ok && v <= 3 {
			return fmt.Sprintf("level %d (APSTB %02bb)", v, v)
		}
		return raw("malformed: want level 0–3")
	case kid.MustParse(ProtectionCGMSA), kid.MustParse(ProtectionCGMSAHard):
		if v, ok := ConfigValue(data); ok && v <= 3 {
			return fmt.Sprintf("%d: CGMS-A %s (%02bb)", v, CGMSName(v), v)
		}
		return raw("malformed: want 0–3")
	case kid.MustParse(ProtectionComponentCap), kid.MustParse(ProtectionVGACap):
		if v, ok := PixelCap(data); ok {
			return fmt.Sprintf("at most %d pixels per frame", v)
		}
		return raw("malformed: want a big-endian u32 pixel count")
	case kid.MustParse(ProtectionSCMS):
		if v, ok := SCMSBits(data); ok {
			return fmt.Sprintf("copy bits %02b", v)
		}
		return raw("malformed: want copy bits 00, 01, 10 or 11")
	case kid.MustParse(ProtectionWatermark):
		w, err := ParseWatermarkConfig(data)
		if err != nil {
			return raw("malformed: " + err.Error())
		}
		mode := [4]string{"disengage", "must engage", "drop if possible", "engage if possible"}[w.Mode]
		if w.Where == 0 {
			return mode
		}
		where := "in or outside the TEE"
		if w.Where == 3000 {
			where = "inside the TEE"
		}
		return fmt.Sprintf("%s, %s (%d), vendor %s, %d bytes of vendor data", mode, where, w.Where, w.Vendor, len(w.VendorData))
	}
	if len(data) == 0 {
		return "(no data)"
	}
	return hex.EncodeToString(data)
}
