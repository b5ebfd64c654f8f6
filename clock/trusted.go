package clock

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Kind is the trusted clock a device claims (docs/formats/policies-and-outputs.md §9).
type Kind string

// Kinds.
const (
	KindSecure       Kind = "secure"        // set from server-signed time, runs on the TPM Clock
	KindAntiRollback Kind = "anti-rollback" // wall clock that may only move forward
	KindNone         Kind = "none"          // no trusted clock: no time-based license binds
)

// ParseKind parses "secure", "anti-rollback" or "none" (case-insensitive).
func ParseKind(s string) (Kind, error) {
	switch k := Kind(strings.ToLower(strings.TrimSpace(s))); k {
	case KindSecure, KindAntiRollback, KindNone:
		return k, nil
	}
	return "", errors.New("clock: kind must be secure, anti-rollback or none")
}

// Trusted reports whether k is a trusted clock (secure or anti-rollback).
func (k Kind) Trusted() bool { return k == KindSecure || k == KindAntiRollback }

// Reading is one TPM2_ReadClock answer (TPMS_CLOCK_INFO, docs/formats/tpm.md §5).
type Reading struct {
	Clock        uint64 `json:"clock_ms"` // ms of powered-on time since TPM2_Clear
	ResetCount   uint32 `json:"reset_count"`
	RestartCount uint32 `json:"restart_count"`
	// Safe = YES: no larger Clock value was ever reported. NO after a
	// non-orderly power loss, until Clock passes the old maximum.
	Safe bool `json:"safe"`
}

// Sentinel errors; the TEE maps them to DRM codes.
var (
	// ErrNotSet: the secure clock was never set, or needs a resync.
	ErrNotSet = errors.New("clock: secure clock not set")
	// ErrRollback: the wall clock is earlier than the anti-rollback floor.
	ErrRollback = errors.New("clock: wall clock rolled back")
)

// NotSetError says why the secure clock has no time. It wraps [ErrNotSet].
type NotSetError struct {
	Reason string
}

func (e *NotSetError) Error() string { return "clock: secure clock not set: " + e.Reason }

func (e *NotSetError) Unwrap() error { return ErrNotSet }

// RollbackError is a wall clock earlier than the anti-rollback floor by
// more than [Tolerance]. It wraps [ErrRollback].
type RollbackError struct {
	Wall, Floor time.Time
}

func (e *RollbackError) Error() string {
	return fmt.Sprintf("clock: wall clock %s is earlier than the last-known-good time %s by more than %s",
		e.Wall.UTC().Format(time.RFC3339), e.Floor.UTC().Format(time.RFC3339), Tolerance)
}

func (e *RollbackError) Unwrap() error { return ErrRollback }

// NotSetError reasons, one per cause.
const (
	reasonNeverSet   = "never set"
	reasonReset      = "the TPM was reset since the last sync"
	reasonPowerLoss  = "the TPM lost power without an orderly shutdown"
	reasonBackwards  = "the TPM Clock is earlier than at the last sync"
	reasonOutOfRange = "the TPM Clock advanced beyond the representable range since the last sync"
)

// Secure sources.
const (
	SourceLicenseServerTime = "license-server-time"
	SourceTimeService       = "time-service"
)

// maxElapsed is the longest TPM Clock span a time.Duration holds.
const maxElapsed = uint64(math.MaxInt64 / int64(time.Millisecond))

// Secure is the secure clock's state: the server time of the last sync and
// the TPM Clock reading taken with it. The zero value is a clock never set.
type Secure struct {
	Set         bool      `json:"set"`
	Time        time.Time `json:"time,omitzero"` // server time at the anchor
	AnchorClock uint64    `json:"anchor_clock_ms"`
	ResetCount  uint32    `json:"reset_count"`
	// UnsafeAnchor: the sync was taken while Safe = NO (right after a
	// power loss). Safe stays NO until Clock passes its old maximum, so
	// later Safe = NO readings of the same TPM reset cycle are expected;
	// a new power loss changes ResetCount instead.
	UnsafeAnchor bool   `json:"unsafe_anchor,omitempty"`
	Source       string `json:"source,omitempty"` // SourceLicenseServerTime or SourceTimeService
}

// SetFrom anchors the clock: server time (already verified by the caller)
// corresponds to reading r. The TPM's own counts are taken as they are now.
func (s *Secure) SetFrom(server time.Time, r Reading, source string) {
	*s = Secure{Set: true, Time: server.UTC(), AnchorClock: r.Clock, ResetCount: r.ResetCount,
		UnsafeAnchor: !r.Safe, Source: source}
}

