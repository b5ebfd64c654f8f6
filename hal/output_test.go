package hal_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/hal"
)

func TestParseOutputs(t *testing.T) {
	t.Parallel()
	p, err := hal.ParseOutputs("internal;HDMI:hdcp=2.2,type1;component:cgmsa,agc;spdif:scms;unknown;decoder:max=1920x1080")
	require.NoError(t, err)
	want := hal.Platform{
		Outputs: []hal.Output{
			{Kind: hal.Internal},
			{Kind: hal.HDMI, HDCP: hal.HDCP22, Type1: true},
			{Kind: hal.Component, CGMSA: true, AGC: true},
			{Kind: hal.SPDIF, SCMS: true},
			{Kind: hal.Unknown},
		},
		Decoder: hal.Decoder{MaxWidth: 1920, MaxHeight: 1080},
	}
	require.Equal(t, want, p)
	require.Equal(t, "internal;hdmi:hdcp=2.2,type1;component:cgmsa,agc;spdif:scms;unknown;decoder:max=1920x1080", p.String())
	o, ok := p.Output(hal.HDMI)
	require.True(t, ok)
	require.Equal(t, hal.HDCP22, o.HDCP)
	_, ok = p.Output(hal.VGA)
	require.False(t, ok)
}

func TestParseOutputsEveryKind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		spec string
		out  hal.Output
	}{
		{"internal", hal.Output{Kind: hal.Internal}},
		{"hdmi", hal.Output{Kind: hal.HDMI}},
		{"hdmi:hdcp=none", hal.Output{Kind: hal.HDMI}},
		{"hdmi:hdcp=1.4", hal.Output{Kind: hal.HDMI, HDCP: hal.HDCP14}},
		{"displayport:hdcp=2.3,type1", hal.Output{Kind: hal.DisplayPort, HDCP: hal.HDCP23, Type1: true}},
		{"component:cgmsa", hal.Output{Kind: hal.Component, CGMSA: true}},
		{"composite:agc", hal.Output{Kind: hal.Composite, AGC: true}},
		{"vga:cgmsa,agc", hal.Output{Kind: hal.VGA, CGMSA: true, AGC: true}},
		{"spdif", hal.Output{Kind: hal.SPDIF}},
		{"miracast", hal.Output{Kind: hal.Miracast}},
		{"airplay", hal.Output{Kind: hal.AirPlay}},
		{"dtcp", hal.Output{Kind: hal.DTCP}},
		{"unknown", hal.Output{Kind: hal.Unknown}},
	} {
		p, err := hal.ParseOutputs(tc.spec)
		require.NoError(t, err, tc.spec)
		require.Equal(t, []hal.Output{tc.out}, p.Outputs, tc.spec)
		canon := strings.TrimSuffix(tc.spec, ":hdcp=none")
		require.Equal(t, canon, p.String())
	}
	require.Equal(t, hal.DefaultPlatform(), must(hal.ParseOutputs(hal.DefaultOutputs)))
}

func must(p hal.Platform, err error) hal.Platform {
	if err != nil {
		panic(err)
	}
	return p
}

func TestParseOutputsErrors(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("internal;", 60)
	for _, tc := range []struct {
		spec, want string
	}{
		{"", "empty token"},
		{"internal;", "empty token"},
		{"decoder:max=1x1", "no output"},
		{"hdmi:hdcp=1.4,type1", "type1 needs hdcp=2.2"},
		{"hdmi:type1", "type1 needs hdcp=2.2"},
		{"hdmi:hdcp=2.0", "hdcp must be"},
		{"hdmi:cgmsa", `hdmi takes no option "cgmsa"`},
		{"spdif:hdcp=2.2", "spdif takes no option"},
		{"component:scms", "component takes no option"},
		{"internal:agc", "internal takes no option"},
		{"hdmi;hdmi:hdcp=2.2", "given twice"},
		{"hdmi:type1,type1", "option given twice"},
		{"hdmi:hdcp=2.2,hdcp=2.3", "option given twice"},
		{"internal;decoder:max=1x1;decoder:max=2x2", "decoder given twice"},
		{"internal;decoder:max=0x1080", "decoder max must be"},
		{"internal;decoder:max=1920", "decoder max must be"},
		{"internal;decoder:max=99999x1", "decoder max must be"},
		{"internal;decoder:size=1x1", "decoder takes max="},
		{"tv", "unknown output kind"},
		{long, "longer than"},
		{strings.Repeat("internal;", 20) + "x", "more than"},
	} {
		_, err := hal.ParseOutputs(tc.spec)
		require.Error(t, err, tc.spec)
		require.True(t, errors.Is(err, hal.ErrOutputSpec), tc.spec)
		require.Contains(t, err.Error(), tc.want, tc.spec)
	}
	// A bad token is named, but never more than a short prefix of it.
	_, err := hal.ParseOutputs("internal;" + strings.Repeat("z", 200))
	require.Error(t, err)
	require.Contains(t, err.Error(), strings.Repeat("z", 24)+"…")
	require.NotContains(t, err.Error(), strings.Repeat("z", 25))
}

