package tpm_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/tee/internal/tpm"
)

// FuzzPublic: key blobs come from device.json on disk.
func FuzzPublic(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/fuzz/FuzzPublic/*")
	if len(seeds) == 0 {
		f.Fatal("no committed seeds under testdata/fuzz/FuzzPublic")
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := tpm.Public(b)
		if err != nil {
			require.Zero(t, p)
			return
		}
		require.True(t, p.Valid())
	})
}

// FuzzParseSealed: sealed blobs come from the TEE's state on disk; the
// parser runs before any byte reaches the TPM.
func FuzzParseSealed(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/fuzz/FuzzParseSealed/*")
	if len(seeds) == 0 {
		f.Fatal("no committed seeds under testdata/fuzz/FuzzParseSealed")
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := tpm.ParseSealed(b); err != nil {
			require.ErrorIs(t, err, tpm.ErrBlob)
		}
	})
}
