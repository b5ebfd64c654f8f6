package policy

import (
	"fmt"
	"time"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/wire/xmr"
)

// Time-based policies (docs/formats/policies-and-outputs.md §5, §8):
//
//   - EXPIRATION (0x12): usable for begin ≤ now < end. Begin 0 is no lower
//     bound, end [xmr.ExpirationUnlimited] no upper bound. XMR dates are
//     whole seconds, so comparing instants gives the same answer as
//     comparing seconds.
//   - EXPIRATION_AFTER_FIRSTPLAY (0x30): expired once now ≥ first play +
//     the window ("stops when the seconds since first play reach the
//     value"); unbounded until first played.
//   - REMOVAL_DATE (0x50): the client may delete the license from then on;
//     prsim refuses it from that date (fail closed).
//   - REAL_TIME_EXPIRATION (0x55): the same dates, checked during playback
//     too; an expiry then reports DRM_E_LICENSE_REALTIME_EXPIRED.
//   - GRACE_PERIOD (0x1A): the documents give it no meaning beyond
//     "seconds"; it could only relax the checks, so it is not applied.
//   - EXPIRATION_AFTER_FIRSTUSE / _FIRSTSTORE (0x14, 0x15, v1 licenses):
//     they need a trusted clock ([TimeBased]) but [CheckTime] does not
//     enforce them; the TEE's table refuses them.

// TimeBased reports whether the license carries a restriction the device
// needs a trusted clock for: an EXPIRATION that bounds something,
// EXPIRATION_AFTER_FIRSTPLAY / FIRSTUSE / FIRSTSTORE, REMOVAL_DATE or
// REAL_TIME_EXPIRATION.
func TimeBased(l *xmr.License) bool {
	p := l.Policy()
	if e := p.Expiration; e != nil && (e.Begin != 0 || e.End != xmr.ExpirationUnlimited) {
		return true
	}
	return p.ExpireAfterFirstPlay != nil || p.ExpireAfterFirstUse != nil || p.ExpireAfterFirstStore != nil ||
		p.RemovalDate != nil || p.RealTimeExpiration
}

// Times is what [CheckTime] compares a license with: the trusted clock's
// time and the durable first-play time of the license's KID.
type Times struct {
	Now       time.Time
	FirstPlay time.Time // zero: not played yet
	// Playing: the check runs mid-playback (real-time expiration), so an
	// expiry reports DRM_E_LICENSE_REALTIME_EXPIRED.
	Playing bool
}

// TimeError is a license unusable at the device's time: the date crossed
// (At), the device time (Now) and the DRM code it wraps.
type TimeError struct {
	Code   drm.Code
	Reason string
	At     time.Time // the date that was crossed
	Now    time.Time // the device time
}

func (e *TimeError) Error() string {
	if e.At.IsZero() {
		return fmt.Sprintf("policy: %s: %v", e.Reason, e.Code)
	}
	return fmt.Sprintf("policy: %s at %s; device time %s: %v", e.Reason,
		e.At.UTC().Format(time.RFC3339), e.Now.UTC().Format(time.RFC3339), e.Code)
}

func (e *TimeError) Unwrap() error { return e.Code }

func unix(v uint32) time.Time { return time.Unix(int64(v), 0).UTC() }

// firstPlayEnd returns first play + the window, if the license has one and
// was played.
func firstPlayEnd(p *xmr.Policy, firstPlay time.Time) (time.Time, bool) {
	if p.ExpireAfterFirstPlay == nil || firstPlay.IsZero() {
		return time.Time{}, false
	}
	return firstPlay.Add(time.Duration(*p.ExpireAfterFirstPlay) * time.Second), true
}

// CheckTime returns nil when the license is usable at t.Now, else a
// [*TimeError] wrapping drm.ErrLicenseExpired (or
// drm.ErrLicenseRealtimeExpired when t.Playing and the license has
// REAL_TIME_EXPIRATION) or drm.ErrLicenseNotYetValid. Expiry is checked
// first: a license past its end is expired whatever its begin date. A zero
// t.Now is no trusted time: a time-based license is then refused with
// drm.ErrClkNotSet (fail closed on a caller's bug).
func CheckTime(l *xmr.License, t Times) error {
	if t.Now.IsZero() && TimeBased(l) {
		return &TimeError{Code: drm.ErrClkNotSet, Reason: "no trusted time for a time-based license"}
	}
	p := l.Policy()
	expired := drm.ErrLicenseExpired
	if t.Playing && p.RealTimeExpiration {
		expired = drm.ErrLicenseRealtimeExpired
	}
	fail := func(c drm.Code, reason string, at time.Time) error {
		return &TimeError{Code: c, Reason: reason, At: at, Now: t.Now}
	}
	e := p.Expiration
	if e != nil && e.End != xmr.ExpirationUnlimited && !t.Now.Before(unix(e.End)) {
		return fail(expired, "license expired (EXPIRATION end date)", unix(e.End))
	}
	if p.RemovalDate != nil && !t.Now.Before(unix(*p.RemovalDate)) {
		return fail(expired, "license past its removal date (REMOVAL_DATE)", unix(*p.RemovalDate))
	}
	if end, ok := firstPlayEnd(&p, t.FirstPlay); ok && !t.Now.Before(end) {
		return fail(expired, fmt.Sprintf("license expired %d s after its first play (EXPIRATION_AFTER_FIRSTPLAY)",
			*p.ExpireAfterFirstPlay), end)
	}
	if e != nil && e.Begin != 0 && t.Now.Before(unix(e.Begin)) {
		return fail(drm.ErrLicenseNotYetValid, "license not valid before its begin date (EXPIRATION begin date)", unix(e.Begin))
	}
	return nil
}

// Deadline returns the earliest moment the license stops being usable:
// the EXPIRATION end date, the removal date, or first play + the window
// when firstPlay is set. ok is false when none bounds the license (the
// first-play window of a license not yet played bounds nothing yet).
func Deadline(l *xmr.License, firstPlay time.Time) (deadline time.Time, ok bool) {
	p := l.Policy()
	earliest := func(c time.Time) {
		if !ok || c.Before(deadline) {
			deadline, ok = c, true
		}
	}
	if e := p.Expiration; e != nil && e.End != xmr.ExpirationUnlimited {
		earliest(unix(e.End))
	}
	if p.RemovalDate != nil {
		earliest(unix(*p.RemovalDate))
	}
	if end, played := firstPlayEnd(&p, firstPlay); played {
		earliest(end)
	}
	return deadline, ok
}

// Window returns the EXPIRATION object's bounds for display, UTC; nil is
// unbounded (begin 0, end [xmr.ExpirationUnlimited], or no EXPIRATION).
// [Deadline] folds in the removal date and the first-play window.
func Window(l *xmr.License) (begin, end *time.Time) {
	e := l.Policy().Expiration
	if e == nil {
		return nil, nil
	}
	if e.Begin != 0 {
		b := unix(e.Begin)
		begin = &b
	}
	if e.End != xmr.ExpirationUnlimited {
		v := unix(e.End)
		end = &v
	}
	return begin, end
}
