package swtpmtest

import "os"

// requireSwtpm reads the one test-only switch; CI sets it so a missing swtpm
// fails instead of skipping.
func requireSwtpm() bool { return os.Getenv("PRSIM_REQUIRE_TOOLS") != "" } //nolint:forbidigo // test-only switch
