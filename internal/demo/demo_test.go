package demo

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/Eyevinn/mp4ff/mp4"
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

// An init segment without mvex (an empty stts makes mp4ff read it as
// fragmented) is refused, not dereferenced.
func TestSampleDataRefusesInitWithoutMvex(t *testing.T) {
	init := mp4.CreateEmptyInit()
	init.AddEmptyTrack(90000, "video", "und")
	kept := init.Moov.Children[:0]
	for _, c := range init.Moov.Children {
		if c.Type() != "mvex" {
			kept = append(kept, c)
		}
	}
	init.Moov.Children, init.Moov.Mvex = kept, nil
	var buf bytes.Buffer
	require.NoError(t, init.Encode(&buf))
	path := filepath.Join(t.TempDir(), "init.mp4")
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
	_, err := SampleData(path)
	require.ErrorContains(t, err, "not a fragmented MP4")
}
