package tee_test

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/clock"
	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/hal"
	"github.com/prsim/prsim/internal/pki"
	"github.com/prsim/prsim/policy"
	"github.com/prsim/prsim/ree"
	"github.com/prsim/prsim/tee"
	"github.com/prsim/prsim/wire/soap"
	"github.com/prsim/prsim/wire/xmr"
)

// clockDevice provisions an SL3000 device of version whose leaf claims
// kind, on storage (nil = a new memory storage), with wall as its HAL wall
// clock (nil = the system clock).
func clockDevice(t *testing.T, b *tee.Backend, version string, kind clock.Kind, storage tee.Storage, wall clock.Clock) (*tee.Device, tee.Storage) {
	t.Helper()
	req, err := getFixture().ProvisionRequest(3000, version)
	require.NoError(t, err)
	req.Features = ree.LeafFeatures(version, kind)
	if storage == nil {
		storage = tee.MemoryStorage()
	}
	req.Storage, req.Wall = storage, wall
	d, err := tee.Provision(b, req)
	require.NoError(t, err)
	require.Equal(t, kind, d.ClockKind())
	return d, storage
}

// syncClock sets d's secure clock to at from a statement signed with the
// fixture PKI's time-server key for a fresh nonce of d, as a time server
// answers.
func syncClock(t *testing.T, d *tee.Device, at time.Time) {
	t.Helper()
	n, err := d.NewNonce()
	require.NoError(t, err)
	ts := getFixture().PKI.TimeServer
	require.NotNil(t, ts)
	st := &soap.ServerTime{Time: at.Unix(), Nonce: n, Chain: ts.Chain.Bytes()}
	blob, err := st.Sign(pki.KeySigner{Key: ts.Key})
	require.NoError(t, err)
	got, err := d.SetSecureTime(blob, n, false)
	require.NoError(t, err)
	require.Equal(t, at.Unix(), got.Unix())
}

// advanceTo moves d's TPM Clock so that its secure time is target (up to
// the milliseconds the next call takes).
func advanceTo(t *testing.T, d *tee.Device, target time.Time) {
	t.Helper()
	now, err := d.Now()
	require.NoError(t, err)
	require.True(t, target.After(now), "target %s is not after the device time %s", target, now)
	require.NoError(t, d.AdvanceTPMClock(target.Sub(now)))
	now, err = d.Now()
	require.NoError(t, err)
	require.WithinDuration(t, target, now, 500*time.Millisecond)
}

// timeLicense is a persistent license for d with its own rights ID and the
// time policy tw sets.
func timeLicense(t *testing.T, d *tee.Device, tw func(*xmr.Template)) []byte {
	t.Helper()
	var rights [16]byte
	_, _ = rand.Read(rights[:])
	return license(t, d, licOpts{persistent: true, rights: rights, tweak: tw})
}

func u32(t time.Time) uint32 { return uint32(t.Unix()) }

func ptr[T any](v T) *T { return &v }

// mover moves a device's trusted time to an instant: the TPM Clock for a
// secure clock, the wall clock for an anti-rollback clock.
type mover func(t *testing.T, d *tee.Device, to time.Time)

// boundaryCase is one time policy, its date at t0+100 s, and the code a
// bind or play start gets on the wrong side of it.
type boundaryCase struct {
	name string
	tw   func(t0 time.Time) func(*xmr.Template)
	// validBefore: usable before the date (end dates), else after it (begin).
	validBefore bool
	code        drm.Code
	// firstPlay: the date counts from the first play, recorded at t0.
	firstPlay bool
}

