package main

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// clockStatusOut is the JSON of prsim clock status.
type clockStatusOut struct {
	Kind             string     `json:"kind"`
	Set              bool       `json:"set"`
	Now              *time.Time `json:"now"`
	LastKnownGood    *time.Time `json:"last_known_good"`
	RollbackDetected bool       `json:"rollback_detected"`
}

// timedLicenseOut is a license of acquire / list JSON with its time fields.
type timedLicenseOut struct {
	KID                string     `json:"kid"`
	Bound              bool       `json:"bound"`
	Begin              *time.Time `json:"begin"`
	End                *time.Time `json:"end"`
	FirstPlayExpiryS   *uint32    `json:"first_play_expiry_s"`
	RealTimeExpiration bool       `json:"real_time_expiration"`
	UsableNow          bool       `json:"usable_now"`
	UnusableReason     *string    `json:"unusable_reason"`
}

type timedLicensesOut struct {
	Licenses []timedLicenseOut `json:"licenses"`
	Error    *string           `json:"error"`
}

// cfgDate is a cfg= date (yyyymmddhhmmss, GMT).
func cfgDate(t time.Time) string { return t.UTC().Format("20060102150405") }

func newDeviceClock(t *testing.T, pkiDir, backend, kind string, extra ...string) string {
	t.Helper()
	dev := filepath.Join(t.TempDir(), "dev")
	ok(t, append([]string{"device", "new", "--pki", pkiDir, "--dir", dev, "--sl", "3000", "--tpm", backend, "--clock", kind}, extra...)...)
	return dev
}

// TestDeviceClockFlag: --clock reaches the leaf and device info; a device
// whose TPM lives in its directory says it cannot detect a rollback.
func TestDeviceClockFlag(t *testing.T) {
	t.Parallel()
	pkiDir := newPKI(t)
	type infoOut struct {
		Clock              string   `json:"clock"`
		RollbackProtection *bool    `json:"rollback_protection"`
		Features           []uint32 `json:"features"`
	}
	for kind, feature := range map[string]uint32{"secure": 4, "anti-rollback": 5, "none": 0} {
		dev := newDeviceClock(t, pkiDir, "sim", kind)
		var info infoOut
		okJSON(t, &info, "device", "info", "--dir", dev, "--json")
		require.Equal(t, kind, info.Clock)
		require.NotNil(t, info.RollbackProtection)
		require.False(t, *info.RollbackProtection, "sim keeps its TPM state in the device directory")
		if feature != 0 {
			require.Contains(t, info.Features, feature)
		} else {
			require.NotContains(t, info.Features, uint32(4))
			require.NotContains(t, info.Features, uint32(5))
		}
	}

	t.Run("default-is-anti-rollback", func(t *testing.T) {
		dev := newDevice(t, pkiDir, 2000, "soft")
		var info infoOut
		okJSON(t, &info, "device", "info", "--dir", dev, "--json")
		require.Equal(t, "anti-rollback", info.Clock)
		out := ok(t, "device", "info", "--dir", dev)
		require.Contains(t, out, "trusted clock: anti-rollback")
		require.Contains(t, out, "rollback protection: NONE")
	})

	t.Run("bad-clock-is-usage-error", func(t *testing.T) {
		r := run(t, "device", "new", "--pki", pkiDir, "--dir", filepath.Join(t.TempDir(), "d"), "--sl", "2000", "--tpm", "soft", "--clock", "sundial", "--json")
		f := failed(t, r, 1)
		require.Contains(t, *f.Error, "--clock must be")
	})
}

