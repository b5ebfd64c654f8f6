package swtpm_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/internal/swtpm"
	"github.com/prsim/prsim/internal/swtpmtest"
)

func TestNotInstalled(t *testing.T) {
	p, err := swtpm.Start(swtpm.Options{StateDir: t.TempDir(), Bin: filepath.Join(t.TempDir(), "no-swtpm")})
	require.ErrorIs(t, err, swtpm.ErrNotInstalled)
	require.Nil(t, p)
	_, err = swtpm.Start(swtpm.Options{})
	require.Error(t, err, "no state directory")
}

func TestStartStop(t *testing.T) {
	swtpmtest.Need(t)
	for _, tcp := range []bool{false, true} {
		t.Run(map[bool]string{false: "unix", true: "tcp"}[tcp], func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state") // created by Start
			p, err := swtpm.Start(swtpm.Options{StateDir: dir, TCP: tcp})
			require.NoError(t, err)
			want := map[bool]string{false: "unix", true: "tcp"}[tcp]
			require.Equal(t, want, p.Network())
			c, err := p.Dial()
			require.NoError(t, err)
			require.NoError(t, c.Close())

			fi, err := os.Stat(dir)
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o700), fi.Mode().Perm())

			require.NoError(t, p.Stop())
			require.NoError(t, p.Stop(), "Stop is idempotent")
			_, err = p.Dial()
			require.Error(t, err, "swtpm is gone after Stop")
			if !tcp {
				_, err := os.Stat(filepath.Dir(p.Addr()))
				require.ErrorIs(t, err, os.ErrNotExist, "socket directory removed")
			}
			// The TPM's permanent state (its seeds) is on disk, private.
			fi, err = os.Stat(filepath.Join(dir, "tpm2-00.permall"))
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
		})
	}
}

// One state directory serves one swtpm: a second Start waits for the lock
// and gives up with ErrBusy; after Stop it gets the directory.
func TestStateDirLocked(t *testing.T) {
	swtpmtest.Need(t)
	dir := t.TempDir()
	p, err := swtpm.Start(swtpm.Options{StateDir: dir})
	require.NoError(t, err)
	q, err := swtpm.Start(swtpm.Options{StateDir: dir, LockWait: 100 * time.Millisecond})
	require.True(t, errors.Is(err, swtpm.ErrBusy), "got %v", err)
	require.Nil(t, q)
	require.NoError(t, p.Stop())

	q, err = swtpm.Start(swtpm.Options{StateDir: dir, LockWait: 100 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, q.Stop())
}