func boundaryCases() []boundaryCase {
	return []boundaryCase{
		{name: "begin", code: drm.ErrLicenseNotYetValid, tw: func(t0 time.Time) func(*xmr.Template) {
			return func(m *xmr.Template) {
				m.Expiration = &xmr.Expiration{Begin: u32(t0.Add(100 * time.Second)), End: xmr.ExpirationUnlimited}
			}
		}},
		{name: "end", validBefore: true, code: drm.ErrLicenseExpired, tw: func(t0 time.Time) func(*xmr.Template) {
			return func(m *xmr.Template) { m.Expiration = &xmr.Expiration{End: u32(t0.Add(100 * time.Second))} }
		}},
		{name: "first-play", validBefore: true, firstPlay: true, code: drm.ErrLicenseExpired, tw: func(time.Time) func(*xmr.Template) {
			return func(m *xmr.Template) { m.ExpireAfterFirstPlay = ptr(uint32(100)) }
		}},
		{name: "removal-date", validBefore: true, code: drm.ErrLicenseExpired, tw: func(t0 time.Time) func(*xmr.Template) {
			return func(m *xmr.Template) { m.RemovalDate = ptr(u32(t0.Add(100 * time.Second))) }
		}},
	}
}

// runBoundary checks one policy 1 s before and 1 s after its date: the
// bind and the play start (Key.Enable) succeed on the valid side and fail
// with the case's code on the other. d's trusted time is t0.
func runBoundary(t *testing.T, c boundaryCase, t0 time.Time, d *tee.Device, move mover) {
	t.Helper()
	lic := timeLicense(t, d, c.tw(t0))
	date := t0.Add(100 * time.Second)
	usable := func(when string) {
		t.Helper()
		require.NoError(t, d.Usable(lic), when)
		k, err := d.Bind(lic)
		require.NoError(t, err, when)
		_, err = k.Enable(policy.Video, policy.StrategyBlock)
		require.NoError(t, err, when)
		require.NoError(t, k.Close())
	}
	refused := func(when string, k *tee.Key) {
		t.Helper()
		require.ErrorIs(t, d.Usable(lic), c.code, when)
		_, err := d.Bind(lic)
		require.ErrorIs(t, err, c.code, when)
		var te *policy.TimeError
		require.ErrorAs(t, err, &te, when)
		if k != nil {
			_, err = k.Enable(policy.Video, policy.StrategyBlock)
			require.ErrorIs(t, err, c.code, "play start of a key bound earlier, "+when)
			require.NoError(t, k.Close())
		}
	}
	if c.firstPlay {
		usable("first play at t0") // records the first play
	}
	if c.validBefore {
		move(t, d, date.Add(-time.Second))
		k, err := d.Bind(lic)
		require.NoError(t, err)
		usable("1 s before")
		move(t, d, date.Add(time.Second))
		refused("1 s after", k)
		return
	}
	move(t, d, date.Add(-time.Second))
	refused("1 s before", nil)
	move(t, d, date.Add(time.Second))
	usable("1 s after")
}

// Time policies at their dates on a PlayReady 4.5 secure-clock device on
// the TPM simulator: the clock is set from signed server time and moved
// with TPM2_ClockSet, no sleeping.
func TestTimePolicyBoundariesSecureClock(t *testing.T) {
	b, err := tee.OpenBackend("sim:8801")
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close()) }()
	for _, c := range boundaryCases() {
		t.Run(c.name, func(t *testing.T) {
			d, _ := clockDevice(t, b, "4.5", clock.KindSecure, nil, nil)
			t0 := time.Now().Truncate(time.Second)
			syncClock(t, d, t0)
			runBoundary(t, c, t0, d, advanceTo)
		})
	}
}

// The same on an anti-rollback device, whose time is the HAL wall clock
// the user moves (forward only).
func TestTimePolicyBoundariesAntiRollback(t *testing.T) {
	b := openSoft(t)
	for _, c := range boundaryCases() {
		t.Run(c.name, func(t *testing.T) {
			t0 := time.Now().Truncate(time.Second)
			wall := hal.NewWallClock(clock.Func(func() time.Time { return t0 }))
			d, _ := clockDevice(t, b, "4.5", clock.KindAntiRollback, nil, wall)
			now, err := d.Now()
			require.NoError(t, err)
			require.WithinDuration(t, t0, now, time.Second)
			runBoundary(t, c, t0, d, func(t *testing.T, d *tee.Device, to time.Time) {
				wall.Set(to)
				now, err := d.Now()
				require.NoError(t, err)
				require.WithinDuration(t, to, now, 200*time.Millisecond)
			})
		})
	}
}