// TestWallClockRollback: an anti-rollback device binds a persistent
// license with an end date; the user sets the wall clock back 2 h and play
// is refused with DRM_E_TEE_CLOCK_DRIFTED; clock status reports the
// rollback; set forward again, the license plays.
func TestWallClockRollback(t *testing.T) {
	t.Parallel()
	pkiDir := newPKI(t)
	base := startServer(t, pkiDir)
	laURL := base + "/rightsmanager.asmx"
	c := genContent(t, "cenc", 81, laURL)
	dev := newDeviceClock(t, pkiDir, "sim", "anti-rollback")
	end := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
	licURL := laURL + "?cfg=" + url.QueryEscape(fmt.Sprintf("(persist:true,enddate:%s)", cfgDate(end)))

	var acq timedLicensesOut
	okJSON(t, &acq, "license", "acquire", "--dev", dev, "--mpd", c.MPD, "--url", licURL, "--json")
	require.NotEmpty(t, acq.Licenses)
	for _, l := range acq.Licenses {
		require.True(t, l.Bound, l.KID)
		require.NotNil(t, l.End, l.KID)
		require.True(t, l.End.Equal(end), "%s: end %s, want %s", l.KID, l.End, end)
		require.NotNil(t, l.Begin, "the server pairs an end date with a begin date")
		require.True(t, l.Begin.Before(end))
		require.Nil(t, l.FirstPlayExpiryS)
		require.True(t, l.UsableNow)
		require.Nil(t, l.UnusableReason)
	}
	play := func() result {
		return run(t, "play", "--dev", dev, "--mpd", c.MPD, "--out", filepath.Join(t.TempDir(), "out"), "--url", licURL, "--json")
	}
	r := play()
	require.Equal(t, 0, r.code, "%s", r)

	var wc struct {
		WallClock string `json:"wall_clock"`
		OffsetS   int64  `json:"offset_s"`
	}
	okJSON(t, &wc, "device", "set-time", "--dev", dev, "--time", "-2h", "--json")
	require.InDelta(t, -7200, wc.OffsetS, 2)
	at, err := time.Parse(time.RFC3339, wc.WallClock)
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(-2*time.Hour), at, time.Minute)

	r = play()
	require.Equal(t, 2, r.code, "%s", r)
	var p policyPlayOut
	decode(t, r, &p)
	require.NotNil(t, p.Error)
	require.Contains(t, *p.Error, "DRM_E_TEE_CLOCK_DRIFTED")
	require.NotNil(t, p.Detail, "a refusal says why")
	require.Contains(t, r.stderr, "DRM_E_TEE_CLOCK_DRIFTED")

	var st clockStatusOut
	okJSON(t, &st, "clock", "status", "--dev", dev, "--json")
	require.Equal(t, "anti-rollback", st.Kind)
	require.True(t, st.RollbackDetected)
	require.NotNil(t, st.LastKnownGood)
	require.Contains(t, ok(t, "clock", "status", "--dev", dev), "ROLLBACK DETECTED")

	var list timedLicensesOut
	okJSON(t, &list, "license", "list", "--dev", dev, "--json")
	require.NotEmpty(t, list.Licenses)
	for _, l := range list.Licenses {
		require.False(t, l.UsableNow, l.KID)
		require.NotNil(t, l.UnusableReason)
		require.Contains(t, *l.UnusableReason, "DRM_E_TEE_CLOCK_DRIFTED")
	}

	okJSON(t, &wc, "device", "set-time", "--dev", dev, "--time", time.Now().UTC().Format(time.RFC3339), "--json")
	require.InDelta(t, 0, wc.OffsetS, 5)
	okJSON(t, &st, "clock", "status", "--dev", dev, "--json")
	require.False(t, st.RollbackDetected)
	require.True(t, st.Set)
	r = play()
	require.Equal(t, 0, r.code, "%s", r)

	// The TPM Clock witnesses the time passed: moved forward alone, it
	// makes the wall clock look set back until that moves as far.
	var adv struct {
		AdvancedS int64          `json:"advanced_s"`
		Clock     clockStatusOut `json:"clock"`
	}
	okJSON(t, &adv, "device", "advance-tpm-clock", "--dev", dev, "--by", "48h", "--json")
	require.Equal(t, int64(48*3600), adv.AdvancedS)
	require.True(t, adv.Clock.RollbackDetected)
	require.False(t, adv.Clock.Set)
	okJSON(t, &wc, "device", "set-time", "--dev", dev, "--time", "+48h", "--json")
	okJSON(t, &st, "clock", "status", "--dev", dev, "--json")
	require.False(t, st.RollbackDetected)
	require.NotNil(t, st.Now)
	require.WithinDuration(t, time.Now().Add(48*time.Hour), *st.Now, time.Minute)

	t.Run("bad-time-is-usage-error", func(t *testing.T) {
		for _, v := range []string{"yesterday", "+2 hours", "2030-13-01T00:00:00Z"} {
			r := run(t, "device", "set-time", "--dev", dev, "--time", v, "--json")
			f := failed(t, r, 1)
			require.Contains(t, *f.Error, "--time")
			require.NotContains(t, r.stderr, v, "the bad value is not echoed")
		}
	})
}

