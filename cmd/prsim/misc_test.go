package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDevicePersonas: every security level and PlayReady version the
// contract names can be provisioned, and device info reports it.
func TestDevicePersonas(t *testing.T) {
	t.Parallel()
	pkiDir := newPKI(t)
	for _, sl := range []int{150, 2000, 3000} {
		for _, version := range []string{"2.0", "3.0", "4.3", "4.5"} {
			t.Run(strconv.Itoa(sl)+"-"+version, func(t *testing.T) {
				t.Parallel()
				dev := filepath.Join(t.TempDir(), "dev")
				var info deviceOut
				okJSON(t, &info, "device", "new", "--pki", pkiDir, "--dir", dev, "--sl", strconv.Itoa(sl),
					"--version", version, "--tpm", "soft", "--json")
				require.Equal(t, sl, info.SecurityLevel)
				okJSON(t, &info, "device", "info", "--dir", dev, "--json")
				require.Equal(t, sl, info.SecurityLevel)
				require.Equal(t, version, info.Version)
				require.Equal(t, "soft", info.Backend)
				require.False(t, info.TPM)
				require.Contains(t, info.Model, strconv.Itoa(sl))
			})
		}
	}
	t.Run("bad-version", func(t *testing.T) {
		t.Parallel()
		r := run(t, "device", "new", "--pki", pkiDir, "--dir", filepath.Join(t.TempDir(), "dev"), "--sl", "2000",
			"--version", "5.0", "--tpm", "soft")
		require.Equal(t, 1, r.code, "%s", r)
	})
}

// TestServerListen: a fixed --listen port is honoured and written to the
// ready file; a port in use is a usage error (exit 1), not a hang.
func TestServerListen(t *testing.T) {
	t.Parallel()
	pkiDir := newPKI(t)
	base := startServer(t, pkiDir)
	addr := strings.TrimPrefix(base, "http://")

	// The same address again: the second server cannot listen.
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	r := run(t, "server", "--pki", pkiDir, "--data", filepath.Join(dir, "data"), "--listen", addr, "--ready-file", ready)
	require.Equal(t, 1, r.code, "%s", r)
	require.Contains(t, r.stderr, "listen")
	require.NoFileExists(t, ready)

	// A chosen free port.
	free := freeAddr(t)
	cmd := exec.Command(prsimBin, "server", "--pki", pkiDir, "--data", filepath.Join(dir, "data2"), "--listen", free, "--ready-file", ready)
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		<-done
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(ready)
		if err == nil {
			require.Equal(t, "http://"+free, strings.TrimSpace(string(b)))
			break
		}
		require.True(t, time.Now().Before(deadline), "no ready file")
		time.Sleep(10 * time.Millisecond)
	}
	// SIGTERM / interrupt shuts it down cleanly with exit 0.
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	select {
	case err := <-done:
		done <- err
		require.NoError(t, err, "server exits 0 on interrupt")
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop on interrupt")
	}
}

// TestDemo runs "prsim demo" on the soft backend and the simulator.
func TestDemo(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"soft", "sim"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			out := ok(t, "demo", "--tpm", backend)
			require.Contains(t, out, "demo OK")
			require.Contains(t, out, "DRM_E_DEVICE_SECURITY_LEVEL_TOO_LOW")
		})
	}
}