// Now returns the secure time at reading r: the server time of the last
// sync plus the TPM Clock elapsed since. It fails with a [*NotSetError] when
// the clock was never set or the TPM cannot vouch for the elapsed time.
func (s Secure) Now(r Reading) (time.Time, error) {
	switch {
	case !s.Set:
		return time.Time{}, &NotSetError{Reason: reasonNeverSet}
	case r.ResetCount != s.ResetCount:
		return time.Time{}, &NotSetError{Reason: reasonReset}
	case !r.Safe && !s.UnsafeAnchor:
		return time.Time{}, &NotSetError{Reason: reasonPowerLoss}
	case r.Clock < s.AnchorClock:
		return time.Time{}, &NotSetError{Reason: reasonBackwards}
	case r.Clock-s.AnchorClock > maxElapsed:
		return time.Time{}, &NotSetError{Reason: reasonOutOfRange}
	}
	return s.Time.Add(time.Duration(r.Clock-s.AnchorClock) * time.Millisecond), nil
}

// Tolerance is how far the wall clock may sit below the anti-rollback
// floor and still count as moving forward. NTP steps a drifting clock back
// by seconds, and dates typed or carried as whole seconds (XMR, RFC 3339 on
// the CLI) round down by up to one; a minute absorbs both, while a rollback
// that matters to a license (hours, days) is still refused.
const Tolerance = 60 * time.Second

// DriftDivisor discounts the TPM Clock's witness: the floor rises by the
// elapsed TPM time minus 1/DriftDivisor of it. TPM 2.0 leaves the
// oscillator's accuracy to the platform, and a TPM that runs a little fast
// must not make a correct wall clock look rolled back.
const DriftDivisor = 16

// AntiRollback is the anti-rollback clock's state: the last-known-good
// time and the TPM Clock reading that witnessed it. The zero value is a
// fresh clock, which accepts the first wall time it is given.
type AntiRollback struct {
	LastKnownGood time.Time `json:"last_known_good,omitzero"`
	WitnessClock  uint64    `json:"witness_clock_ms"`
	ResetCount    uint32    `json:"reset_count"`
	Valid         bool      `json:"valid"`
}

// Floor is the earliest time the clock accepts at reading r (before
// [Tolerance]): the last-known-good time, raised by the TPM Clock elapsed
// since the witness (less the [DriftDivisor] allowance) when the TPM
// vouches for it: no reset since, Safe, and a Clock not below the witness.
// A fresh clock has no floor (zero time).
func (a AntiRollback) Floor(r Reading) time.Time {
	if !a.Valid {
		return time.Time{}
	}
	floor := a.LastKnownGood
	if r.ResetCount == a.ResetCount && r.Safe && r.Clock >= a.WitnessClock {
		elapsed := min(r.Clock-a.WitnessClock, maxElapsed)
		elapsed -= elapsed / DriftDivisor
		floor = floor.Add(time.Duration(elapsed) * time.Millisecond)
	}
	return floor
}

// Now checks the wall clock against the floor at reading r. A wall clock
// more than [Tolerance] below the floor is a [*RollbackError] and changes
// nothing. Otherwise the result is the later of wall and the floor, so time
// never runs behind what the clock has already seen or what the TPM proves
// has passed, and the last-known-good time and witness advance to it.
func (a *AntiRollback) Now(wall time.Time, r Reading) (time.Time, error) {
	wall = wall.UTC()
	if a.Valid {
		floor := a.Floor(r)
		if wall.Before(floor.Add(-Tolerance)) {
			return time.Time{}, &RollbackError{Wall: wall, Floor: floor}
		}
		if wall.Before(floor) {
			wall = floor
		}
	}
	*a = AntiRollback{LastKnownGood: wall, WitnessClock: r.Clock, ResetCount: r.ResetCount, Valid: true}
	return wall, nil
}

// Status is the answer of `prsim clock status --json`: the clock kind,
// whether it gives a trusted time now, that time, the last-known-good time
// (anti-rollback) and whether the wall clock is rolled back. Times are
// RFC 3339 in whole seconds, or null.
type Status struct {
	Kind             Kind       `json:"kind"`
	Set              bool       `json:"set"`
	Now              *time.Time `json:"now"`
	LastKnownGood    *time.Time `json:"last_known_good"`
	RollbackDetected bool       `json:"rollback_detected"`
}

// StatusOf reports a clock without changing its state: s is used for
// KindSecure, a for KindAntiRollback (nil = never set / fresh), wall is the
// platform's wall clock and r the TPM Clock reading. An unknown kind reports
// as not set.
func StatusOf(kind Kind, s *Secure, a *AntiRollback, wall time.Time, r Reading) Status {
	st := Status{Kind: kind}
	switch kind {
	case KindSecure:
		if s == nil {
			break
		}
		if now, err := s.Now(r); err == nil {
			st.Set, st.Now = true, seconds(now)
		}
	case KindAntiRollback:
		var c AntiRollback
		if a != nil {
			c = *a
		}
		if c.Valid {
			st.LastKnownGood = seconds(c.LastKnownGood)
		}
		now, err := c.Now(wall, r)
		if err == nil {
			st.Set, st.Now = true, seconds(now)
		}
		st.RollbackDetected = errors.Is(err, ErrRollback)
	}
	return st
}

func seconds(t time.Time) *time.Time {
	u := t.UTC().Truncate(time.Second)
	return &u
}
