package policy_test

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/hal"
	"github.com/prsim/prsim/policy"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/xmr"
)

func cfg(guid, dataHex string) xmr.OutputConfig {
	b, err := hex.DecodeString(dataHex)
	if err != nil {
		panic(err)
	}
	return xmr.OutputConfig{ID: kid.MustParse(guid), Data: b}
}

func enablers(guids ...string) []kid.ID {
	out := make([]kid.ID, 0, len(guids))
	for _, g := range guids {
		out = append(out, kid.MustParse(g))
	}
	return out
}

// clearMust drops the must-understand flag from every explicit output
// protection container and entry, as an issuer marking them optional would.
func clearMust(l *xmr.License) {
	for _, pc := range l.Outer.ChildrenOf(xmr.TypePlaybackPolicyContainer) {
		for _, c := range pc.Children {
			switch c.Type {
			case xmr.TypeExplicitAnalogVideoContainer, xmr.TypeExplicitDigitalAudioContainer, xmr.TypeExplicitDigitalVideoContainer:
				c.Flags &^= xmr.FlagMustUnderstand
				for _, o := range c.Children {
					o.Flags &^= xmr.FlagMustUnderstand
				}
			}
		}
	}
}

type want struct {
	action policy.Action
	prot   []string // nil: not checked
}

const (
	unknownGUID = "01234567-89AB-CDEF-0123-456789ABCDEF"
	vendorGUID  = "11111111-2222-3333-4444-555555555555"
)

// watermark config: mode, a big-endian WORD 3000 (inside the TEE), the
// vendor GUID in LE layout, no vendor data.
func watermark(mode byte) string {
	g := kid.MustParse(vendorGUID).GUID()
	return hex.EncodeToString([]byte{mode, 0x0B, 0xB8}) + hex.EncodeToString(g[:])
}

