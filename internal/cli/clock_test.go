package cli

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/clock"
	"github.com/prsim/prsim/ree"
)

func TestParseSetTime(t *testing.T) {
	t.Parallel()
	at, by, err := parseSetTime("2030-01-02T03:04:05Z")
	require.NoError(t, err)
	require.Equal(t, time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), at.UTC())
	require.Zero(t, by)

	at, by, err = parseSetTime("-2h30m")
	require.NoError(t, err)
	require.True(t, at.IsZero())
	require.Equal(t, -150*time.Minute, by)

	_, by, err = parseSetTime("+90s")
	require.NoError(t, err)
	require.Equal(t, 90*time.Second, by)

	for _, bad := range []string{"", "now", "+2 hours", "-x", "2031-05-06", "0001-01-01T00:00:00Z"} {
		_, _, err := parseSetTime(bad)
		require.Error(t, err, bad)
		require.True(t, errors.As(err, new(usageError)), bad)
		if bad != "" {
			require.NotContains(t, err.Error(), bad, "the value is not echoed")
		}
	}
}

func TestTimesText(t *testing.T) {
	t.Parallel()
	require.Empty(t, timesText(ree.LicenseTimes{UsableNow: true}), "no dates, usable: nothing to say")

	end := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	fp := uint32(60)
	code := "DRM_E_LICENSE_EXPIRED (0x8004C009)"
	got := timesText(ree.LicenseTimes{End: &end, FirstPlayExpiryS: &fp, RealTimeExpiration: true, UnusableReason: &code,
		Why: "tee: policy: license expired (EXPIRATION end date) at 2030-01-01T00:00:00Z; device time 2030-01-01T00:00:01Z: " + code})
	require.Equal(t, "end=2030-01-01T00:00:00Z first_play_expiry=60s real_time_expiration unusable now: "+code+
		" (license expired (EXPIRATION end date) at 2030-01-01T00:00:00Z; device time 2030-01-01T00:00:01Z)", got)
	require.Equal(t, 1, strings.Count(got, code), "the code is said once")

	require.Equal(t, "end=2030-01-01T00:00:00Z usable now", timesText(ree.LicenseTimes{End: &end, UsableNow: true}))
}

func TestClockText(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	require.Equal(t, "clock none: no trusted clock (time-based licenses do not bind)", clockText(clock.Status{Kind: clock.KindNone}))
	require.Equal(t, "clock secure: not set", clockText(clock.Status{Kind: clock.KindSecure}))
	require.Equal(t, "clock secure: set, now 2030-01-01T00:00:00Z", clockText(clock.Status{Kind: clock.KindSecure, Set: true, Now: &now}))
	got := clockText(clock.Status{Kind: clock.KindAntiRollback, LastKnownGood: &now, RollbackDetected: true})
	require.Contains(t, got, "not set, last known good 2030-01-01T00:00:00Z")
	require.Contains(t, got, "ROLLBACK DETECTED")
}
