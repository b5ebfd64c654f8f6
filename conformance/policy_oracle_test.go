package conformance

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/hal"
	"github.com/prsim/prsim/policy"
	"github.com/prsim/prsim/wire/xmr"
)

// The oracle comparison can fail: the same license decided for two
// platforms, or two licenses for one, differ and say where.
func TestCompareDecisions(t *testing.T) {
	ref, err := referencePlatform()
	require.NoError(t, err)
	internal := hal.DefaultPlatform()
	lic := func(opl uint16) *xmr.License {
		tp := &xmr.Template{Play: true, MinSecurityLevel: 2000, RIV: 1, OPL: &xmr.OPL{UncompressedDigitalVideo: opl},
			ContentKey: xmr.ContentKey{KeyType: xmr.KeyTypeAESCTR, CipherType: xmr.CipherECC256, EncKey: make([]byte, xmr.EncKeySizeECC256)}}
		raw, err := tp.Build(make([]byte, 16))
		require.NoError(t, err)
		l, err := xmr.Parse(raw)
		require.NoError(t, err)
		return l
	}
	req := func(p hal.Platform, s policy.Strategy) policy.Request {
		return policy.Request{Persona: policy.Persona{Version: "4.5", SecurityLevel: 3000}, Platform: p, Strategy: s}
	}
	l300, l100 := lic(300), lic(100)
	same := policy.Evaluate(l300, req(ref, policy.StrategyBlock))
	require.Empty(t, compareDecisions(same, policy.Evaluate(l300, req(ref, policy.StrategyBlock))))
	hdmi, ok := same.Output(hal.HDMI)
	require.True(t, ok)
	require.Equal(t, policy.Block, hdmi.Action, "OPL 300 blocks HDMI without HDCP")

	require.Contains(t, compareDecisions(policy.Evaluate(l300, req(internal, policy.StrategyBlock)), same), "outputs")
	require.Contains(t, compareDecisions(policy.Evaluate(l100, req(ref, policy.StrategyBlock)), same), "hdmi pass")
	require.Contains(t, compareDecisions(policy.Evaluate(l300, req(ref, policy.StrategyRefuse)), same), "refused with DRM_E_TEE_OUTPUT_PROTECTION_REQUIREMENTS_NOT_MET")
}
