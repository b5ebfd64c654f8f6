package policy_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/hal"
	"github.com/prsim/prsim/policy"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/xmr"
)

var testKID = kid.MustParse("10000000-1000-1000-1000-100000000001")

// license builds and parses a Play license with minimum SL 2000, edited by mod.
func license(t *testing.T, mod func(*xmr.Template)) *xmr.License {
	t.Helper()
	tp := &xmr.Template{
		MinSecurityLevel: 2000,
		RIV:              1,
		Play:             true,
		ContentKey:       xmr.ContentKey{KID: testKID, KeyType: xmr.KeyTypeAESCTR, CipherType: xmr.CipherECC256, EncKey: make([]byte, xmr.EncKeySizeECC256)},
	}
	if mod != nil {
		mod(tp)
	}
	b, err := tp.Build(make([]byte, 16))
	require.NoError(t, err)
	l, err := xmr.Parse(b)
	require.NoError(t, err)
	return l
}

func platform(t *testing.T, spec string) hal.Platform {
	t.Helper()
	p, err := hal.ParseOutputs(spec)
	require.NoError(t, err)
	return p
}

// Platforms of the OPL table. Between them they hold every output kind;
// the comment under each lists the outputs that carry video, then audio.
const (
	p1 = "internal;hdmi;displayport:hdcp=1.4;component:cgmsa;composite;vga;spdif"
	// video: internal hdmi dp component composite vga; audio: internal hdmi dp component composite spdif
	p2 = "hdmi:hdcp=2.2,type1;displayport:hdcp=2.3;component;composite:cgmsa,agc;vga:cgmsa;spdif:scms"
	// video: hdmi dp component composite vga; audio: hdmi dp component composite spdif
	p3 = "miracast;airplay;dtcp;unknown"
	// video and audio: miracast airplay dtcp unknown
)

var allEnablers = []string{xmr.EnablerMiracast, xmr.EnablerAirPlay, xmr.EnablerDTCP, xmr.EnablerUnknownOutput}

type oplRow struct {
	col      string // udv, av, cv, ua, ca (the OPL column of docs/formats/policies-and-outputs.md §2)
	values   []uint16
	spec     string
	sl       uint32 // persona SL; 0 = 2000
	typeRes  bool   // with the HDCP type restriction (§3)
	enablers bool   // with the Miracast, AirPlay, DTCP and unknown-output play enablers
	licSL    uint16 // license minimum SL; 0 = 2000
	// want: one letter per listed output in platform order: P pass,
	// R protect, C constrain, B block. Written by hand from §2.
	want string
}

// oplTable is the §2 tables, written out by hand for every output kind.
var oplTable = []oplRow{
	// Uncompressed digital video (video stream).
	{col: "udv", values: []uint16{0, 100, 101, 150, 151, 200}, spec: p1, want: "PPPPPP"},
	{col: "udv", values: []uint16{201, 250}, spec: p1, want: "PPRPPP"}, // hdmi: attempt HDCP, pass regardless; dp: HDCP1.4 engaged
	{col: "udv", values: []uint16{251, 270}, spec: p1, sl: 2000, want: "PCRPPP"},
	{col: "udv", values: []uint16{251, 270}, spec: p1, sl: 150, want: "PCRPPP"},
	{col: "udv", values: []uint16{251, 270}, spec: p1, sl: 3000, want: "PBRPPP"},
	{col: "udv", values: []uint16{271, 300}, spec: p1, want: "PBRPPP"},
	{col: "udv", values: []uint16{271, 300}, spec: p1, typeRes: true, want: "PBBPPP"},
	{col: "udv", values: []uint16{301, 400, 65535}, spec: p1, want: "PBBPPP"},
	{col: "udv", values: []uint16{0, 100, 101, 150, 151, 200}, spec: p2, want: "PPPPP"},
	{col: "udv", values: []uint16{201, 250, 251, 270, 271, 300}, spec: p2, want: "RRPPP"},
	{col: "udv", values: []uint16{251, 270}, spec: p2, sl: 3000, want: "RRPPP"},
	{col: "udv", values: []uint16{271, 300}, spec: p2, typeRes: true, want: "RBPPP"}, // dp has HDCP 2.3 but no type 1
	{col: "udv", values: []uint16{301, 65535}, spec: p2, want: "BBPPP"},
	{col: "udv", values: []uint16{0, 100, 150, 200, 250, 270, 300}, spec: p3, want: "BBBB"},
	{col: "udv", values: []uint16{0, 100, 150, 200, 250, 270, 300}, spec: p3, enablers: true, want: "RRRP"},
	{col: "udv", values: []uint16{0, 300}, spec: p3, enablers: true, licSL: 3000, want: "RRRB"},
	{col: "udv", values: []uint16{301, 65535}, spec: p3, enablers: true, want: "BBBB"},
	// Analog TV (video stream).
	{col: "av", values: []uint16{0, 100}, spec: p1, want: "PPPPPP"},
	{col: "av", values: []uint16{101, 150}, spec: p1, want: "PPPRPP"},
	{col: "av", values: []uint16{151, 200}, spec: p1, want: "PPPRBB"},
	{col: "av", values: []uint16{201, 300, 65535}, spec: p1, want: "PPPBBB"},
	{col: "av", values: []uint16{0, 100}, spec: p2, want: "PPPPP"},
	{col: "av", values: []uint16{101, 150}, spec: p2, want: "PPPRR"},
	{col: "av", values: []uint16{151, 200}, spec: p2, want: "PPBRR"},
	{col: "av", values: []uint16{201, 65535}, spec: p2, want: "PPBBB"},
	{col: "av", values: []uint16{0, 150, 200, 201}, spec: p3, enablers: true, want: "RRRP"},
	// Compressed digital video: never output, whatever the value (video stream).
	{col: "cv", values: []uint16{0, 400, 500, 65535}, spec: p1, want: "PPPPPP"},
	{col: "cv", values: []uint16{400, 500}, spec: p2, want: "PPPPP"},
	{col: "cv", values: []uint16{400, 500}, spec: p3, enablers: true, want: "RRRP"},
	// Uncompressed digital audio (audio stream).
	{col: "ua", values: []uint16{0, 100, 101, 150, 151, 200}, spec: p1, want: "PPPPPP"},
	{col: "ua", values: []uint16{201, 250}, spec: p1, want: "PBRPPB"},
	{col: "ua", values: []uint16{251, 300}, spec: p1, want: "PBRPPB"},
	{col: "ua", values: []uint16{301, 65535}, spec: p1, want: "BBBBBB"},
	{col: "ua", values: []uint16{0, 100, 150, 200}, spec: p2, want: "PPPPP"},
	{col: "ua", values: []uint16{201, 250}, spec: p2, want: "RRPPR"}, // spdif: SCMS with CopyNever
	{col: "ua", values: []uint16{251, 300}, spec: p2, want: "RRPPB"},
	{col: "ua", values: []uint16{301}, spec: p2, want: "BBBBB"},
	{col: "ua", values: []uint16{0, 300}, spec: p3, want: "BBBB"},
	{col: "ua", values: []uint16{0, 250, 300}, spec: p3, enablers: true, want: "RRRP"},
	{col: "ua", values: []uint16{301}, spec: p3, enablers: true, want: "BBBB"},
	// Compressed digital audio (audio stream).
	{col: "ca", values: []uint16{0, 100}, spec: p1, want: "PPPPPP"},
	{col: "ca", values: []uint16{101, 150, 151, 200, 201, 250, 251, 300}, spec: p1, want: "PPPPPB"},
	{col: "ca", values: []uint16{301, 65535}, spec: p1, want: "BBBBBB"},
	{col: "ca", values: []uint16{0, 100}, spec: p2, want: "PPPPP"},
	{col: "ca", values: []uint16{101, 200, 300}, spec: p2, want: "PPPPB"},
	{col: "ca", values: []uint16{301}, spec: p2, want: "BBBBB"},
	{col: "ca", values: []uint16{100, 300}, spec: p3, enablers: true, want: "RRRP"},
	{col: "ca", values: []uint16{301}, spec: p3, enablers: true, want: "BBBB"},
}

