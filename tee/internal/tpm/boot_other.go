//go:build !linux

package tpm

import "errors"

// HostBoot: only Linux tells boots apart here; elsewhere a launched swtpm's
// Clock does not run while swtpm is stopped.
func HostBoot() (id string, boottime int64, err error) {
	return "", 0, errors.New("tpm: host boot time unknown on this OS")
}

// BootTime is unknown here too.
func BootTime() (int64, error) { return 0, errors.New("tpm: host boot time unknown on this OS") }
