// Package clock is where prsim's device time comes from.
//
// Today it defines the [Clock] interface every time-dependent package takes
// by injection (zero value = the system clock), so tests and demos can move
// time without sleeping. The secure clock (set only from signed server time)
// and the anti-rollback clock (last-known-good time over the TPM's
// Clock/ResetCount/Safe, docs/formats/tpm.md §5) will implement the same interface;
// until then a device claims neither clock in its certificate, and the TEE
// binds no license that needs one.
package clock

import "time"

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// System returns the host's clock.
func System() Clock { return systemClock{} }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Func adapts a function to a Clock.
type Func func() time.Time

// Now calls f.
func (f Func) Now() time.Time { return f() }