var letter = map[policy.Action]string{policy.Pass: "P", policy.Protect: "R", policy.Constrain: "C", policy.Block: "B"}

// TestOPLTable runs every row for each of its values under both strategies.
func TestOPLTable(t *testing.T) {
	t.Parallel()
	for _, row := range oplTable {
		for _, v := range row.values {
			for _, strategy := range []policy.Strategy{policy.StrategyBlock, policy.StrategyRefuse} {
				name := fmt.Sprintf("%s=%d/%s/sl%d/type%v/enablers%v/lic%d/%s", row.col, v, row.spec, row.sl, row.typeRes, row.enablers, row.licSL, strategy)
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					checkOPL(t, row, v, strategy)
				})
			}
		}
	}
}

func checkOPL(t *testing.T, row oplRow, v uint16, strategy policy.Strategy) {
	var opl xmr.OPL
	stream := policy.Video
	switch row.col {
	case "udv":
		opl.UncompressedDigitalVideo = v
	case "av":
		opl.AnalogVideo = v
	case "cv":
		opl.CompressedDigitalVideo = v
	case "ua":
		opl.UncompressedDigitalAudio, stream = v, policy.Audio
	case "ca":
		opl.CompressedDigitalAudio, stream = v, policy.Audio
	}
	l := license(t, func(tp *xmr.Template) {
		tp.OPL = &opl
		if row.licSL != 0 {
			tp.MinSecurityLevel = row.licSL
		}
		if row.typeRes {
			tp.DigitalVideo = []xmr.OutputConfig{{ID: kid.MustParse(xmr.ProtectionHDCPType), Data: []byte{0, 0, 0, 1}}}
		}
		if row.enablers {
			for _, e := range allEnablers {
				tp.PlayEnablers = append(tp.PlayEnablers, kid.MustParse(e))
			}
		}
	})
	sl := row.sl
	if sl == 0 {
		sl = 2000
	}
	d := policy.Evaluate(l, policy.Request{
		Persona:  policy.Persona{Version: "4.5", SecurityLevel: sl},
		Platform: platform(t, row.spec),
		Strategy: strategy,
		Stream:   stream,
	})
	got := ""
	for _, o := range d.Outputs {
		got += letter[o.Action]
		require.NotEmpty(t, o.Reason, o.Output)
		require.NotNil(t, o.Protections, o.Output)
		if o.Action == policy.Protect || o.Action == policy.Constrain {
			require.NotEmpty(t, o.Protections, o.Output)
		}
	}
	require.Equal(t, row.want, got, "outputs %v", d.Outputs)
	blocked := strings.Count(row.want, "B")
	wantRefused := blocked == len(row.want) || (strategy == policy.StrategyRefuse && blocked > 0)
	require.Equal(t, wantRefused, d.Refused, "refused: %s", d.Reason)
	if wantRefused {
		require.Equal(t, drm.ErrTEEOutputProtectionRequirementsNotMet, d.Code)
		require.True(t, errors.Is(d.Err(), drm.ErrTEEOutputProtectionRequirementsNotMet))
	} else {
		require.NoError(t, d.Err())
		require.Zero(t, d.Code)
	}
}
