package main

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/internal/swtpm"
)

// TestSwtpmDir provisions a device on "swtpm:DIR" in one process and
// acquires and plays in others: each prsim process starts swtpm on the
// recorded state directory and stops it on exit, and the device keys made
// by the first process load in the later ones.
func TestSwtpmDir(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("swtpm"); err != nil {
		skipOrFail(t, "swtpm not installed (Debian: apt-get install swtpm swtpm-tools)")
	}
	pkiDir := newPKI(t)
	base := startServer(t, pkiDir)
	state := filepath.Join(t.TempDir(), "tpm") // created by prsim
	dev := newDevice(t, pkiDir, 3000, "swtpm:"+state)
	requireSwtpmStopped(t, state)

	var info deviceOut
	okJSON(t, &info, "device", "info", "--dir", dev, "--json")
	require.Equal(t, "swtpm:"+state, info.Backend, "the device records its state directory")
	require.True(t, info.TPM)
	requireSwtpmStopped(t, state)

	c := genContent(t, "cenc", 31, base+"/rightsmanager.asmx")
	var acq acquireOut
	okJSON(t, &acq, "license", "acquire", "--dev", dev, "--mpd", c.MPD,
		"--url", base+"/rightsmanager.asmx?cfg=(persist:true)", "--json")
	requireLicenses(t, acq, []string{c.video.String(), c.audio.String()}, true, 150)
	requireSwtpmStopped(t, state)

	// The stored licenses are bound again by a new process with a new
	// swtpm; a license URL nothing answers proves no acquisition happens.
	playAndCompare(t, dev, c, "http://"+freeAddr(t)+"/rightsmanager.asmx")
	requireSwtpmStopped(t, state)
}

// requireSwtpmStopped checks that the last prsim process stopped its swtpm
// and released the state directory: another swtpm gets it at once.
func requireSwtpmStopped(t *testing.T, state string) {
	t.Helper()
	p, err := swtpm.Start(swtpm.Options{StateDir: state, LockWait: time.Millisecond})
	require.NoError(t, err, "state directory still in use after prsim exited")
	require.NoError(t, p.Stop())
}
