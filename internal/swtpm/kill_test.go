//go:build linux

package swtpm_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/internal/swtpm"
	"github.com/prsim/prsim/internal/swtpmtest"
)

// helperEnv makes the test binary a child that starts swtpm on the named
// directory, says "ready" and waits to be killed.
const helperEnv = "PRSIM_SWTPM_HOLDER_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" { //nolint:forbidigo // test-only child switch
		if _, err := swtpm.Start(swtpm.Options{StateDir: dir}); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("ready")
		select {}
	}
	os.Exit(m.Run())
}

// A prsim killed with SIGKILL leaves no swtpm behind: the kernel sends swtpm
// SIGTERM, and the directory is free again (swtpm's own lock file included,
// which a surviving swtpm would hold).
func TestParentKilled(t *testing.T) {
	swtpmtest.Need(t)
	dir := t.TempDir()
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), helperEnv+"="+dir)
	out, err := child.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, child.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ready\n", line)
	require.NoError(t, child.Process.Kill())
	_ = child.Wait()

	p, err := swtpm.Start(swtpm.Options{StateDir: dir, LockWait: 10 * time.Second})
	require.NoError(t, err, "state directory still held after its owner was killed")
	require.NoError(t, p.Stop())
}
