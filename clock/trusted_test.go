package clock_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/clock"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func reading(ms uint64, reset uint32, safe bool) clock.Reading {
	return clock.Reading{Clock: ms, ResetCount: reset, Safe: safe}
}

func TestParseKind(t *testing.T) {
	for in, want := range map[string]clock.Kind{"secure": clock.KindSecure, "anti-rollback": clock.KindAntiRollback,
		"none": clock.KindNone, " Secure ": clock.KindSecure, "ANTI-ROLLBACK": clock.KindAntiRollback} {
		got, err := clock.ParseKind(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "antirollback", "rtc", "secure clock"} {
		got, err := clock.ParseKind(in)
		require.Error(t, err, in)
		require.Empty(t, got)
		require.NotContains(t, err.Error(), in+"\"", "the error names the choices, not the input")
	}
	require.True(t, clock.KindSecure.Trusted())
	require.True(t, clock.KindAntiRollback.Trusted())
	require.False(t, clock.KindNone.Trusted())
	require.False(t, clock.Kind("other").Trusted())
}

func TestSecureNow(t *testing.T) {
	maxElapsed := uint64(math.MaxInt64 / int64(time.Millisecond))
	var safe, unsafe clock.Secure
	safe.SetFrom(t0, reading(1000, 3, true), clock.SourceLicenseServerTime)
	unsafe.SetFrom(t0, reading(1000, 3, false), clock.SourceTimeService)
	var zeroAnchor clock.Secure
	zeroAnchor.SetFrom(t0, reading(0, 3, true), clock.SourceTimeService)

	tests := []struct {
		name   string
		s      clock.Secure
		r      clock.Reading
		want   time.Time
		reason string // empty: no error
	}{
		{"never set", clock.Secure{}, reading(1000, 3, true), time.Time{}, "never set"},
		{"at the anchor", safe, reading(1000, 3, true), t0, ""},
		{"1 ms after the anchor", safe, reading(1001, 3, true), t0.Add(time.Millisecond), ""},
		{"1 ms before the anchor", safe, reading(999, 3, true), time.Time{}, "the TPM Clock is earlier than at the last sync"},
		{"one hour later", safe, reading(1000+3_600_000, 3, true), t0.Add(time.Hour), ""},
		{"restart without reset", safe, clock.Reading{Clock: 2000, ResetCount: 3, RestartCount: 9, Safe: true}, t0.Add(time.Second), ""},
		{"TPM reset", safe, reading(5000, 4, true), time.Time{}, "the TPM was reset since the last sync"},
		{"ResetCount lower", safe, reading(5000, 2, true), time.Time{}, "the TPM was reset since the last sync"},
		{"power loss (Safe = NO)", safe, reading(5000, 3, false), time.Time{}, "the TPM lost power without an orderly shutdown"},
		{"power loss and reset", safe, reading(5000, 4, false), time.Time{}, "the TPM was reset since the last sync"},
		{"unsafe anchor, still unsafe", unsafe, reading(2000, 3, false), t0.Add(time.Second), ""},
		{"unsafe anchor, safe again", unsafe, reading(2000, 3, true), t0.Add(time.Second), ""},
		{"unsafe anchor, reset", unsafe, reading(2000, 4, false), time.Time{}, "the TPM was reset since the last sync"},
		{"unsafe anchor, backwards", unsafe, reading(999, 3, false), time.Time{}, "the TPM Clock is earlier than at the last sync"},
		{"largest elapsed", zeroAnchor, reading(maxElapsed, 3, true), t0.Add(time.Duration(maxElapsed) * time.Millisecond), ""},
		{"elapsed out of range", zeroAnchor, reading(maxElapsed+1, 3, true), time.Time{},
			"the TPM Clock advanced beyond the representable range since the last sync"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.s.Now(tc.r)
			if tc.reason == "" {
				require.NoError(t, err)
				require.True(t, tc.want.Equal(got), "got %s, want %s", got, tc.want)
				return
			}
			require.ErrorIs(t, err, clock.ErrNotSet)
			require.NotErrorIs(t, err, clock.ErrRollback)
			var ns *clock.NotSetError
			require.ErrorAs(t, err, &ns)
			require.Equal(t, tc.reason, ns.Reason)
			require.Equal(t, "clock: secure clock not set: "+tc.reason, err.Error())
			require.True(t, got.IsZero())
		})
	}
}

