package main

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// outputOut is one entry of play's "outputs".
type outputOut struct {
	Output      string   `json:"output"`
	Action      string   `json:"action"`
	Protections []string `json:"protections"`
	Reason      string   `json:"reason"`
}

type policyPlayOut struct {
	Tracks []struct {
		Type    string `json:"type"`
		Samples int    `json:"samples"`
	} `json:"tracks"`
	Outputs []outputOut `json:"outputs"`
	Error   *string     `json:"error"`
	Detail  *string     `json:"detail"`
}

func outputsByName(t *testing.T, p policyPlayOut) map[string]outputOut {
	t.Helper()
	m := map[string]outputOut{}
	for _, o := range p.Outputs {
		require.NotContains(t, m, o.Output, "one entry per output")
		require.NotEmpty(t, o.Reason, "every decision names its rule: %+v", o)
		require.NotNil(t, o.Protections)
		m[o.Output] = o
	}
	return m
}

// TestPlayOutputPolicy runs the output decisions end to end through the
// binary: the reference server issues licenses with cfg= policies, the
// device's TEE decides per output of its platform before it releases a
// decryptor, and play reports the decision.
func TestPlayOutputPolicy(t *testing.T) {
	t.Parallel()
	pkiDir := newPKI(t)
	base := startServer(t, pkiDir)
	laURL := base + "/rightsmanager.asmx"
	c := genContent(t, "cenc", 71, laURL)
	dev := filepath.Join(t.TempDir(), "dev")
	ok(t, "device", "new", "--pki", pkiDir, "--dir", dev, "--sl", "3000", "--tpm", "soft", "--version", "4.5",
		"--outputs", "internal;hdmi:hdcp=none")
	var info struct {
		Outputs string `json:"outputs"`
	}
	okJSON(t, &info, "device", "info", "--dir", dev, "--json")
	require.Equal(t, "internal;hdmi", info.Outputs, "device.json keeps the default outputs, canonical (HDCP none is the default)")

	cfg := func(c string) string { return laURL + "?cfg=" + url.QueryEscape(c) }
	play := func(t *testing.T, url string, extra ...string) (result, policyPlayOut) {
		t.Helper()
		args := append([]string{"play", "--dev", dev, "--mpd", c.MPD, "--out", filepath.Join(t.TempDir(), "out"), "--url", url, "--json"}, extra...)
		r := run(t, args...)
		var p policyPlayOut
		decode(t, r, &p)
		return r, p
	}

	t.Run("no-opl-passes-everywhere", func(t *testing.T) {
		r, p := play(t, laURL)
		require.Equal(t, 0, r.code, "%s", r)
		require.Len(t, p.Tracks, 2)
		outs := outputsByName(t, p)
		require.Len(t, outs, 2)
		require.Equal(t, "pass", outs["internal"].Action)
		require.Equal(t, "pass", outs["hdmi"].Action)
	})

	t.Run("opl300-blocks-unprotected-hdmi", func(t *testing.T) {
		r, p := play(t, cfg("(ucvopl:300)"))
		require.Equal(t, 0, r.code, "%s", r)
		require.Nil(t, p.Error)
		require.Len(t, p.Tracks, 2)
		for _, tr := range p.Tracks {
			require.Positive(t, tr.Samples, "the panel plays: every track decrypts")
		}
		outs := outputsByName(t, p)
		require.Equal(t, "pass", outs["internal"].Action)
		require.Equal(t, "block", outs["hdmi"].Action)
		require.Contains(t, outs["hdmi"].Reason, "video: ")
	})

	t.Run("opl300-refuse-strategy", func(t *testing.T) {
		r, p := play(t, cfg("(ucvopl:300)"), "--strategy", "refuse")
		require.Equal(t, 2, r.code, "%s", r)
		require.NotNil(t, p.Error)
		require.Contains(t, *p.Error, "DRM_E_TEE_OUTPUT_PROTECTION_REQUIREMENTS_NOT_MET")
		require.NotNil(t, p.Detail)
		require.Contains(t, *p.Detail, "hdmi")
		require.Equal(t, "block", outputsByName(t, p)["hdmi"].Action, "the refusal still reports the decision")
	})

	t.Run("opl300-with-hdcp-override", func(t *testing.T) {
		r, p := play(t, cfg("(ucvopl:300)"), "--outputs", "internal;hdmi:hdcp=2.2", "--strategy", "refuse")
		require.Equal(t, 0, r.code, "%s", r)
		hdmi := outputsByName(t, p)["hdmi"]
		require.Equal(t, "protect", hdmi.Action)
		require.NotEmpty(t, hdmi.Protections)
	})

	t.Run("unknown-output-needs-enabler", func(t *testing.T) {
		r, p := play(t, laURL, "--outputs", "unknown")
		require.Equal(t, 2, r.code, "%s", r)
		require.Contains(t, *p.Error, "DRM_E_TEE_OUTPUT_PROTECTION_REQUIREMENTS_NOT_MET")
		require.Equal(t, "block", outputsByName(t, p)["unknown"].Action)

		r, p = play(t, cfg("(allowunknownhd:true)"), "--outputs", "unknown")
		require.Equal(t, 0, r.code, "%s", r)
		require.NotEqual(t, "block", outputsByName(t, p)["unknown"].Action)
	})

	t.Run("text-mode-prints-outputs", func(t *testing.T) {
		out := ok(t, "play", "--dev", dev, "--mpd", c.MPD, "--out", filepath.Join(t.TempDir(), "out"), "--url", cfg("(ucvopl:300)"))
		require.Contains(t, out, "output internal: pass")
		require.Contains(t, out, "output hdmi: block (")
	})

	t.Run("bad-flags-are-usage-errors", func(t *testing.T) {
		for _, extra := range [][]string{{"--strategy", "maybe"}, {"--outputs", "hdmi:hdcp=9.9"}} {
			r := run(t, append([]string{"play", "--dev", dev, "--mpd", c.MPD, "--out", t.TempDir()}, extra...)...)
			require.Equal(t, 1, r.code, "%s", r)
			require.False(t, strings.Contains(r.stderr, "panic"), "%s", r)
		}
	})
}

