package tee_test

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/tee"
)

// fixedStorage hands back one blob and accepts writes in memory.
type fixedStorage struct{ blob []byte }

func (s *fixedStorage) ReadSealed() ([]byte, error) { return bytes.Clone(s.blob), nil }
func (s *fixedStorage) WriteSealed(b []byte) error  { s.blob = bytes.Clone(b); return nil }

// FuzzOpenSealed feeds the TEE state reader what a store can hand back: the
// blob lives in the REE's file, so any bytes must be refused cleanly
// (malformed, or not authenticating) and only the device's own sealed
// state opens.
func FuzzOpenSealed(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzOpenSealed", "*"))
	if len(seeds) == 0 {
		f.Fatal("no committed seeds under testdata/fuzz/FuzzOpenSealed")
	}
	b, err := tee.OpenBackend("soft")
	require.NoError(f, err)
	d, storage := provisionWith(f, b, 2000, "4.5")
	_, err = d.NewNonce()
	require.NoError(f, err)
	good, err := storage.ReadSealed()
	require.NoError(f, err)
	st := d.State()
	f.Add(good)
	f.Fuzz(func(t *testing.T, blob []byte) {
		d2, err := tee.OpenWith(b, st, tee.Options{Storage: &fixedStorage{blob: blob}})
		if err != nil {
			require.NotContains(t, err.Error(), "panic")
			return
		}
		// Only a blob this device sealed opens.
		require.NotZero(t, d2.Generation())
	})
}
