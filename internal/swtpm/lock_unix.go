//go:build unix

package swtpm

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

var sigterm os.Signal = syscall.SIGTERM

// lockDir takes an exclusive flock on dir itself, polling until wait has
// passed. flock conflicts between open files, so it also serializes two
// opens in one process; the lock goes with the process if it dies.
func lockDir(dir string, wait time.Duration) (*os.File, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("swtpm: %w", err)
	}
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("swtpm: failed to lock state directory: %w", err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("%w (%s, waited %v)", ErrBusy, dir, wait)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func unlockDir(f *os.File) {
	if f != nil {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
}