// encrypted returns a cenc sample of the test key and its plaintext.
func encrypted(t *testing.T) (enc, clearData, iv []byte, subs []tee.Subsample) {
	t.Helper()
	clearData = make([]byte, 64)
	_, _ = rand.Read(clearData)
	iv = []byte{1, 2, 3, 4, 5, 6, 7, 8}
	enc = append([]byte(nil), clearData...)
	blk, err := aes.NewCipher(testCK[:])
	require.NoError(t, err)
	full := append(append([]byte(nil), iv...), make([]byte, 8)...)
	cipher.NewCTR(blk, full).XORKeyStream(enc, enc)
	return enc, clearData, iv, []tee.Subsample{{Protected: 64}}
}

// Real-time expiration: a key that decrypts mid-playback stops at the end
// date with DRM_E_LICENSE_REALTIME_EXPIRED and stays closed.
func TestRealTimeExpiration(t *testing.T) {
	check := func(t *testing.T, d *tee.Device, t0 time.Time, move mover) {
		lic := timeLicense(t, d, func(m *xmr.Template) {
			m.Expiration = &xmr.Expiration{End: u32(t0.Add(100 * time.Second))}
			m.RealTimeExpiration = true
		})
		move(t, d, t0.Add(98*time.Second))
		k, err := d.Bind(lic)
		require.NoError(t, err)
		_, err = k.Enable(policy.Video, policy.StrategyBlock)
		require.NoError(t, err)
		enc, clearData, iv, subs := encrypted(t)
		s := append([]byte(nil), enc...)
		require.NoError(t, k.DecryptCENC(s, iv, subs))
		require.Equal(t, clearData, s)

		move(t, d, t0.Add(101*time.Second))
		s = append([]byte(nil), enc...)
		err = k.DecryptCENC(s, iv, subs)
		require.ErrorIs(t, err, drm.ErrLicenseRealtimeExpired)
		require.Equal(t, enc, s, "nothing decrypted past the deadline")
		err = k.DecryptCENC(s, iv, subs)
		require.Error(t, err, "the key stays closed")
		require.Equal(t, enc, s)
		_, err = k.Enable(policy.Video, policy.StrategyBlock)
		require.Error(t, err, "an expired key does not play again")
	}
	t.Run("secure", func(t *testing.T) {
		b, err := tee.OpenBackend("sim:8802")
		require.NoError(t, err)
		defer func() { require.NoError(t, b.Close()) }()
		d, _ := clockDevice(t, b, "4.5", clock.KindSecure, nil, nil)
		t0 := time.Now().Truncate(time.Second)
		syncClock(t, d, t0)
		check(t, d, t0, advanceTo)
	})
	t.Run("anti-rollback", func(t *testing.T) {
		t0 := time.Now().Truncate(time.Second)
		wall := hal.NewWallClock(clock.Func(func() time.Time { return t0 }))
		d, _ := clockDevice(t, openSoft(t), "4.5", clock.KindAntiRollback, nil, wall)
		check(t, d, t0, func(t *testing.T, d *tee.Device, to time.Time) { wall.Set(to) })
	})
}