func TestSecureSetFromAndJSON(t *testing.T) {
	var s clock.Secure
	s.SetFrom(t0.In(time.FixedZone("x", 3600)), reading(42, 7, true), clock.SourceLicenseServerTime)
	require.Equal(t, clock.Secure{Set: true, Time: t0, AnchorClock: 42, ResetCount: 7, Source: clock.SourceLicenseServerTime}, s)

	// A resync replaces the anchor: after a reset the new one counts.
	s.SetFrom(t0.Add(time.Hour), reading(10, 8, false), clock.SourceTimeService)
	got, err := s.Now(reading(1010, 8, false))
	require.NoError(t, err)
	require.Equal(t, t0.Add(time.Hour+time.Second), got)

	b, err := json.Marshal(s)
	require.NoError(t, err)
	require.JSONEq(t, `{"set":true,"time":"2026-01-01T01:00:00Z","anchor_clock_ms":10,"reset_count":8,"unsafe_anchor":true,"source":"time-service"}`, string(b))
	var back clock.Secure
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, s, back)

	b, err = json.Marshal(clock.Secure{})
	require.NoError(t, err)
	require.JSONEq(t, `{"set":false,"anchor_clock_ms":0,"reset_count":0}`, string(b))
}

// lkg is an anti-rollback clock whose last-known-good time t0 was witnessed
// at TPM Clock 1000 ms, ResetCount 3.
func lkg() clock.AntiRollback {
	return clock.AntiRollback{LastKnownGood: t0, WitnessClock: 1000, ResetCount: 3, Valid: true}
}

func TestAntiRollbackNow(t *testing.T) {
	const h = 3_600_000 // ms
	// Two hours of TPM Clock prove 2h less 1/16: 1h52m30s.
	raised := t0.Add(2*time.Hour - 2*time.Hour/clock.DriftDivisor)
	tests := []struct {
		name  string
		wall  time.Time
		r     clock.Reading
		want  time.Time // zero: rollback
		floor time.Time
	}{
		{"same time", t0, reading(1000, 3, true), t0, t0},
		{"1 s later", t0.Add(time.Second), reading(1000, 3, true), t0.Add(time.Second), t0},
		{"1 s back: the floor", t0.Add(-time.Second), reading(1000, 3, true), t0, t0},
		{"back by Tolerance-1s", t0.Add(-clock.Tolerance + time.Second), reading(1000, 3, true), t0, t0},
		{"back by exactly Tolerance", t0.Add(-clock.Tolerance), reading(1000, 3, true), t0, t0},
		{"back by Tolerance+1ms", t0.Add(-clock.Tolerance - time.Millisecond), reading(1000, 3, true), time.Time{}, t0},
		{"back by Tolerance+1s", t0.Add(-clock.Tolerance - time.Second), reading(1000, 3, true), time.Time{}, t0},
		{"back by a day", t0.Add(-24 * time.Hour), reading(1000, 3, true), time.Time{}, t0},
		{"TPM: 2h passed, wall 1h later than LKG", t0.Add(time.Hour), reading(1000+2*h, 3, true), time.Time{}, raised},
		{"TPM: 2h passed, wall at raised floor-Tolerance-1s", raised.Add(-clock.Tolerance - time.Second), reading(1000+2*h, 3, true), time.Time{}, raised},
		{"TPM: 2h passed, wall at raised floor-Tolerance", raised.Add(-clock.Tolerance), reading(1000+2*h, 3, true), raised, raised},
		{"TPM: 2h passed, wall at raised floor-Tolerance+1s", raised.Add(-clock.Tolerance + time.Second), reading(1000+2*h, 3, true), raised, raised},
		{"TPM: 2h passed, wall 2h later", t0.Add(2 * time.Hour), reading(1000+2*h, 3, true), t0.Add(2 * time.Hour), raised},
		{"TPM reset: no witness, wall 1h later", t0.Add(time.Hour), reading(1000+2*h, 4, true), t0.Add(time.Hour), t0},
		{"TPM reset: still no rollback past LKG", t0.Add(-clock.Tolerance - time.Second), reading(1000+2*h, 4, true), time.Time{}, t0},
		{"Safe = NO: no witness", t0.Add(time.Hour), reading(1000+2*h, 3, false), t0.Add(time.Hour), t0},
		{"TPM Clock below witness: no witness", t0.Add(time.Hour), reading(999, 3, true), t0.Add(time.Hour), t0},
		{"TPM Clock at witness", t0, reading(1000, 3, true), t0, t0},
		{"TPM Clock 1 ms past witness", t0, reading(1001, 3, true), t0.Add(time.Millisecond), t0.Add(time.Millisecond)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := lkg()
			require.True(t, tc.floor.Equal(a.Floor(tc.r)), "floor %s, want %s", a.Floor(tc.r), tc.floor)
			got, err := a.Now(tc.wall, tc.r)
			if tc.want.IsZero() {
				require.ErrorIs(t, err, clock.ErrRollback)
				require.NotErrorIs(t, err, clock.ErrNotSet)
				var rb *clock.RollbackError
				require.ErrorAs(t, err, &rb)
				require.True(t, rb.Wall.Equal(tc.wall))
				require.True(t, rb.Floor.Equal(tc.floor))
				require.Contains(t, err.Error(), tc.wall.UTC().Format(time.RFC3339))
				require.Contains(t, err.Error(), tc.floor.UTC().Format(time.RFC3339))
				require.True(t, got.IsZero())
				require.Equal(t, lkg(), a, "a refused wall clock changes nothing")
				return
			}
			require.NoError(t, err)
			require.True(t, tc.want.Equal(got), "got %s, want %s", got, tc.want)
			require.Equal(t, clock.AntiRollback{LastKnownGood: got, WitnessClock: tc.r.Clock, ResetCount: tc.r.ResetCount, Valid: true}, a)
		})
	}
}

