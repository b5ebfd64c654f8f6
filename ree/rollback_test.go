package ree_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/internal/fixture"
	"github.com/prsim/prsim/internal/swtpmtest"
	"github.com/prsim/prsim/ree"
	"github.com/prsim/prsim/tee"
)

// copyFile copies src to dst (mode 0600), as an attacker with the device's
// files does.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(dst, b, 0o600))
}

// rollBackStore provisions a device in dir on backend, keeps a copy of its
// store.db, commits more TEE state (nonces), and puts the old copy back.
// It returns whether the device said it was rollback-protected.
func rollBackStore(t *testing.T, dir, backend string) bool {
	t.Helper()
	d, err := testFixture().NewDevice(dir, fixture.Device{SecurityLevel: 2000, Backend: backend})
	require.NoError(t, err)
	protected := d.RollbackProtected()
	require.NoError(t, d.Close())
	db := filepath.Join(dir, "store.db")
	saved := filepath.Join(t.TempDir(), "store.db.old")
	copyFile(t, db, saved)

	d, err = ree.OpenDevice(dir)
	require.NoError(t, err)
	for range 3 {
		_, err := d.TEE.NewNonce()
		require.NoError(t, err)
	}
	require.NoError(t, d.Close())
	copyFile(t, saved, db)
	return protected
}

// Attack: the store is copied aside, the device commits more TEE state,
// and the old copy is put back. On swtpm with its state outside the device
// directory, the TPM's generation counter catches it and OpenDevice
// refuses the store, saying why.
func TestStoreCopiedBackIsRefused(t *testing.T) {
	swtpmtest.Need(t)
	dir := filepath.Join(t.TempDir(), "dev")
	require.True(t, rollBackStore(t, dir, "swtpm:"+filepath.Join(t.TempDir(), "tpm")))
	d, err := ree.OpenDevice(dir)
	require.Nil(t, d)
	require.Error(t, err)
	var re *ree.RollbackError
	require.ErrorAs(t, err, &re)
	require.ErrorIs(t, err, tee.ErrRollback)
	var te *tee.RollbackError
	require.ErrorAs(t, err, &te)
	require.Less(t, te.Stored, te.Counter)
	require.Contains(t, err.Error(), filepath.Join(dir, "store.db")+" was rolled back")
	require.Contains(t, err.Error(), "older TEE state than the TPM counter")
}

// On backends whose whole state lives in the device directory (soft, sim,
// and swtpm with its state directory inside it) a copied-back store cannot
// be told from the original: the device says it is not rollback-protected,
// and opens.
func TestStoreCopiedBackUndetectedWithoutProtection(t *testing.T) {
	backends := map[string]func(dir string) string{
		"soft": func(string) string { return "soft" },
		"sim":  func(string) string { return "sim" },
		"swtpm-inside": func(dir string) string {
			return "swtpm:" + filepath.Join(dir, "tpm")
		},
	}
	for name, backend := range backends {
		t.Run(name, func(t *testing.T) {
			if name == "swtpm-inside" {
				swtpmtest.Need(t)
			}
			dir := filepath.Join(t.TempDir(), "dev")
			require.False(t, rollBackStore(t, dir, backend(dir)))
			d, err := ree.OpenDevice(dir)
			if name == "swtpm-inside" {
				// The TPM counter still sees the copy: the device refuses
				// it, though a copy of the whole directory would pass.
				require.True(t, errors.Is(err, tee.ErrRollback), "%v", err)
				return
			}
			require.NoError(t, err, "not detected")
			defer d.Close()
			require.False(t, d.RollbackProtected())
			require.False(t, d.TEE.RollbackProtected())
		})
	}
}
