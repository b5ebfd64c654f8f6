// Package clock is where prsim's device time comes from: the [Clock]
// interface every time-dependent package takes by injection, and the two
// trusted clocks a device may claim for time-based licenses.
//
// # Clocks
//
// [Clock] tells the time (zero value in options = [System]), so tests and
// demos move time without sleeping. A trusted clock is what the TEE
// compares license dates with (docs/formats/policies-and-outputs.md §9):
//
//   - [Secure]: set only from server-signed time (License Server Time or a
//     time service), then run on the TPM Clock. After a TPM reset or a
//     non-orderly power loss (Safe = NO) it answers [ErrNotSet] until the
//     next sync.
//   - [AntiRollback]: takes the platform's wall clock, which the user can
//     set, and refuses it with [ErrRollback] when it is earlier than the
//     last-known-good time, raised by the time the TPM Clock proves has
//     passed since (docs/formats/tpm.md §5).
//   - [KindNone]: the device claims no trusted clock and binds no
//     time-based license.
//
// The state structs are plain values with JSON tags and no I/O: the TEE
// keeps them in its sealed state and feeds them one TPM Clock [Reading] per
// operation. Their methods never read the host clock.
//
// # Precision
//
// Times keep the millisecond precision of the TPM Clock. XMR dates are
// whole seconds, and the policy checks compare instants (usable for
// begin ≤ now < end), which gives the same answer as comparing whole
// seconds, so nothing is rounded here; [Status] shows whole seconds.
//
// # Security considerations
//
// The TPM Clock counts only while the TPM runs and, on a non-orderly power
// loss, may come back lower than a value it reported before (Safe = NO).
// The secure clock treats both a new ResetCount and Safe = NO as "time may
// have rolled back" and asks for a resync. The anti-rollback clock cannot
// stop a user from freezing time at the last-known-good value (a wall clock
// set back within [Tolerance] of the floor yields the floor), only from
// going back past it; pairing an end date with a begin date bounds what a
// restored store can unlock (docs/formats/policies-and-outputs.md §8).
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
