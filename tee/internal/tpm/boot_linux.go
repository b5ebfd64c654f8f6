package tpm

import (
	"bytes"
	"os"

	"golang.org/x/sys/unix"
)

// HostBoot returns the kernel's boot ID, which changes on every host boot,
// and CLOCK_BOOTTIME (ns since boot, suspend included).
func HostBoot() (id string, boottime int64, err error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", 0, err
	}
	bt, err := BootTime()
	return string(bytes.TrimSpace(b)), bt, err
}

// BootTime returns CLOCK_BOOTTIME in ns: monotonic, comparable across the
// processes of one host boot, running through suspend.
func BootTime() (int64, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0, err
	}
	return ts.Nano(), nil
}
