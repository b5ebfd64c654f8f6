package ree_test

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/clock"
	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/fixture"
	"github.com/prsim/prsim/internal/keyseed"
	"github.com/prsim/prsim/internal/testmedia"
	"github.com/prsim/prsim/licsrv"
	"github.com/prsim/prsim/ree"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/pro"
)

// startServer starts the fixture's reference server; lst turns License
// Server Time (and the secure time endpoint) on.
func startServer(t *testing.T, lst bool) *fixture.Server {
	t.Helper()
	fx := testFixture()
	cfg := licsrv.Config{}
	if lst {
		cfg = licsrv.Config{LicenseServerTime: true, TimeChain: fx.PKI.TimeServer.Chain, TimeKey: fx.PKI.TimeServer.Key}
	}
	s, err := fx.StartServer(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// secureDevice provisions a PlayReady 4.5 SL3000 device with a secure
// clock in dir.
func secureDevice(t *testing.T, dir string) *ree.Device {
	t.Helper()
	d, err := testFixture().NewDevice(dir, fixture.Device{SecurityLevel: 3000, Version: "4.5", Clock: clock.KindSecure})
	require.NoError(t, err)
	require.Equal(t, clock.KindSecure, d.Clock)
	require.True(t, d.TEE.Persona().LicenseServerTime())
	return d
}

// timeLimited is the cfg of a persistent license valid from an hour ago
// for a day. The begin date is explicit: the server's default (the
// client's wall time) can be a second ahead of a secure clock set from
// whole-second server time.
func timeLimited(laURL string) string {
	const f = "20060102150405"
	now := time.Now().UTC()
	return laURL + "?cfg=(persist:true,begindate:" + now.Add(-time.Hour).Format(f) + ",enddate:" + now.Add(24*time.Hour).Format(f) + ")"
}

func requireReason(t *testing.T, lt ree.LicenseTimes, code drm.Code) {
	t.Helper()
	require.False(t, lt.UsableNow)
	require.NotNil(t, lt.UnusableReason)
	require.Equal(t, code.String(), *lt.UnusableReason)
}

// License Server Time: a new 4.5 secure device has no time, so a
// time-limited license is unusable with DRM_E_SECURETIME_CLOCK_NOT_SET
// (the cue for a clock sync); the clock-sync acquisition sets the clock
// and the license then binds. Acquiring from a License Server Time server
// does both at once.
func TestLicenseServerTimeSync(t *testing.T) {
	ctx := context.Background()
	lst, plain := startServer(t, true), startServer(t, false)
	d := secureDevice(t, filepath.Join(t.TempDir(), "dev"))
	defer d.Close()
	st, err := d.TEE.ClockStatus()
	require.NoError(t, err)
	require.False(t, st.Set)

	// A server without License Server Time: the bind is refused and the
	// sync the REE tries after it finds no time.
	res, err := d.Client.Acquire(ctx, header(t, plain.LAURL, videoKID), timeLimited(plain.LAURL))
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.False(t, res[0].Bound)
	require.ErrorIs(t, res[0].Err, drm.ErrSecureTimeClockNotSet)
	require.Contains(t, res[0].Err.Error(), "the clock sync that followed failed")
	require.Contains(t, res[0].Err.Error(), "sent no signed time")
	lic := res[0].XMR
	requireReason(t, d.Client.LicenseTimes(lic), drm.ErrSecureTimeClockNotSet)
	require.ErrorIs(t, d.TEE.Usable(lic), drm.ErrSecureTimeClockNotSet)
	_, err = d.Client.Key(videoKID)
	require.ErrorIs(t, err, drm.ErrLicenseNotFound, "a license that did not bind is not stored")

	cs, err := d.Client.SyncClock(ctx, lst.LAURL)
	require.NoError(t, err)
	require.Equal(t, ree.SyncLicenseServerTime, cs.Method)
	require.NotNil(t, cs.Time)
	require.WithinDuration(t, time.Now(), *cs.Time, time.Minute)
	require.True(t, cs.Status.Set)

	lt := d.Client.LicenseTimes(lic)
	require.True(t, lt.UsableNow, "%s", lt.Why)
	r := d.Client.BindLicense(lic)
	require.NoError(t, r.Err)
	require.True(t, r.Bound)
	k, err := d.Client.Key(videoKID)
	require.NoError(t, err)
	require.Equal(t, videoKID, k.KID())

	// A second new device acquiring from the License Server Time server
	// takes the time from the response and binds at once.
	d2 := secureDevice(t, filepath.Join(t.TempDir(), "dev2"))
	defer d2.Close()
	res, err = d2.Client.Acquire(ctx, header(t, lst.LAURL, videoKID), timeLimited(lst.LAURL))
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.NoError(t, res[0].Err)
	require.True(t, res[0].Bound)
	st, err = d2.TEE.ClockStatus()
	require.NoError(t, err)
	require.True(t, st.Set)
}

// syncByTimeService sets d's secure clock from the secure time endpoint,
// as a device that does not take License Server Time does.
func syncByTimeService(t *testing.T, d *ree.Device, s *fixture.Server) {
	t.Helper()
	n, err := d.TEE.NewNonce()
	require.NoError(t, err)
	resp, err := http.Get(s.Base + ree.TimePath + "?nonce=" + hex.EncodeToString(n[:]))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	blob, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	_, err = d.TEE.SetSecureTime(blob, n, false)
	require.NoError(t, err)
}

// staleLicense makes the MUST_REACQUIRE situation in dir: a 4.5 secure
// device synced from the time service stores a time-limited license from
// a server without License Server Time, then acquires from one with it.
// The device is reopened (a new session, as a new process) and returned
// with the stale license.
func staleLicense(t *testing.T, dir string, lst, plain *fixture.Server, audio kid.ID) (*ree.Device, []byte) {
	t.Helper()
	ctx := context.Background()
	d := secureDevice(t, dir)
	syncByTimeService(t, d, lst)
	res, err := d.Client.Acquire(ctx, header(t, plain.LAURL, videoKID), timeLimited(plain.LAURL))
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.NoError(t, res[0].Err)
	require.True(t, res[0].Persistent)
	stale := res[0].XMR
	require.True(t, d.Client.LicenseTimes(stale).UsableNow)

	res, err = d.Client.Acquire(ctx, header(t, lst.LAURL, audio), "")
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.NoError(t, res[0].Err)
	require.ErrorIs(t, d.TEE.Usable(stale), drm.ErrLicenseServerTimeMustReacquireLicense)
	requireReason(t, d.Client.LicenseTimes(stale), drm.ErrLicenseServerTimeMustReacquireLicense)
	require.NoError(t, d.Close())

	d, err = ree.OpenDevice(dir)
	require.NoError(t, err)
	t.Cleanup(func() { d.Close() })
	require.ErrorIs(t, d.TEE.Usable(stale), drm.ErrLicenseServerTimeMustReacquireLicense, "the record survives a reopen")
	return d, stale
}

// storedXMR lists the stored licenses' XMR for id.
func storedXMR(t *testing.T, d *ree.Device, id kid.ID) [][]byte {
	t.Helper()
	ls, err := d.Client.StoredLicenses()
	require.NoError(t, err)
	var out [][]byte
	for _, l := range ls {
		if l.KID == id {
			out = append(out, l.XMR)
		}
	}
	return out
}

// A persistent time-limited license stored before the device first took
// License Server Time must be re-acquired
// (DRM_E_LICENSESERVERTIME_MUST_REACQUIRE_LICENSE): Key refuses it and
// deletes it; Play re-acquires it.
func TestLicenseServerTimeMustReacquire(t *testing.T) {
	lst, plain := startServer(t, true), startServer(t, false)
	audio := kid.MustParse("20000000-2000-2000-2000-200000000002")

	t.Run("key", func(t *testing.T) {
		d, stale := staleLicense(t, filepath.Join(t.TempDir(), "dev"), lst, plain, audio)
		require.Equal(t, [][]byte{stale}, storedXMR(t, d, videoKID))
		_, err := d.Client.Key(videoKID)
		require.ErrorIs(t, err, drm.ErrLicenseServerTimeMustReacquireLicense)
		require.Empty(t, storedXMR(t, d, videoKID), "the stale license is deleted")
		_, err = d.Client.Key(videoKID)
		require.ErrorIs(t, err, drm.ErrLicenseNotFound)
	})
	t.Run("play", func(t *testing.T) {
		d, stale := staleLicense(t, filepath.Join(t.TempDir(), "dev"), lst, plain, audio)
		vk, err := keyseed.Derive(keyseed.TestSeed(), videoKID)
		require.NoError(t, err)
		ak, err := keyseed.Derive(keyseed.TestSeed(), audio)
		require.NoError(t, err)
		c, err := testmedia.Generate(testmedia.Options{Dir: t.TempDir(), Scheme: "cenc", Segments: 1,
			Video: testmedia.Track{KID: videoKID, Key: vk}, Audio: testmedia.Track{KID: audio, Key: ak}, LAURL: lst.LAURL, Seed: 9})
		require.NoError(t, err)
		tracks, err := d.Client.Play(context.Background(), c.MPD, t.TempDir(), timeLimited(lst.LAURL))
		require.NoError(t, err)
		require.Len(t, tracks, 2)
		got := storedXMR(t, d, videoKID)
		require.Len(t, got, 1, "the stale license is replaced")
		require.NotEqual(t, stale, got[0])
		require.True(t, d.Client.LicenseTimes(got[0]).UsableNow)
	})
}

// TestServerURLRefusalsCarryCode: a URL the client cannot send to is
// refused with a code and a reason, without quoting the URL (its query may
// carry secrets), on every path: license acquisition, clock sync by the
// secure time endpoint, and secure-stop send.
func TestServerURLRefusalsCarryCode(t *testing.T) {
	t.Parallel()
	d, err := testFixture().NewDevice(filepath.Join(t.TempDir(), "dev"),
		fixture.Device{SecurityLevel: 3000, Version: "4.3", Clock: clock.KindSecure})
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	require.False(t, d.TEE.Persona().LicenseServerTime(), "a 4.3 device syncs by the time service")
	const bad = "ftp://example.test/x?cfg=secret"
	_, err = d.Client.SyncClock(context.Background(), bad)
	require.ErrorIs(t, err, drm.ErrSOAPXMLDataNotFound)
	require.ErrorContains(t, err, "time server URL")
	require.NotContains(t, err.Error(), "secret")
	h := &pro.Header{Version: pro.Version43, LAURL: bad}
	_, err = d.Client.Acquire(context.Background(), h, "")
	require.ErrorIs(t, err, drm.ErrSOAPXMLDataNotFound)
	require.ErrorContains(t, err, "license URL")
	require.NotContains(t, err.Error(), "secret")
}
