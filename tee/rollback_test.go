package tee_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/clock"
	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/hal"
	"github.com/prsim/prsim/internal/swtpmtest"
	"github.com/prsim/prsim/tee"
	"github.com/prsim/prsim/wire/xmr"
)

// Attack: the user sets the wall clock back two hours after a bind, to
// stretch a license. The anti-rollback clock refuses the time
// (DRM_E_TEE_CLOCK_DRIFTED) and the status says so; set forward again,
// the license is usable.
func TestWallClockSetBack(t *testing.T) {
	t0 := time.Now().Truncate(time.Second)
	wall := hal.NewWallClock(clock.Func(func() time.Time { return t0 }))
	d, _ := clockDevice(t, openSoft(t), "4.5", clock.KindAntiRollback, nil, wall)
	lic := timeLicense(t, d, func(m *xmr.Template) {
		m.Expiration = &xmr.Expiration{Begin: u32(t0.Add(-24 * time.Hour)), End: u32(t0.Add(24 * time.Hour))}
	})
	k, err := d.Bind(lic)
	require.NoError(t, err)
	require.NoError(t, k.Close())

	wall.Advance(-2 * time.Hour)
	_, err = d.Bind(lic)
	require.ErrorIs(t, err, drm.ErrTEEClockDrifted)
	var ce *tee.ClockError
	require.ErrorAs(t, err, &ce)
	require.Contains(t, err.Error(), "set back")
	require.ErrorIs(t, d.Usable(lic), drm.ErrTEEClockDrifted)
	_, err = d.Now()
	require.ErrorIs(t, err, drm.ErrTEEClockDrifted)
	st, err := d.ClockStatus()
	require.NoError(t, err)
	require.True(t, st.RollbackDetected)
	require.False(t, st.Set)
	require.NotNil(t, st.LastKnownGood)
	require.WithinDuration(t, t0, *st.LastKnownGood, time.Second)

	wall.Advance(2 * time.Hour)
	require.NoError(t, d.Usable(lic))
	k, err = d.Bind(lic)
	require.NoError(t, err)
	require.NoError(t, k.Close())
	st, err = d.ClockStatus()
	require.NoError(t, err)
	require.False(t, st.RollbackDetected)
	require.True(t, st.Set)
}

// Attack on a device whose generation counter cannot catch a restored
// state (the simulator keeps no NV beyond the process): the old TEE state
// comes back with the wall clock set back. The license's begin date and
// the TPM Clock's witness bound what that unlocks: before begin it is not
// yet valid; inside [begin, end) but below the last-known-good time plus
// the TPM time elapsed since, the clock is refused as drifted.
func TestRestoredStateAndRolledBackClock(t *testing.T) {
	b, err := tee.OpenBackend("sim:8804")
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close()) }()
	t0 := time.Now().Truncate(time.Second)
	wall := hal.NewWallClock(clock.Func(func() time.Time { return t0 }))
	d, storage := clockDevice(t, b, "4.5", clock.KindAntiRollback, nil, wall)
	require.False(t, d.RollbackProtected())
	_, err = d.Now()
	require.NoError(t, err)
	require.NoError(t, d.Close())
	old, err := storage.ReadSealed() // the attacker's copy: last-known-good t0
	require.NoError(t, err)

	lic := timeLicense(t, d, func(m *xmr.Template) {
		m.Expiration = &xmr.Expiration{Begin: u32(t0.Add(time.Hour)), End: u32(t0.Add(3 * time.Hour))}
	})
	// Two hours pass (on the wall clock and the TPM Clock); the license
	// is used, then the end date passes.
	wall.Set(t0.Add(2 * time.Hour))
	require.NoError(t, d.AdvanceTPMClock(2*time.Hour))
	k, err := d.Bind(lic)
	require.NoError(t, err)
	require.NoError(t, k.Close())
	wall.Set(t0.Add(3*time.Hour + time.Minute))
	require.ErrorIs(t, d.Usable(lic), drm.ErrLicenseExpired)
	require.NoError(t, d.Close())

	// The store copied back opens: nothing can tell it from the original.
	require.NoError(t, storage.WriteSealed(old))
	d2, err := tee.OpenWith(b, d.State(), tee.Options{Storage: storage, Wall: wall})
	require.NoError(t, err)
	require.False(t, d2.RollbackProtected())

	// Set back before the begin date: the pairing refuses it.
	wall.Set(t0.Add(30 * time.Minute))
	_, err = d2.Bind(lic)
	require.ErrorIs(t, err, drm.ErrLicenseNotYetValid)

	// The restored state's TPM Clock counts on from the copy (in one
	// process of one host boot, the host's boot clock; the time it runs
	// meanwhile is stood in for by a TPM2_ClockSet): two hours pass.
	require.NoError(t, d2.AdvanceTPMClock(2*time.Hour))
	wall.Set(t0.Add(90 * time.Minute)) // inside [begin, end)
	_, err = d2.Bind(lic)
	require.ErrorIs(t, err, drm.ErrTEEClockDrifted, "the TPM witness proves more time passed than the wall clock claims")
	require.ErrorIs(t, d2.Usable(lic), drm.ErrTEEClockDrifted)
	st, err := d2.ClockStatus()
	require.NoError(t, err)
	require.True(t, st.RollbackDetected)
}

