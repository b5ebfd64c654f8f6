// Package hal is prsim's simulated hardware: what a real device's platform
// would report to the DRM.
//
// # Wall clock
//
// [WallClock] is the user-settable wall clock: the time a device's owner
// can change at will, which the REE reports as ClientTime and which the DRM
// must never trust for time-based licenses (docs/formats/policies-and-outputs.md §9).
//
// # Outputs
//
// A [Platform] is the device's outputs and its decoder limit: the integrated
// panel, HDMI and DisplayPort with HDCP 1.4 / 2.2 / 2.3 and type-1
// capability, analog component, composite and VGA with CGMS-A and AGC /
// colour stripe, S/PDIF with SCMS, Miracast, AirPlay, DTCP and an unknown
// output (as in a virtual machine). It is parsed from a spec
// ([ParseOutputs]) such as
//
//	internal;hdmi:hdcp=2.2,type1;component:cgmsa,agc;spdif:scms;unknown;decoder:max=1920x1080
//
// and is a plain value handed to whoever evaluates a license (package
// policy); nothing here is package state. A cast target (miracast, airplay,
// dtcp) may name its receiver's certificate chain, `miracast:cert=FILE`:
// the TEE blocks that output when the chain does not verify to the
// device's root or is on its revocation list. A device made without a spec has
// [DefaultOutputs], the integrated panel only.
package hal

import (
	"sync"
	"time"

	"github.com/prsim/prsim/clock"
)

// WallClock is a settable clock: base time plus an offset the user sets.
// It is safe for concurrent use.
type WallClock struct {
	base clock.Clock
	mu   sync.Mutex
	off  time.Duration
}

var _ clock.Clock = (*WallClock)(nil)

// NewWallClock returns a wall clock over base (nil = the system clock).
func NewWallClock(base clock.Clock) *WallClock {
	if base == nil {
		base = clock.System()
	}
	return &WallClock{base: base}
}

// Now returns the (possibly user-adjusted) time.
func (w *WallClock) Now() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.base.Now().Add(w.off)
}

// Set makes Now return t from this moment on, as a user changing the clock.
func (w *WallClock) Set(t time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.off = t.Sub(w.base.Now())
}

// Advance moves the clock by d (negative d rolls it back).
func (w *WallClock) Advance(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.off += d
}

// Offset returns how far the clock was moved from its base.
func (w *WallClock) Offset() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.off
}
