//go:build !unix

package swtpm

import (
	"os"
	"time"
)

var sigterm = os.Kill

// lockDir is a no-op where flock is missing; swtpm's own lock file still
// refuses a second daemon on the directory.
func lockDir(string, time.Duration) (*os.File, error) { return nil, nil }

func unlockDir(*os.File) {}