// A TPM power loss without an orderly shutdown, or a TPM reset, makes the
// secure clock ask for a resync: the TPM Clock may have gone back. An
// orderly close and a new swtpm launch on the same state keep it set.
func TestSecureClockAcrossTPMPowerEvents(t *testing.T) {
	swtpmtest.Need(t)
	uri := "swtpm:" + filepath.Join(t.TempDir(), "tpm")
	b, err := tee.OpenBackend(uri)
	require.NoError(t, err)
	d, storage := clockDevice(t, b, "4.5", clock.KindSecure, nil, nil)
	require.True(t, d.RollbackProtected())
	t0 := time.Now().Truncate(time.Second)
	lic := timeLicense(t, d, func(m *xmr.Template) { m.Expiration = &xmr.Expiration{End: u32(t0.Add(24 * time.Hour))} })
	needsResync := func(event string) {
		t.Helper()
		_, err := d.Now()
		require.ErrorIs(t, err, drm.ErrTEEClockNotSet, event)
		_, err = d.Bind(lic)
		require.ErrorIs(t, err, drm.ErrSecureTimeClockNotSet, event)
		st, err := d.ClockStatus()
		require.NoError(t, err)
		require.False(t, st.Set, event)
	}
	works := func(event string) {
		t.Helper()
		_, err := d.Now()
		require.NoError(t, err, event)
		k, err := d.Bind(lic)
		require.NoError(t, err, event)
		require.NoError(t, k.Close())
	}

	syncClock(t, d, t0)
	works("synced")
	require.NoError(t, tee.PowerCutBackend(b))
	needsResync("power cut")
	syncClock(t, d, t0.Add(time.Minute))
	works("resynced after the power cut")

	require.NoError(t, tee.RebootBackend(b))
	needsResync("reboot")
	syncClock(t, d, t0.Add(2*time.Minute))
	works("resynced after the reboot")
	before, err := d.Now()
	require.NoError(t, err)

	require.NoError(t, d.Close())
	require.NoError(t, b.Close())
	b, err = tee.OpenBackend(uri)
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close()) }()
	d, err = tee.OpenWith(b, d.State(), tee.Options{Storage: storage})
	require.NoError(t, err)
	works("after an orderly close and a new swtpm launch")
	now, err := d.Now()
	require.NoError(t, err)
	require.False(t, now.Before(before), "the clock runs on from the last sync")
	require.WithinDuration(t, before, now, time.Minute)
}
