package tpm

import (
	"bytes"
	"os"

	"golang.org/x/sys/unix"
)

// hostBoot returns the kernel's boot ID, which changes on every host boot,
// and CLOCK_BOOTTIME (ns since boot, suspend included).
func hostBoot() (id string, boottime int64, err error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", 0, err
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return "", 0, err
	}
	return string(bytes.TrimSpace(b)), ts.Nano(), nil
}