// TestSecureClockCLI: a PlayReady 4.5 secure-clock device syncs through
// License Server Time (also without --url, from the server it knows),
// binds a license with an end date, and the TPM Clock moved past it makes
// the license unusable.
func TestSecureClockCLI(t *testing.T) {
	t.Parallel()
	pkiDir := newPKI(t)
	base := startServerArgs(t, pkiDir, "--license-server-time")
	laURL := base + "/rightsmanager.asmx"
	c := genContent(t, "cenc", 82, laURL)
	dev := newDeviceClock(t, pkiDir, "sim", "secure", "--version", "4.5")

	var st clockStatusOut
	okJSON(t, &st, "clock", "status", "--dev", dev, "--json")
	require.Equal(t, clockStatusOut{Kind: "secure"}, st, "a new secure clock is not set")

	t.Run("sync-without-url-needs-a-known-server", func(t *testing.T) {
		d := newDeviceClock(t, pkiDir, "sim", "secure", "--version", "4.5")
		r := run(t, "clock", "sync", "--dev", d, "--json")
		f := failed(t, r, 1)
		require.Contains(t, *f.Error, "--url is required")
	})

	type syncOut struct {
		Method string         `json:"method"`
		Time   *time.Time     `json:"time"`
		Status clockStatusOut `json:"status"`
	}
	var s syncOut
	okJSON(t, &s, "clock", "sync", "--dev", dev, "--url", laURL, "--json")
	require.Equal(t, "license-server-time", s.Method)
	require.NotNil(t, s.Time)
	require.WithinDuration(t, time.Now(), *s.Time, time.Minute)
	require.True(t, s.Status.Set)

	end := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	licURL := laURL + "?cfg=" + url.QueryEscape(fmt.Sprintf("(persist:true,enddate:%s)", cfgDate(end)))
	var acq timedLicensesOut
	okJSON(t, &acq, "license", "acquire", "--dev", dev, "--mpd", c.MPD, "--url", licURL, "--json")
	require.NotEmpty(t, acq.Licenses)
	for _, l := range acq.Licenses {
		require.True(t, l.Bound)
		require.True(t, l.UsableNow)
	}
	// The store now knows one server: sync finds it without --url.
	okJSON(t, &s, "clock", "sync", "--dev", dev, "--json")
	require.Equal(t, "license-server-time", s.Method)

	var adv struct {
		AdvancedS int64          `json:"advanced_s"`
		Clock     clockStatusOut `json:"clock"`
	}
	okJSON(t, &adv, "device", "advance-tpm-clock", "--dev", dev, "--by", "2h", "--json")
	require.Equal(t, int64(7200), adv.AdvancedS)
	require.True(t, adv.Clock.Set)
	require.NotNil(t, adv.Clock.Now)
	require.WithinDuration(t, time.Now().Add(2*time.Hour), *adv.Clock.Now, time.Minute)

	var list timedLicensesOut
	okJSON(t, &list, "license", "list", "--dev", dev, "--json")
	require.NotEmpty(t, list.Licenses)
	for _, l := range list.Licenses {
		require.NotNil(t, l.End)
		require.True(t, l.End.Equal(end))
		require.False(t, l.UsableNow)
		require.NotNil(t, l.UnusableReason)
		require.Contains(t, *l.UnusableReason, "DRM_E_LICENSE_EXPIRED")
	}
	out := ok(t, "license", "list", "--dev", dev)
	require.Contains(t, out, "unusable now: DRM_E_LICENSE_EXPIRED")

	t.Run("negative-advance-refused", func(t *testing.T) {
		r := run(t, "device", "advance-tpm-clock", "--dev", dev, "--by", "-1h", "--json")
		f := failed(t, r, 1)
		require.Contains(t, *f.Error, "only moves forward")
	})
}

