package swtpm_test

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
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

// send writes one raw TPM command and returns the response code.
func send(t *testing.T, c net.Conn, cmd []byte) uint32 {
	t.Helper()
	_, err := c.Write(cmd)
	require.NoError(t, err)
	hdr := make([]byte, 10)
	_, err = io.ReadFull(c, hdr)
	require.NoError(t, err)
	rest := make([]byte, binary.BigEndian.Uint32(hdr[2:6])-10)
	_, err = io.ReadFull(c, rest)
	require.NoError(t, err)
	return binary.BigEndian.Uint32(hdr[6:10])
}

var (
	startupClear = []byte{0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x44, 0, 0} // TPM2_Startup(CLEAR)
	getRandom8   = []byte{0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7B, 0, 8} // TPM2_GetRandom(8)
	shutdownCl   = []byte{0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x45, 0, 0} // TPM2_Shutdown(CLEAR)
	rcInitialize = uint32(0x100)                                           // TPM_RC_INITIALIZE
)

// With ManualStartup the client sends TPM2_Startup; Init (CMD_INIT) power-
// cycles the TPM, which then wants TPM2_Startup again.
func TestManualStartupAndInit(t *testing.T) {
	swtpmtest.Need(t)
	p, err := swtpm.Start(swtpm.Options{StateDir: t.TempDir(), ManualStartup: true})
	require.NoError(t, err)
	defer func() { require.NoError(t, p.Stop()) }()
	c, err := p.Dial()
	require.NoError(t, err)
	defer c.Close()
	require.Equal(t, rcInitialize, send(t, c, getRandom8), "no Startup yet")
	require.Zero(t, send(t, c, startupClear))
	require.Zero(t, send(t, c, getRandom8))
	require.Equal(t, rcInitialize, send(t, c, startupClear), "already started")

	require.Zero(t, send(t, c, shutdownCl))
	require.NoError(t, p.Init())
	require.Equal(t, rcInitialize, send(t, c, getRandom8), "CMD_INIT wants a new Startup")
	require.Zero(t, send(t, c, startupClear), "the data connection survives CMD_INIT")
	require.Zero(t, send(t, c, getRandom8))
}

// Terminate stops swtpm as a killed parent does (SIGTERM) and frees the
// state directory.
func TestTerminate(t *testing.T) {
	swtpmtest.Need(t)
	dir := t.TempDir()
	p, err := swtpm.Start(swtpm.Options{StateDir: dir})
	require.NoError(t, err)
	p.Terminate()
	_, err = p.Dial()
	require.Error(t, err, "swtpm is gone")
	require.NoError(t, p.Stop(), "Stop after Terminate does nothing")
	q, err := swtpm.Start(swtpm.Options{StateDir: dir, LockWait: time.Second})
	require.NoError(t, err, "the directory is free again")
	require.NoError(t, q.Stop())
}