func TestAntiRollbackFresh(t *testing.T) {
	var a clock.AntiRollback
	require.True(t, a.Floor(reading(5, 1, true)).IsZero())
	wall := time.Date(1999, 12, 31, 23, 59, 59, 0, time.FixedZone("y", -3600))
	got, err := a.Now(wall, reading(5, 1, false))
	require.NoError(t, err)
	require.True(t, wall.Equal(got))
	require.Equal(t, time.UTC, got.Location())
	require.Equal(t, clock.AntiRollback{LastKnownGood: wall.UTC(), WitnessClock: 5, ResetCount: 1, Valid: true}, a)

	// From then on it only moves forward.
	_, err = a.Now(wall.Add(-time.Hour), reading(6, 1, true))
	require.ErrorIs(t, err, clock.ErrRollback)
}

// TestAntiRollbackRestoredState is the "restore an old copy of the store
// with a rolled-back clock" attack: the TPM Clock witness refuses a wall
// clock that is later than the restored last-known-good time but earlier
// than the time the TPM proves has passed since.
func TestAntiRollbackRestoredState(t *testing.T) {
	a := lkg()
	old := a // the attacker's copy of the sealed state
	_, err := a.Now(t0.Add(3*time.Hour), reading(1000+3*3_600_000, 3, true))
	require.NoError(t, err)

	restored := old
	wall := t0.Add(2 * time.Hour) // later than the old LKG, earlier than LKG + TPM elapsed
	_, err = restored.Now(wall, reading(1000+3*3_600_000+60_000, 3, true))
	require.ErrorIs(t, err, clock.ErrRollback)
	require.Equal(t, old, restored)

	// The current state refuses the same wall clock on its own LKG.
	_, err = a.Now(wall, reading(1000+3*3_600_000+60_000, 3, true))
	require.ErrorIs(t, err, clock.ErrRollback)

	// Once the TPM was reset the witness is gone: only the old LKG guards,
	// which is why licenses pair end dates with begin dates.
	_, err = restored.Now(wall, reading(10, 4, true))
	require.NoError(t, err)
}

func TestAntiRollbackJSON(t *testing.T) {
	a := lkg()
	b, err := json.Marshal(a)
	require.NoError(t, err)
	require.JSONEq(t, `{"last_known_good":"2026-01-01T00:00:00Z","witness_clock_ms":1000,"reset_count":3,"valid":true}`, string(b))
	var back clock.AntiRollback
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, a, back)
	b, err = json.Marshal(clock.AntiRollback{})
	require.NoError(t, err)
	require.JSONEq(t, `{"witness_clock_ms":0,"reset_count":0,"valid":false}`, string(b))
}