// The first play of a persistent license is durable: a reopen on the same
// storage and a restart of the TPM simulator (a new backend, as a new
// process has) still count the window from it.
func TestFirstPlaySurvivesReopenAndRestart(t *testing.T) {
	const uri = "sim:8803"
	b, err := tee.OpenBackend(uri)
	require.NoError(t, err)
	d, storage := clockDevice(t, b, "4.5", clock.KindSecure, nil, nil)
	t0 := time.Now().Truncate(time.Second)
	syncClock(t, d, t0)
	lic := timeLicense(t, d, func(m *xmr.Template) { m.ExpireAfterFirstPlay = ptr(uint32(100)) })
	k, err := d.Bind(lic)
	require.NoError(t, err)
	_, err = k.Enable(policy.Video, policy.StrategyBlock)
	require.NoError(t, err)
	require.NoError(t, k.Close())
	advanceTo(t, d, t0.Add(50*time.Second))
	require.NoError(t, d.Close())

	// Reopen in the same process, on the same TPM.
	d2, err := tee.OpenWith(b, d.State(), tee.Options{Storage: storage})
	require.NoError(t, err)
	require.NoError(t, d2.Usable(lic))
	k, err = d2.Bind(lic)
	require.NoError(t, err)
	_, err = k.Enable(policy.Video, policy.StrategyBlock)
	require.NoError(t, err, "within the window counted from t0")
	require.NoError(t, k.Close())
	advanceTo(t, d2, t0.Add(70*time.Second))
	require.NoError(t, d2.Close())
	require.NoError(t, b.Close())

	// Restart: a new simulator for the same seed, as the next process gets.
	b, err = tee.OpenBackend(uri)
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close()) }()
	d3, err := tee.OpenWith(b, d.State(), tee.Options{Storage: storage})
	require.NoError(t, err)
	now, err := d3.Now()
	require.NoError(t, err, "the secure clock survives a restart on one host boot")
	require.False(t, now.Before(t0.Add(70*time.Second)))
	require.NoError(t, d3.Usable(lic))
	advanceTo(t, d3, t0.Add(101*time.Second))
	// Had the first play been lost, the next play would start a new window.
	require.ErrorIs(t, d3.Usable(lic), drm.ErrLicenseExpired)
	_, err = d3.Bind(lic)
	require.ErrorIs(t, err, drm.ErrLicenseExpired)
}

// Without a trusted clock a device binds a license without a time policy
// and refuses one with an expiration; a secure clock never synced refuses
// it with the code its version's REE acts on.
func TestClockMissingOrNotSet(t *testing.T) {
	b := openSoft(t)
	end := func(m *xmr.Template) { m.Expiration = &xmr.Expiration{End: u32(time.Now().Add(time.Hour))} }

	none, _ := clockDevice(t, b, "4.5", clock.KindNone, nil, nil)
	k, err := none.Bind(timeLicense(t, none, nil))
	require.NoError(t, err)
	require.NoError(t, k.Close())
	_, err = none.Bind(timeLicense(t, none, end))
	require.ErrorIs(t, err, drm.ErrNoClkSupported)
	_, err = none.Now()
	require.ErrorIs(t, err, drm.ErrNoClkSupported)

	for version, code := range map[string]drm.Code{"4.3": drm.ErrClkNotSet, "4.5": drm.ErrSecureTimeClockNotSet} {
		d, _ := clockDevice(t, b, version, clock.KindSecure, nil, nil)
		lic := timeLicense(t, d, end)
		_, err := d.Bind(lic)
		require.ErrorIs(t, err, code, version)
		var ce *tee.ClockError
		require.ErrorAs(t, err, &ce, version)
		require.Contains(t, err.Error(), "not set", version)
		require.ErrorIs(t, d.Usable(lic), code, version)
		_, err = d.Now()
		require.ErrorIs(t, err, drm.ErrTEEClockNotSet, version)
		st, err := d.ClockStatus()
		require.NoError(t, err)
		require.False(t, st.Set)
		k, err := d.Bind(timeLicense(t, d, nil))
		require.NoError(t, err, "%s: a license without a time policy needs no clock", version)
		require.NoError(t, k.Close())

		syncClock(t, d, time.Now())
		k, err = d.Bind(lic)
		require.NoError(t, err, "%s: binds once synced", version)
		require.NoError(t, k.Close())
	}
}
