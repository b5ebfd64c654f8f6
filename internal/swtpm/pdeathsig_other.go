//go:build !linux

package swtpm

import "os/exec"

func setParentDeathSignal(*exec.Cmd) {}