func TestStatusOf(t *testing.T) {
	var sec clock.Secure
	sec.SetFrom(t0, reading(1000, 3, true), clock.SourceLicenseServerTime)
	a := lkg()
	r := reading(1500, 3, true)
	tests := []struct {
		name string
		got  clock.Status
		want string
	}{
		{"none", clock.StatusOf(clock.KindNone, &sec, &a, t0, r),
			`{"kind":"none","set":false,"now":null,"last_known_good":null,"rollback_detected":false}`},
		{"secure never set", clock.StatusOf(clock.KindSecure, nil, nil, t0, r),
			`{"kind":"secure","set":false,"now":null,"last_known_good":null,"rollback_detected":false}`},
		{"secure set (whole seconds)", clock.StatusOf(clock.KindSecure, &sec, nil, t0.Add(-time.Hour), r),
			`{"kind":"secure","set":true,"now":"2026-01-01T00:00:00Z","last_known_good":null,"rollback_detected":false}`},
		{"secure after reset", clock.StatusOf(clock.KindSecure, &sec, nil, t0, reading(1500, 4, true)),
			`{"kind":"secure","set":false,"now":null,"last_known_good":null,"rollback_detected":false}`},
		{"anti-rollback fresh", clock.StatusOf(clock.KindAntiRollback, nil, nil, t0.Add(1500*time.Millisecond), r),
			`{"kind":"anti-rollback","set":true,"now":"2026-01-01T00:00:01Z","last_known_good":null,"rollback_detected":false}`},
		{"anti-rollback forward", clock.StatusOf(clock.KindAntiRollback, nil, &a, t0.Add(time.Hour), r),
			`{"kind":"anti-rollback","set":true,"now":"2026-01-01T01:00:00Z","last_known_good":"2026-01-01T00:00:00Z","rollback_detected":false}`},
		{"anti-rollback rolled back", clock.StatusOf(clock.KindAntiRollback, nil, &a, t0.Add(-time.Hour), r),
			`{"kind":"anti-rollback","set":false,"now":null,"last_known_good":"2026-01-01T00:00:00Z","rollback_detected":true}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.got)
			require.NoError(t, err)
			require.JSONEq(t, tc.want, string(b))
		})
	}
	require.Equal(t, lkg(), a, "StatusOf does not move the clock")
}

func TestErrorsAreDistinct(t *testing.T) {
	require.False(t, errors.Is(clock.ErrNotSet, clock.ErrRollback))
	require.Equal(t, "clock: wall clock 2025-12-31T23:00:00Z is earlier than the last-known-good time 2026-01-01T00:00:00Z by more than 1m0s",
		(&clock.RollbackError{Wall: t0.Add(-time.Hour), Floor: t0}).Error())
}

func ExampleAntiRollback() {
	var a clock.AntiRollback // fresh: takes the first wall time
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	now, _ := a.Now(start, clock.Reading{Clock: 1000, ResetCount: 1, Safe: true})
	fmt.Println(now.Format(time.RFC3339))

	// The user sets the wall clock back a day: refused.
	_, err := a.Now(start.Add(-24*time.Hour), clock.Reading{Clock: 2000, ResetCount: 1, Safe: true})
	fmt.Println(errors.Is(err, clock.ErrRollback))
	// Output:
	// 2026-05-01T12:00:00Z
	// true
}

func ExampleSecure() {
	var s clock.Secure
	_, err := s.Now(clock.Reading{Clock: 1000, ResetCount: 1, Safe: true})
	fmt.Println(err)

	s.SetFrom(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC), clock.Reading{Clock: 1000, ResetCount: 1, Safe: true}, clock.SourceLicenseServerTime)
	now, _ := s.Now(clock.Reading{Clock: 61_000, ResetCount: 1, Safe: true})
	fmt.Println(now.Format(time.RFC3339))

	_, err = s.Now(clock.Reading{Clock: 500, ResetCount: 2, Safe: true})
	fmt.Println(err)
	// Output:
	// clock: secure clock not set: never set
	// 2026-05-01T12:01:00Z
	// clock: secure clock not set: the TPM was reset since the last sync
}