func TestKindClasses(t *testing.T) {
	t.Parallel()
	for k := hal.Internal; k <= hal.Unknown; k++ {
		require.Equal(t, k == hal.Component || k == hal.Composite || k == hal.VGA, k.Analog(), k.String())
		require.Equal(t, k != hal.SPDIF, k.Video(), k.String())
		require.Equal(t, k != hal.VGA, k.Audio(), k.String())
	}
	require.False(t, hal.OutputKind(0).Video())
	require.Equal(t, "invalid(0)", hal.OutputKind(0).String())
	require.Equal(t, "invalid(12)", hal.OutputKind(12).String())
}

// FuzzParseOutputs: no panic, nil platform on error, a bounded error, and
// every accepted spec re-parses from its canonical form to the same platform.
func FuzzParseOutputs(f *testing.F) {
	if seeds, err := os.ReadDir("testdata/fuzz/FuzzParseOutputs"); err != nil || len(seeds) == 0 {
		f.Fatalf("no committed seeds under testdata/fuzz/FuzzParseOutputs: %v", err)
	}
	for _, s := range []string{"internal", "internal;hdmi:hdcp=2.2,type1;component:cgmsa,agc;spdif:scms;unknown;decoder:max=1920x1080",
		"displayport:hdcp=1.4;vga:agc;miracast;airplay;dtcp", "hdmi:hdcp=1.4,type1", ";", "decoder:max=1x1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		p, err := hal.ParseOutputs(spec)
		if err != nil {
			if p.Outputs != nil || p.Decoder != (hal.Decoder{}) {
				t.Fatalf("platform returned with error %v", err)
			}
			if !errors.Is(err, hal.ErrOutputSpec) || len(err.Error()) > 400 {
				t.Fatalf("bad error %q", err)
			}
			return
		}
		canon := p.String()
		q, err := hal.ParseOutputs(canon)
		if err != nil {
			t.Fatalf("canonical %q does not parse: %v", canon, err)
		}
		if fmt.Sprint(p) != fmt.Sprint(q) || q.String() != canon {
			t.Fatalf("round trip %q -> %q", canon, q.String())
		}
	})
}

func ExampleParseOutputs() {
	p, err := hal.ParseOutputs("internal;HDMI:hdcp=2.2,type1;decoder:max=1920x1080")
	if err != nil {
		panic(err)
	}
	for _, o := range p.Outputs {
		fmt.Println(o.Kind, o.HDCP)
	}
	fmt.Println(p)
	// Output:
	// internal none
	// hdmi 2.2
	// internal;hdmi:hdcp=2.2,type1;decoder:max=1920x1080
}

// A cast target may name its receiver's certificate chain: the path keeps
// its case and round-trips; other kinds, or an empty path, are refused;
// LoadReceivers reads it with the caller's reader.
func TestReceiverCert(t *testing.T) {
	p, err := hal.ParseOutputs("internal;miracast:cert=/Tmp/Recv.CHAI")
	require.NoError(t, err)
	require.Equal(t, "/Tmp/Recv.CHAI", p.Outputs[1].Cert)
	require.Equal(t, "internal;miracast:cert=/Tmp/Recv.CHAI", p.String())
	var read []string
	require.NoError(t, p.LoadReceivers(func(path string) ([]byte, error) { read = append(read, path); return []byte("chain"), nil }))
	require.Equal(t, []string{"/Tmp/Recv.CHAI"}, read)
	require.Equal(t, []byte("chain"), p.Outputs[1].Receiver)
	for _, bad := range []string{"hdmi:cert=/x", "miracast:cert=", "airplay:cert=/a,cert=/b"} {
		_, err := hal.ParseOutputs(bad)
		require.Error(t, err, bad)
	}
}
