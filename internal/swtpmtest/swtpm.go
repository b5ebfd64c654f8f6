// Package swtpmtest starts swtpm (the software TPM daemon) for tests, with
// the same launcher as prsim's "swtpm:DIR" backend (package
// internal/swtpm), so TPM-backed code also runs against a TPM in another
// process.
package swtpmtest

import (
	"errors"
	"os/exec"
	"testing"

	"github.com/prsim/prsim/internal/swtpm"
)

// Need skips the test when swtpm is not installed, or fails it when
// PRSIM_REQUIRE_TOOLS is set (CI).
func Need(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("swtpm"); err != nil {
		if requireSwtpm() {
			t.Fatal("swtpm is required (PRSIM_REQUIRE_TOOLS is set) but not installed")
		}
		t.Skip("swtpm not installed (Debian: apt-get install swtpm swtpm-tools)")
	}
}

// Start launches swtpm on loopback TCP with a temporary state directory,
// as a user would start it by hand (docs/swtpm.md), and returns its data
// port address HOST:PORT. It is stopped at cleanup. See [Need] for a
// missing swtpm.
func Start(t testing.TB) string {
	t.Helper()
	Need(t)
	p, err := swtpm.Start(swtpm.Options{StateDir: t.TempDir(), TCP: true})
	if errors.Is(err, swtpm.ErrNotInstalled) {
		Need(t)
	}
	if err != nil {
		t.Fatalf("start swtpm: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("stop swtpm: %v", err)
		}
	})
	return p.Addr()
}
