package demo

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRunSoftAndSim(t *testing.T) {
	for _, backend := range []string{"soft", "sim"} {
		var out bytes.Buffer
		require.NoError(t, Run(context.Background(), Options{Out: &out, TPM: backend, KeepDir: t.TempDir()}), backend)
		s := out.String()
		require.Contains(t, s, "demo OK")
		require.Contains(t, s, "cbcs audio: 141 samples")
		require.Contains(t, s, "DRM_E_DEVICE_SECURITY_LEVEL_TOO_LOW")
		require.Regexp(t, ` pass, 0 fail, [0-9]+ skipped, 0 error\.`, s)
		require.Contains(t, s, "L7 fail (must)")
		require.Contains(t, s, "hdmi: block")
		require.Contains(t, s, "DRM_E_TEE_OUTPUT_PROTECTION_REQUIREMENTS_NOT_MET")
	}
}

func TestSameSamplesDetectsDifferences(t *testing.T) {
	a := [][]byte{{1, 2}, {3}}
	require.NoError(t, sameSamples(a, [][]byte{{1, 2}, {3}}))
	require.Error(t, sameSamples(a, [][]byte{{1, 2}}))
	require.Error(t, sameSamples(a, [][]byte{{1, 2}, {4}}))
}