// TestExplicitProtectionsAndEnablers covers each explicit output protection
// of docs/formats/policies-and-outputs.md §3 and each play enabler of §4;
// the expectations are written by hand from those tables.
func TestExplicitProtectionsAndEnablers(t *testing.T) {
	t.Parallel()
	P, R, C, B := policy.Pass, policy.Protect, policy.Constrain, policy.Block
	for _, tc := range []struct {
		name     string
		mod      func(*xmr.Template)
		optional bool // clear must-understand on the explicit protections
		spec     string
		stream   policy.Stream
		want     map[hal.OutputKind]want
		note     string // a substring of some note
	}{
		{name: "hdcp-type-with-opl-250-no-effect",
			mod: func(tp *xmr.Template) {
				tp.OPL = &xmr.OPL{UncompressedDigitalVideo: 250}
				tp.DigitalVideo = []xmr.OutputConfig{cfg(xmr.ProtectionHDCPType, "00000001")}
			},
			spec: "hdmi:hdcp=1.4", stream: policy.Video,
			want: map[hal.OutputKind]want{hal.HDMI: {R, []string{"HDCP1.4"}}}, note: "HDCP type restriction applies with"},
		{name: "hdcp-type-with-opl-300",
			mod: func(tp *xmr.Template) {
				tp.OPL = &xmr.OPL{UncompressedDigitalVideo: 300}
				tp.DigitalVideo = []xmr.OutputConfig{cfg(xmr.ProtectionHDCPType, "00000001")}
			},
			spec: "hdmi:hdcp=2.3,type1;displayport:hdcp=2.2", stream: policy.Video,
			want: map[hal.OutputKind]want{hal.HDMI: {R, []string{"HDCP2.3", "HDCP type 1"}}, hal.DisplayPort: {B, []string{}}}},
		{name: "max-resolution-license-below-decoder",
			mod: func(tp *xmr.Template) {
				tp.DigitalVideo = []xmr.OutputConfig{cfg(xmr.ProtectionMaxResolution, "00000500000002D0")}
			}, // 1280x720
			spec: "internal;hdmi;component;decoder:max=1920x1080", stream: policy.Video,
			want: map[hal.OutputKind]want{hal.Internal: {C, []string{"max 1280x720"}}, hal.HDMI: {C, []string{"max 1280x720"}}, hal.Component: {C, []string{"max 1280x720"}}}},
		{name: "max-resolution-decoder-below-license",
			mod: func(tp *xmr.Template) {
				tp.DigitalVideo = []xmr.OutputConfig{cfg(xmr.ProtectionMaxResolution, "0000078000000438")}
			}, // 1920x1080
			spec: "internal;decoder:max=640x480", stream: policy.Video,
			want: map[hal.OutputKind]want{hal.Internal: {C, []string{"max 640x480"}}}},
		{name: "max-resolution-malformed-must-understand",
			mod:  func(tp *xmr.Template) { tp.DigitalVideo = []xmr.OutputConfig{cfg(xmr.ProtectionMaxResolution, "0780")} },
			spec: "internal;hdmi;component", stream: policy.Video,
			want: map[hal.OutputKind]want{hal.Internal: {B, nil}, hal.HDMI: {B, nil}, hal.Component: {P, nil}}},
		{name: "digital-video-only",
			mod: func(tp *xmr.Template) {
				tp.AnalogVideo = []xmr.OutputConfig{cfg(xmr.ProtectionDigitalVideoOnly, "00000001")}
				tp.PlayEnablers = enablers(xmr.EnablerUnknownOutput)
			},
			spec: "internal;hdmi;component:cgmsa,agc;composite;vga;unknown", stream: policy.Video,
			want: map[hal.OutputKind]want{hal.Internal: {P, nil}, hal.HDMI: {P, nil}, hal.Component: {B, nil}, hal.Composite: {B, nil}, hal.VGA: {B, nil}, hal.Unknown: {B, nil}}},
		{name: "internal-output-only",
			mod: func(tp *xmr.Template) {
				tp.DigitalVideo = []xmr.OutputConfig{cfg(xmr.ProtectionInternalOnly, "01")}
				tp.PlayEnablers = enablers(xmr.EnablerAirPlay)
			},
			spec: "internal;hdmi:hdcp=2.3,type1;component;airplay", stream: policy.Video,
			want: map[hal.OutputKind]want{hal.Internal: {P, []string{}}, hal.HDMI: {B, nil}, hal.Component: {B, nil}, hal.AirPlay: {B, nil}}},
		{name: "internal-output-only-audio-unaffected",
			mod:  func(tp *xmr.Template) { tp.DigitalVideo = []xmr.OutputConfig{cfg(xmr.ProtectionInternalOnly, "01")} },
			spec: "internal;hdmi;spdif", stream: policy.Audio,
			want: map[hal.OutputKind]want{hal.Internal: {P, nil}, hal.HDMI: {P, nil}, hal.SPDIF: {P, nil}}},
		{name: "watermark-must-engage",
			mod: func(tp *xmr.Template) {
				tp.DigitalVideo = []xmr.OutputConfig{cfg(xmr.ProtectionWatermark, watermark(1))}
			},
			spec: "internal;hdmi:hdcp=2.2;component", stream: policy.Video,
			want: map[hal.OutputKind]want{hal.Internal: {B, nil}, hal.HDMI: {B, nil}, hal.Component: {P, nil}}},
		{name: "watermark-engage-if-possible",
			mod: func(tp *xmr.Template) {
				tp.DigitalVideo = []xmr.OutputConfig{cfg(xmr.ProtectionWatermark, watermark(3))}
			},
			spec: "internal;hdmi", stream: policy.Video,
			want: map[hal.OutputKind]want{hal.Internal: {P, nil}, hal.HDMI: {P, nil}}, note: "engage if possible"},
		{name: "watermark-disengage",
			mod:  func(tp *xmr.Template) { tp.DigitalVideo = []xmr.OutputConfig{cfg(xmr.ProtectionWatermark, "00")} },
			spec: "internal;hdmi", stream: policy.Video,
			want: map[hal.OutputKind]want{hal.Internal: {P, nil}, hal.HDMI: {P, nil}}, note: "disengage"},
		{name: "watermark-malformed-must-understand",
			mod:  func(tp *xmr.Template) { tp.DigitalVideo = []xmr.OutputConfig{cfg(xmr.ProtectionWatermark, "010BB8")} },
			spec: "internal;hdmi;vga", stream: policy.Video,
			want: map[hal.OutputKind]want{hal.Internal: {B, nil}, hal.HDMI: {B, nil}, hal.VGA: {P, nil}}},
		{name: "agc-level-2-must-understand",
			mod:  func(tp *xmr.Template) { tp.AnalogVideo = []xmr.OutputConfig{cfg(xmr.ProtectionAGC, "02000000")} },
			spec: "hdmi;component:agc;composite;vga:cgmsa,agc", stream: policy.Video,
			want: map[hal.OutputKind]want{hal.HDMI: {P, nil}, hal.Component: {R, []string{"AGC level 2"}}, hal.Composite: {B, nil}, hal.VGA: {R, []string{"AGC level 2"}}}},
		{name: "agc-level-2-optional",
			mod:      func(tp *xmr.Template) { tp.AnalogVideo = []xmr.OutputConfig{cfg(xmr.ProtectionAGC, "02000000")} },
			optional: true,
			spec:     "component:agc;composite", stream: policy.Video,
			want: map[hal.OutputKind]want{hal.Component: {R, []string{"AGC level 2"}}, hal.Composite: {P, []string{}}}},
		{name: "agc-level-0",
			mod:  func(tp *xmr.Template) { tp.AnalogVideo = []xmr.OutputConfig{cfg(xmr.ProtectionAGC, "00000000")} },
			spec: "composite", stream: policy.Video,
			want: map[hal.OutputKind]want{hal.Composite: {P, []string{}}}},
		{name: "agc-level-out-of-range",
			mod:  func(tp *xmr.Template) { tp.AnalogVideo = []xmr.OutputConfig{cfg(xmr.ProtectionAGC, "00000007")} },
			spec: "hdmi;composite:agc", stream: policy.Video,
			want: map[hal.OutputKind]want{hal.HDMI: {P, nil}, hal.Composite: {B, nil}}},
		{name: "cgmsa-best-effort",
			mod:  func(tp *xmr.Template) { tp.AnalogVideo = []xmr.OutputConfig{cfg(xmr.ProtectionCGMSA, "00000003")} },
			spec: "component:cgmsa;composite", stream: policy.Video,
			want: map[hal.OutputKind]want{hal.Component: {R, []string{"CGMS-A CopyNever"}}, hal.Composite: {P, []string{}}}},
		{name: "cgmsa-hard",
			mod:  func(tp *xmr.Template) { tp.AnalogVideo = []xmr.OutputConfig{cfg(xmr.ProtectionCGMSAHard, "02")} },
			spec: "component:cgmsa;composite", stream: policy.Video,
			want: map[hal.OutputKind]want{hal.Component: {R, []string{"CGMS-A CopyOnce"}}, hal.Composite: {B, nil}}},
		{name: "component-pixel-cap",
			mod: func(tp *xmr.Template) {
				tp.AnalogVideo = []xmr.OutputConfig{cfg(xmr.ProtectionComponentCap, "0007EF40")}
			}, // 520000
			spec: "component;vga", stream: policy.Video,
			want: map[hal.OutputKind]want{hal.Component: {C, []string{"520k-pixel cap"}}, hal.VGA: {P, []string{}}}},
		{name: "vga-pixel-cap",
			mod:  func(tp *xmr.Template) { tp.AnalogVideo = []xmr.OutputConfig{cfg(xmr.ProtectionVGACap, "000493E0")} }, // 300000
			spec: "component;vga", stream: policy.Video,
			want: map[hal.OutputKind]want{hal.Component: {P, []string{}}, hal.VGA: {C, []string{"300000-pixel cap"}}}},
		{name: "scms-copy-bits",
			mod:  func(tp *xmr.Template) { tp.DigitalAudio = []xmr.OutputConfig{cfg(xmr.ProtectionSCMS, "03")} },
			spec: "internal;hdmi;spdif:scms", stream: policy.Audio,
			want: map[hal.OutputKind]want{hal.Internal: {P, nil}, hal.HDMI: {P, nil}, hal.SPDIF: {R, []string{"SCMS copy bits 11"}}}},
		{name: "scms-must-understand-without-scms",
			mod:  func(tp *xmr.Template) { tp.DigitalAudio = []xmr.OutputConfig{cfg(xmr.ProtectionSCMS, "00000001")} },
			spec: "internal;spdif", stream: policy.Audio,
			want: map[hal.OutputKind]want{hal.Internal: {P, nil}, hal.SPDIF: {B, nil}}},
		{name: "scms-optional-without-scms",
			mod:      func(tp *xmr.Template) { tp.DigitalAudio = []xmr.OutputConfig{cfg(xmr.ProtectionSCMS, "00000001")} },
			optional: true,
			spec:     "spdif", stream: policy.Audio,
			want: map[hal.OutputKind]want{hal.SPDIF: {P, nil}}},
		{name: "unknown-digital-video-guid-must-understand",
			mod:  func(tp *xmr.Template) { tp.DigitalVideo = []xmr.OutputConfig{cfg(unknownGUID, "01")} },
			spec: "internal;hdmi:hdcp=2.3;component", stream: policy.Video,
			want: map[hal.OutputKind]want{hal.Internal: {B, nil}, hal.HDMI: {B, nil}, hal.Component: {P, nil}}},
		{name: "unknown-digital-video-guid-optional",
			mod:      func(tp *xmr.Template) { tp.DigitalVideo = []xmr.OutputConfig{cfg(unknownGUID, "01")} },
			optional: true,
			spec:     "internal;hdmi", stream: policy.Video,
			want: map[hal.OutputKind]want{hal.Internal: {P, nil}, hal.HDMI: {P, nil}}, note: "not must-understand, ignored"},
		{name: "unknown-analog-guid-must-understand",
			mod:  func(tp *xmr.Template) { tp.AnalogVideo = []xmr.OutputConfig{cfg(unknownGUID, "")} },
			spec: "internal;hdmi;component;vga", stream: policy.Video,
			want: map[hal.OutputKind]want{hal.Internal: {P, nil}, hal.HDMI: {P, nil}, hal.Component: {B, nil}, hal.VGA: {B, nil}}},
		{name: "scms-guid-in-analog-container-is-unknown-there",
			mod:  func(tp *xmr.Template) { tp.AnalogVideo = []xmr.OutputConfig{cfg(xmr.ProtectionSCMS, "01")} },
			spec: "hdmi;component", stream: policy.Video,
			want: map[hal.OutputKind]want{hal.HDMI: {P, nil}, hal.Component: {B, nil}}},
		{name: "unknown-digital-audio-guid-must-understand",
			mod:  func(tp *xmr.Template) { tp.DigitalAudio = []xmr.OutputConfig{cfg(unknownGUID, "01")} },
			spec: "internal;hdmi;composite;spdif:scms", stream: policy.Audio,
			want: map[hal.OutputKind]want{hal.Internal: {P, nil}, hal.HDMI: {B, nil}, hal.Composite: {P, nil}, hal.SPDIF: {B, nil}}},
		// Play enablers (§4).
		{name: "no-enabler",
			spec: "internal;miracast;airplay;dtcp;unknown", stream: policy.AllStreams,
			want: map[hal.OutputKind]want{hal.Internal: {P, nil}, hal.Miracast: {B, nil}, hal.AirPlay: {B, nil}, hal.DTCP: {B, nil}, hal.Unknown: {B, nil}}},
		{name: "unknown-output-enabler",
			mod:  func(tp *xmr.Template) { tp.PlayEnablers = enablers(xmr.EnablerUnknownOutput) },
			spec: "internal;miracast;unknown", stream: policy.AllStreams,
			want: map[hal.OutputKind]want{hal.Internal: {P, nil}, hal.Miracast: {B, nil}, hal.Unknown: {P, []string{}}}},
		{name: "constrained-unknown-output-enabler",
			mod:  func(tp *xmr.Template) { tp.PlayEnablers = enablers(xmr.EnablerConstrainedUnknownOutput) },
			spec: "unknown", stream: policy.Video,
			want: map[hal.OutputKind]want{hal.Unknown: {C, []string{"520k-pixel cap"}}}},
		{name: "constrained-unknown-output-enabler-audio",
			mod:  func(tp *xmr.Template) { tp.PlayEnablers = enablers(xmr.EnablerConstrainedUnknownOutput) },
			spec: "unknown", stream: policy.Audio,
			want: map[hal.OutputKind]want{hal.Unknown: {P, []string{}}}},
		{name: "unknown-output-enabler-license-sl3000-video",
			mod: func(tp *xmr.Template) {
				tp.MinSecurityLevel = 3000
				tp.PlayEnablers = enablers(xmr.EnablerUnknownOutput)
			},
			spec: "internal;unknown", stream: policy.Video,
			want: map[hal.OutputKind]want{hal.Internal: {P, nil}, hal.Unknown: {B, nil}}},
		{name: "unknown-output-enabler-license-sl3000-audio",
			mod: func(tp *xmr.Template) {
				tp.MinSecurityLevel = 3000
				tp.PlayEnablers = enablers(xmr.EnablerUnknownOutput)
			},
			spec: "unknown", stream: policy.Audio,
			want: map[hal.OutputKind]want{hal.Unknown: {P, nil}}},
		{name: "airplay-enabler",
			mod:  func(tp *xmr.Template) { tp.PlayEnablers = enablers(xmr.EnablerAirPlay) },
			spec: "miracast;airplay;dtcp;unknown", stream: policy.AllStreams,
			want: map[hal.OutputKind]want{hal.Miracast: {B, nil}, hal.AirPlay: {R, []string{"AirPlay"}}, hal.DTCP: {B, nil}, hal.Unknown: {B, nil}}},
		{name: "miracast-enabler",
			mod:  func(tp *xmr.Template) { tp.PlayEnablers = enablers(xmr.EnablerMiracast) },
			spec: "miracast;airplay", stream: policy.AllStreams,
			want: map[hal.OutputKind]want{hal.Miracast: {R, []string{"Miracast"}}, hal.AirPlay: {B, nil}}},
		{name: "dtcp-enabler",
			mod:  func(tp *xmr.Template) { tp.PlayEnablers = enablers(xmr.EnablerDTCP) },
			spec: "dtcp;unknown", stream: policy.AllStreams,
			want: map[hal.OutputKind]want{hal.DTCP: {R, []string{"DTCP"}}, hal.Unknown: {B, nil}}},
		{name: "wivu-enabler-has-no-output",
			mod:  func(tp *xmr.Template) { tp.PlayEnablers = enablers(xmr.EnablerWiVu) },
			spec: "internal;miracast", stream: policy.AllStreams,
			want: map[hal.OutputKind]want{hal.Internal: {P, nil}, hal.Miracast: {B, nil}}, note: "HDCP / WiVu"},
		{name: "helix-enabler-has-no-output",
			mod:  func(tp *xmr.Template) { tp.PlayEnablers = enablers(xmr.EnablerHelix) },
			spec: "internal;unknown", stream: policy.AllStreams,
			want: map[hal.OutputKind]want{hal.Internal: {P, nil}, hal.Unknown: {B, nil}}, note: "Helix"},
		{name: "unknown-enabler-guid",
			mod:  func(tp *xmr.Template) { tp.PlayEnablers = enablers(unknownGUID) },
			spec: "internal;unknown", stream: policy.AllStreams,
			want: map[hal.OutputKind]want{hal.Internal: {P, nil}, hal.Unknown: {B, nil}}, note: "not known to prsim"},
		// Protections add up on one output.
		{name: "hdcp-and-max-resolution",
			mod: func(tp *xmr.Template) {
				tp.OPL = &xmr.OPL{UncompressedDigitalVideo: 300}
				tp.DigitalVideo = []xmr.OutputConfig{cfg(xmr.ProtectionMaxResolution, "0000078000000438")}
			},
			spec: "hdmi:hdcp=2.2", stream: policy.Video,
			want: map[hal.OutputKind]want{hal.HDMI: {C, []string{"HDCP2.2", "max 1920x1080"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := license(t, tc.mod)
			if tc.optional {
				clearMust(l)
			}
			d := policy.Evaluate(l, policy.Request{
				Persona:  policy.Persona{Version: "4.5", SecurityLevel: 2000},
				Platform: platform(t, tc.spec),
				Stream:   tc.stream,
			})
			require.Len(t, d.Outputs, len(tc.want), "%+v", d)
			for k, w := range tc.want {
				o, ok := d.Output(k)
				require.True(t, ok, k.String())
				require.Equal(t, w.action, o.Action, "%s: %s", k, o.Reason)
				if w.prot != nil {
					require.Equal(t, w.prot, o.Protections, k.String())
				}
				require.True(t, strings.HasPrefix(o.Reason, "§"), "reason cites a section: %q", o.Reason)
			}
			if tc.note != "" {
				require.Contains(t, strings.Join(d.Notes, "\n"), tc.note)
			}
		})
	}
}

func TestRightsAndPersonas(t *testing.T) {
	t.Parallel()
	internal := platform(t, "internal;hdmi")
	eval := func(l *xmr.License, version string) policy.Decision {
		return policy.Evaluate(l, policy.Request{Persona: policy.Persona{Version: version, SecurityLevel: 2000}, Platform: internal})
	}
	dvop := func(tp *xmr.Template) {
		tp.DigitalVideo = []xmr.OutputConfig{cfg(xmr.ProtectionMaxResolution, "0000078000000438")}
	}

	t.Run("no-play-right", func(t *testing.T) {
		t.Parallel()
		d := eval(license(t, func(tp *xmr.Template) { tp.Play, tp.Read, tp.Execute = false, true, true }), "4.5")
		require.True(t, d.Refused)
		require.Equal(t, drm.ErrRightsNotAvailable, d.Code)
		require.Nil(t, d.Outputs)
		require.Contains(t, d.Reason, "no Play right")
		require.Contains(t, d.Reason, "Execute, Read")
	})
	t.Run("play-with-read-and-execute", func(t *testing.T) {
		t.Parallel()
		for _, v := range []string{"4.5", "3.0", ""} {
			d := eval(license(t, func(tp *xmr.Template) { tp.Read, tp.Execute = true, true }), v)
			require.False(t, d.Refused, v)
			require.Contains(t, strings.Join(d.Notes, "\n"), "Execute, Read right refused", v)
		}
		d := eval(license(t, func(tp *xmr.Template) { tp.Read = true }), "2.0")
		require.False(t, d.Refused)
		require.Contains(t, strings.Join(d.Notes, "\n"), "Read right not exercised")
	})
	t.Run("pr20-must-understand-dvop", func(t *testing.T) {
		t.Parallel()
		l := license(t, dvop)
		d := eval(l, "2.0")
		require.True(t, d.Refused)
		require.Equal(t, drm.ErrExtendedRestrictionNotUnderstood, d.Code)
		for _, v := range []string{"3.0", "4.3", "4.5", ""} {
			d := eval(l, v)
			require.False(t, d.Refused, v)
			o, _ := d.Output(hal.Internal)
			require.Equal(t, policy.Constrain, o.Action, v)
		}
	})
	t.Run("pr20-optional-dvop", func(t *testing.T) {
		t.Parallel()
		l := license(t, dvop)
		clearMust(l)
		d := eval(l, "2.0")
		require.False(t, d.Refused)
		o, _ := d.Output(hal.Internal)
		require.Equal(t, policy.Pass, o.Action, "a 2.0 client skips what it does not understand")
		require.Contains(t, strings.Join(d.Notes, "\n"), "does not understand")
	})
	t.Run("unknown-must-understand-object", func(t *testing.T) {
		t.Parallel()
		d := eval(license(t, func(tp *xmr.Template) {
			tp.Restrictions = []xmr.ExtensibleRestriction{{Type: 0x7F01, MustUnderstand: true, Data: []byte{1}}}
		}), "4.5")
		require.True(t, d.Refused)
		require.Equal(t, drm.ErrExtendedRestrictionNotUnderstood, d.Code)
		d = eval(license(t, func(tp *xmr.Template) {
			tp.Restrictions = []xmr.ExtensibleRestriction{{Type: 0x7F01, MustUnderstand: true, BestEffort: true, Data: []byte{1}}}
		}), "4.5")
		require.False(t, d.Refused, "best effort never blocks")
	})
	t.Run("source-id", func(t *testing.T) {
		t.Parallel()
		d := eval(license(t, func(tp *xmr.Template) { tp.SourceID = ptr(uint32(258)) }), "4.5")
		require.False(t, d.Refused)
		require.Contains(t, strings.Join(d.Notes, "\n"), "source ID 258 (DTCP)")
		l := license(t, func(tp *xmr.Template) { tp.SourceID = ptr(uint32(258)) })
		g := l.Outer.Child(xmr.TypeGlobalPolicyContainer)
		g.Children = append(g.Children, xmr.NewLeaf(xmr.FlagMustUnderstand, xmr.TypeRestrictedSourceID, nil))
		d = eval(l, "4.5")
		require.True(t, d.Refused)
		require.Equal(t, drm.ErrRightsNotAvailable, d.Code)
		require.Contains(t, d.Reason, "restricted source")
	})
	t.Run("nil-license", func(t *testing.T) {
		t.Parallel()
		d := policy.Evaluate(nil, policy.Request{Platform: internal})
		require.True(t, d.Refused)
		require.Error(t, d.Err())
	})
}

func ptr[T any](v T) *T { return &v }

// TestIssueExample is the issue's end-to-end case at the policy level:
// HDMI without HDCP under OPL 300 is blocked while the internal panel
// plays; under strategy refuse playback is refused.
func TestIssueExample(t *testing.T) {
	t.Parallel()
	l := license(t, func(tp *xmr.Template) { tp.OPL = &xmr.OPL{UncompressedDigitalVideo: 300} })
	r := policy.Request{Persona: policy.Persona{Version: "4.5", SecurityLevel: 3000}, Platform: platform(t, "internal;hdmi")}
	d := policy.Evaluate(l, r)
	require.False(t, d.Refused)
	in, _ := d.Output(hal.Internal)
	hd, _ := d.Output(hal.HDMI)
	require.Equal(t, policy.Pass, in.Action)
	require.Equal(t, policy.Block, hd.Action)
	require.Equal(t, "§2: uncompressed digital video OPL 300 (271–300) requires HDCP; hdmi has none", hd.Reason)
	r.Strategy = policy.StrategyRefuse
	d = policy.Evaluate(l, r)
	require.True(t, d.Refused)
	require.ErrorIs(t, d.Err(), drm.ErrTEEOutputProtectionRequirementsNotMet)
	require.Len(t, d.Outputs, 2, "outputs are still reported")
}

func TestParseStrategy(t *testing.T) {
	t.Parallel()
	for _, s := range []policy.Strategy{policy.StrategyBlock, policy.StrategyRefuse} {
		got, err := policy.ParseStrategy(s.String())
		require.NoError(t, err)
		require.Equal(t, s, got)
	}
	_, err := policy.ParseStrategy("maybe")
	require.Error(t, err)
	b, err := policy.Block.MarshalText()
	require.NoError(t, err)
	require.Equal(t, "block", string(b))
	_, err = policy.Action(0).MarshalText()
	require.Error(t, err)
}