// TestBindRefusals: what the TEE does not enforce refuses the bind with the
// table's code (tee/policy_table.go) through the whole chain. PLAYCOUNT and
// SECURE_STOP cannot be asked of the reference server (the cfg= grammar
// has no key for them); tee's TestRulesDecideEveryBind builds those.
func TestBindRefusals(t *testing.T) {
	t.Parallel()
	pkiDir := newPKI(t)
	base := startServer(t, pkiDir)
	laURL := base + "/rightsmanager.asmx"
	c := genContent(t, "cenc", 72, laURL)
	// A device without a trusted clock: a time-based license is refused.
	dev := filepath.Join(t.TempDir(), "dev")
	ok(t, "device", "new", "--pki", pkiDir, "--dir", dev, "--sl", "3000", "--tpm", "soft", "--clock", "none")
	for cfg, code := range map[string]string{
		"(firstexp:60)": "DRM_E_NO_CLK_SUPPORTED",
		"(extendedrestrictions:((type:1024,mustunderstand:true,besteffort:false,data:AQ==)))": "DRM_E_EXTENDED_RESTRICTION_NOT_UNDERSTOOD",
	} {
		r := run(t, "play", "--dev", dev, "--mpd", c.MPD, "--out", filepath.Join(t.TempDir(), "out"),
			"--url", laURL+"?cfg="+url.QueryEscape(cfg), "--json")
		require.Equal(t, 2, r.code, "%s", r)
		var p policyPlayOut
		decode(t, r, &p)
		require.NotNil(t, p.Error, cfg)
		require.Contains(t, *p.Error, code, cfg)
		require.Empty(t, p.Outputs, "a license that does not bind gets no output decision")
	}

	// The default anti-rollback clock enforces expiry after first play,
	// so the same license binds and plays.
	arDev := newDevice(t, pkiDir, 3000, "soft")
	var p policyPlayOut
	okJSON(t, &p, "play", "--dev", arDev, "--mpd", c.MPD, "--out", filepath.Join(t.TempDir(), "out"),
		"--url", laURL+"?cfg="+url.QueryEscape("(firstexp:60)"), "--json")
	require.Nil(t, p.Error)
	require.NotEmpty(t, p.Outputs)
}
