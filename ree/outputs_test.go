package ree_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/hal"
	"github.com/prsim/prsim/policy"
	"github.com/prsim/prsim/ree"
)

// TestCombineOutputs: one entry per platform output, the worst action of
// the tracks' decisions, with the protections and reasons of the tracks
// that gave it.
func TestCombineOutputs(t *testing.T) {
	p, err := hal.ParseOutputs("internal;hdmi:hdcp=2.2;spdif")
	require.NoError(t, err)
	od := func(k hal.OutputKind, a policy.Action, reason string, prot ...string) policy.OutputDecision {
		if prot == nil {
			prot = []string{}
		}
		return policy.OutputDecision{Kind: k, Output: k.String(), Action: a, Protections: prot, Reason: reason}
	}
	video := &policy.Decision{Outputs: []policy.OutputDecision{
		od(hal.Internal, policy.Pass, "panel"), od(hal.HDMI, policy.Protect, "hdcp needed", "HDCP2.2")}}
	audio := &policy.Decision{Outputs: []policy.OutputDecision{
		od(hal.Internal, policy.Pass, "panel"), od(hal.HDMI, policy.Block, "audio opl"), od(hal.SPDIF, policy.Pass, "spdif ok")}}
	got := ree.CombineOutputs(p, []ree.Track{{Type: "video", Decision: video}, {Type: "audio", Decision: audio}, {Type: "text"}})
	require.Len(t, got, 3)
	require.Equal(t, []string{"internal", "hdmi", "spdif"}, []string{got[0].Output, got[1].Output, got[2].Output})
	require.Equal(t, policy.Pass, got[0].Action)
	require.Equal(t, "video: panel; audio: panel", got[0].Reason)
	require.Equal(t, policy.Block, got[1].Action, "worst action wins")
	require.Equal(t, "audio: audio opl", got[1].Reason, "only the tracks that gave the worst action explain it")
	require.Empty(t, got[1].Protections)
	require.Equal(t, policy.Pass, got[2].Action)

	// Clear content: every output passes, with a reason.
	clear := ree.CombineOutputs(p, []ree.Track{{Type: "video"}})
	for _, o := range clear {
		require.Equal(t, policy.Pass, o.Action)
		require.NotEmpty(t, o.Reason)
	}
}
