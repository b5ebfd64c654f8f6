//go:build !linux

package tpm

import "errors"

// hostBoot: only Linux tells boots apart here; elsewhere a launched swtpm's
// Clock does not run while swtpm is stopped.
func hostBoot() (id string, boottime int64, err error) {
	return "", 0, errors.New("tpm: host boot time unknown on this OS")
}