// TestClockSyncRefusals: a device without a trusted clock cannot sync; an
// anti-rollback clock takes no server time.
func TestClockSyncRefusals(t *testing.T) {
	t.Parallel()
	pkiDir := newPKI(t)
	base := startServer(t, pkiDir)
	laURL := base + "/rightsmanager.asmx"

	none := newDeviceClock(t, pkiDir, "soft", "none")
	r := run(t, "clock", "sync", "--dev", none, "--url", laURL, "--json")
	f := failed(t, r, 2)
	require.True(t, strings.HasPrefix(*f.Error, "DRM_E_NO_CLK_SUPPORTED"), f.Error)
	require.NotNil(t, f.Detail)

	var st clockStatusOut
	okJSON(t, &st, "clock", "status", "--dev", none, "--json")
	require.Equal(t, clockStatusOut{Kind: "none"}, st)

	ar := newDeviceClock(t, pkiDir, "soft", "anti-rollback")
	var s struct {
		Method string          `json:"method"`
		Time   *time.Time      `json:"time"`
		Status *clockStatusOut `json:"status"`
	}
	okJSON(t, &s, "clock", "sync", "--dev", ar, "--url", laURL, "--json")
	require.Equal(t, "none", s.Method)
	require.Nil(t, s.Time)
	require.NotNil(t, s.Status)
	require.Equal(t, "anti-rollback", s.Status.Kind)

	r = run(t, "clock", "status", "--dev", filepath.Join(t.TempDir(), "nodev"), "--json")
	require.Equal(t, 1, r.code, "%s", r)
}

// TestStoreRollbackCLI: with the swtpm state outside the device directory,
// device info claims rollback protection, and a store.db copied back
// after an acquisition is refused with a clear report (exit 1, as an
// edited device.json); inside the directory, device info says it cannot
// tell.
func TestStoreRollbackCLI(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("swtpm"); err != nil {
		skipOrFail(t, "swtpm not installed (Debian: apt-get install swtpm swtpm-tools)")
	}
	pkiDir := newPKI(t)
	base := startServer(t, pkiDir)
	type infoOut struct {
		RollbackProtection *bool `json:"rollback_protection"`
	}

	inside := filepath.Join(t.TempDir(), "dev")
	ok(t, "device", "new", "--pki", pkiDir, "--dir", inside, "--sl", "3000", "--tpm", "swtpm:"+filepath.Join(inside, "tpm"))
	var info infoOut
	okJSON(t, &info, "device", "info", "--dir", inside, "--json")
	require.NotNil(t, info.RollbackProtection)
	require.False(t, *info.RollbackProtection, "a TPM state inside the device directory is copied back with the store")

	dev := newDevice(t, pkiDir, 3000, "swtpm:"+filepath.Join(t.TempDir(), "tpm"))
	okJSON(t, &info, "device", "info", "--dir", dev, "--json")
	require.NotNil(t, info.RollbackProtection)
	require.True(t, *info.RollbackProtection)
	require.Contains(t, ok(t, "device", "info", "--dir", dev), "rollback protection: yes")

	backup := filepath.Join(t.TempDir(), "store.db")
	copyFile(t, filepath.Join(dev, "store.db"), backup)
	c := genContent(t, "cenc", 83, base+"/rightsmanager.asmx")
	var acq acquireOut
	okJSON(t, &acq, "license", "acquire", "--dev", dev, "--mpd", c.MPD,
		"--url", base+"/rightsmanager.asmx?cfg=(persist:true)", "--json")
	require.Nil(t, acq.Error)
	copyFile(t, backup, filepath.Join(dev, "store.db"))

	r := run(t, "license", "list", "--dev", dev, "--json")
	f := failed(t, r, 1)
	require.Contains(t, *f.Error, "store.db was rolled back")
	require.NotNil(t, f.Detail)
	require.Contains(t, *f.Detail, "TEE state refused")
	require.Contains(t, r.stderr, "rolled back")
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, b, 0o600))
}
