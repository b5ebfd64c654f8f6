package swtpm

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal has the kernel send SIGTERM to swtpm when prsim dies
// (even by SIGKILL), so no orphan keeps the state directory. The kernel
// ties the signal to the forking thread; Go ends a thread only when a
// goroutine exits while locked to it, which prsim's callers do not do.
func setParentDeathSignal(c *exec.Cmd) {
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
