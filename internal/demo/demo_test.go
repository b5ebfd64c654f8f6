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
		// Trusted time: wall clock set back, then the license's end passed.
		require.Regexp(t, `wall clock back 2 h .*: refused, DRM_E_TEE_CLOCK_DRIFTED \(0x8004CD1F\): .*last-known-good time`, s)
		require.Contains(t, s, "wall clock set right again: plays")
		require.Regexp(t, `two hours later.*refused, DRM_E_LICENSE_EXPIRED \(0x8004C009\)`, s)
	}
}

func TestSameSamplesDetectsDifferences(t *testing.T) {
	a := [][]byte{{1, 2}, {3}}
	require.NoError(t, sameSamples(a, [][]byte{{1, 2}, {3}}))
	require.Error(t, sameSamples(a, [][]byte{{1, 2}}))
	require.Error(t, sameSamples(a, [][]byte{{1, 2}, {4}}))
}
