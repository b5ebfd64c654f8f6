package licsrv

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/wire/kid"
)

// Examples from docs/formats/policies-and-outputs.md §6 (MS docs query-string-syntax.md).
func TestCfgExamples(t *testing.T) {
	g, err := parseCfg("(persist:true,begindate:20170101,expiration:20170201,firstexp:60)")
	require.NoError(t, err)
	ps, err := policies(g)
	require.NoError(t, err)
	require.Len(t, ps, 1)
	p := ps[0]
	require.True(t, p.Persist)
	require.Equal(t, time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC), *p.Begin)
	require.Equal(t, time.Date(2017, 2, 1, 0, 0, 0, 0, time.UTC), *p.End)
	require.Equal(t, uint32(60), *p.FirstPlay)
	require.Equal(t, uint16(150), p.SL)

	g, err = parseCfg("(kid:B6E39626-1CFB-4AA1-BCBD-4EF1ABA7843A,sl:3000),(kid:7C9484BA-C238-467A-869C-CDD8C7167712,sl:2000)")
	require.NoError(t, err)
	ps, err = policies(g)
	require.NoError(t, err)
	require.Len(t, ps, 2)
	require.Equal(t, kid.MustParse("b6e39626-1cfb-4aa1-bcbd-4ef1aba7843a"), *ps[0].KID)
	require.Equal(t, uint16(3000), ps[0].SL)
	require.Equal(t, uint16(2000), ps[1].SL)
}

func TestCfgValues(t *testing.T) {
	g, err := parseCfg("(kid:0IbHou/5s0yzM80yOkKEpQ==,contentkey:TtuJBM2/A2F/SAC9h4pt8g==,ckt:AES128BitCBC,ucvopl:300," +
		"dvop:(guid:ABB2C6F1-E663-4625-A945-972D17B231E7,data:AAAAAQ==),playenablers:(786627D8-C2A6-44BE-8F88-08AE255B01A7)," +
		"maxres:1920x1080,explicitacp:2,errorcode:0x8004C600,realtime:true)")
	require.NoError(t, err)
	ps, err := policies(g)
	require.NoError(t, err)
	p := ps[0]
	require.Equal(t, "a2c786d0-f9ef-4cb3-b333-cd323a4284a5", p.KID.String())
	require.Equal(t, byte(0x4e), p.ContentKey[0])
	require.True(t, *p.CBC)
	require.Equal(t, uint16(300), p.OPL[1])
	require.Len(t, p.DigitalVideo, 2)
	require.Equal(t, []byte{0, 0, 0, 1}, p.DigitalVideo[0].Data)
	require.Equal(t, []byte{0, 0, 0x07, 0x80, 0, 0, 0x04, 0x38}, p.DigitalVideo[1].Data) // width then height (seed 004)
	require.Equal(t, []byte{2, 0, 0, 0}, p.AnalogVideo[0].Data)
	require.Len(t, p.PlayEnablers, 1)
	require.Equal(t, drm.ErrServerInternalError, *p.ErrorCode)
	require.True(t, p.RealTime)
}

func TestCfgRejects(t *testing.T) {
	for _, s := range []string{"", "(", "(sl:151)", "(sl:3000", "sl:3000", "(kid:zz)", "(persist:yes)",
		"(contentkey:AAAA)", "(unknownkey:1)", "(ckt:rc4)", "(begindate:2017)", "(dvop:(data:AA==))", "(a:b)x",
		"((((((((((x))))))))))"} {
		g, err := parseCfg(s)
		if err == nil {
			_, err = policies(g)
		}
		require.Error(t, err, "%q", s)
	}
}

// A bare value is refused without being echoed: it is often a content key
// whose "contentkey:" was left out, and the reason reaches the log.
func TestCfgBareValueWithheld(t *testing.T) {
	const key = "TtuJBM2/A2F/SAC9h4pt8g=="
	for _, s := range []string{"(" + key + ")", "(kid:B6E39626-1CFB-4AA1-BCBD-4EF1ABA7843A," + key + ")"} {
		g, err := parseCfg(s)
		require.NoError(t, err, s)
		_, err = policies(g)
		require.Error(t, err, s)
		requireCleanReason(t, err)
		require.Contains(t, cfgReason(err), "has no key")
		require.NotContains(t, cfgReason(err), key[:8])
	}
}

func TestCfgFromQueryKeepsPlus(t *testing.T) {
	s, ok, err := cfgFromQuery("a=1&cfg=(contentkey:ab+c/d%3D%3D)")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "(contentkey:ab+c/d==)", s)
	_, ok, err = cfgFromQuery("x=y")
	require.NoError(t, err)
	require.False(t, ok)
}

func FuzzParseCfg(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/fuzz/FuzzParseCfg/*")
	if len(seeds) == 0 {
		f.Fatal("no committed seeds under testdata/fuzz/FuzzParseCfg")
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, err := parseCfg(s)
		if err != nil {
			require.Nil(t, g)
			requireCleanReason(t, err)
			return
		}
		require.NotEmpty(t, g)
		if _, err := policies(g); err != nil { // must not panic
			requireCleanReason(t, err)
		}
	})
}

// requireCleanReason: a cfg error is a *cfgError whose reason is bounded
// printable ASCII (an ellipsis marks a truncated value).
func requireCleanReason(t *testing.T, err error) {
	t.Helper()
	require.ErrorIs(t, err, errCfg)
	r := strings.ReplaceAll(cfgReason(err), "…", "")
	require.NotEqual(t, "malformed cfg", r, "every cfg error says what is wrong")
	require.LessOrEqual(t, len(r), 1024)
	for _, c := range []byte(r) {
		require.True(t, c >= 0x20 && c <= 0x7e, "%q", r)
	}
}
