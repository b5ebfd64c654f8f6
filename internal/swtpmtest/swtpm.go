// Package swtpmtest starts swtpm (the software TPM daemon) for tests, so
// TPM-backed code also runs against a TPM in another process.
package swtpmtest

import (
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// Start launches swtpm on loopback with a temporary state directory and
// returns its data-port address. The test is skipped when swtpm is not
// installed, unless PRSIM_REQUIRE_TOOLS is set by CI's environment, in which
// case it fails.
func Start(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("swtpm")
	if err != nil {
		if requireSwtpm() {
			t.Fatal("swtpm is required (PRSIM_REQUIRE_TOOLS) but not installed")
		}
		t.Skip("swtpm not installed")
	}
	dir := t.TempDir()
	port := freePort(t)
	cmd := exec.Command(bin, "socket", "--tpm2",
		"--server", "type=tcp,port="+strconv.Itoa(port)+",bindaddr=127.0.0.1",
		"--ctrl", "type=tcp,port="+strconv.Itoa(port+1)+",bindaddr=127.0.0.1",
		"--tpmstate", "dir="+dir, "--flags", "not-need-init,startup-clear")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start swtpm: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("swtpm did not start listening")
	return ""
}

// freePort finds a port p with p+1 also free (swtpm's control port).
func freePort(t testing.TB) int {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+1))
		l.Close()
		if err == nil {
			l2.Close()
			return p
		}
	}
	t.Fatal("no free port pair")
	return 0
}
