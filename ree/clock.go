package ree

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/prsim/prsim/clock"
	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/policy"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/pro"
	"github.com/prsim/prsim/wire/soap"
	"github.com/prsim/prsim/wire/xmr"
)

// TimePath is where a prsim license server serves signed time (the secure
// time endpoint, docs/protocol.md "License Server Time").
const TimePath = "/prsim/time"

// Clock sync methods.
const (
	SyncLicenseServerTime = "license-server-time" // a LICENSEREQUESTED="false" acquisition
	SyncTimeService       = "time-service"        // GET TimePath
	SyncNone              = "none"                // an anti-rollback clock takes no server time
)

// ClockSync is what [Client.SyncClock] did: how, the signed time it set
// (null when none) and the clock's status afterwards.
type ClockSync struct {
	Method string       `json:"method"`
	Time   *time.Time   `json:"time"`
	Status clock.Status `json:"status"`
}

// SyncClock sets the device's secure clock from server-signed time at
// serverURL (a license server URL; its origin serves TimePath). A
// PlayReady 4.5 device with a secure clock makes the acquisition License
// Server Time defines: a 4.3 header with LICENSEREQUESTED="false", answered
// with no license and the signed time. Other secure-clock devices ask the
// secure time endpoint. An anti-rollback clock takes no server time
// (method "none"); a device without a trusted clock gets
// DRM_E_NO_CLK_SUPPORTED.
func (c *Client) SyncClock(ctx context.Context, serverURL string) (ClockSync, error) {
	d := c.cfg.Device
	var out ClockSync
	switch d.ClockKind() {
	case clock.KindNone:
		return out, fmt.Errorf("ree: the device has no trusted clock to sync: %w", drm.ErrNoClkSupported)
	case clock.KindAntiRollback:
		out.Method = SyncNone
	default:
		var t time.Time
		var err error
		if d.Persona().LicenseServerTime() {
			out.Method = SyncLicenseServerTime
			t, err = c.syncByAcquisition(ctx, serverURL)
		} else {
			out.Method = SyncTimeService
			t, err = c.syncByTimeService(ctx, serverURL)
		}
		if err != nil {
			return out, err
		}
		out.Time = &t
	}
	st, err := d.ClockStatus()
	if err != nil {
		return out, err
	}
	out.Status = st
	return out, nil
}

// ErrNoServerTime is matched by the error of a clock sync whose server
// sent no signed time (a server without License Server Time).
var ErrNoServerTime = fmt.Errorf("ree: the server sent no signed time (is License Server Time on?): %w", drm.ErrSecureTimeClockNotSet)

// syncByAcquisition runs the License Server Time clock-sync acquisition;
// Acquire hands the response's signed time to the TEE.
func (c *Client) syncByAcquisition(ctx context.Context, serverURL string) (time.Time, error) {
	no := false
	h := &pro.Header{Version: pro.Version43, LAURL: serverURL, LicenseRequested: &no}
	var set time.Time
	var setErr error
	_, err := c.acquire(ctx, h, serverURL, acquireOptions{onServerTime: func(t time.Time, err error) { set, setErr = t, err }})
	switch {
	case err != nil:
		return time.Time{}, err
	case setErr != nil:
		return time.Time{}, setErr
	case set.IsZero():
		return time.Time{}, ErrNoServerTime
	}
	return set, nil
}

// syncByTimeService asks the secure time endpoint for a statement of a
// TEE nonce and hands it to the TEE.
func (c *Client) syncByTimeService(ctx context.Context, serverURL string) (time.Time, error) {
	u, err := parseServerURL(serverURL, "time server")
	if err != nil {
		return time.Time{}, err
	}
	d := c.cfg.Device
	n, err := d.NewNonce()
	if err != nil {
		return time.Time{}, err
	}
	defer d.AbandonNonce(n)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.Scheme+"://"+u.Host+TimePath+"?nonce="+hex.EncodeToString(n[:]), nil)
	if err != nil {
		return time.Time{}, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return time.Time{}, transportErr(err)
	}
	defer resp.Body.Close()
	blob, err := io.ReadAll(io.LimitReader(resp.Body, soap.MaxServerTimeChain+256))
	if err != nil {
		return time.Time{}, transportErr(err)
	}
	if resp.StatusCode != http.StatusOK {
		return time.Time{}, fmt.Errorf("ree: %s answered HTTP %d: %w", TimePath, resp.StatusCode, ErrNoServerTime)
	}
	return d.SetSecureTime(blob, n, false)
}

// LicenseTimes is what a license's time policy says, and whether the
// device can use it now (the license JSON of prsim license acquire/list).
type LicenseTimes struct {
	Begin              *time.Time `json:"begin"`
	End                *time.Time `json:"end"`
	FirstPlayExpiryS   *uint32    `json:"first_play_expiry_s"`
	RealTimeExpiration bool       `json:"real_time_expiration"`
	UsableNow          bool       `json:"usable_now"`
	// UnusableReason is "DRM_E_… (0x…)", or null when usable.
	UnusableReason *string `json:"unusable_reason"`
	// Why is the refusal's message (not in the JSON contract's fields;
	// shown in text output).
	Why string `json:"-"`
}

// LicenseTimes reads a license's dates and asks the TEE whether it is
// usable now ([tee.Device.Usable]); it changes nothing.
func (c *Client) LicenseTimes(lic []byte) LicenseTimes {
	var lt LicenseTimes
	l, err := xmr.Parse(lic)
	if err == nil {
		lt.Begin, lt.End = policy.Window(l)
		p := l.Policy()
		lt.FirstPlayExpiryS = p.ExpireAfterFirstPlay
		lt.RealTimeExpiration = p.RealTimeExpiration
		if p.RemovalDate != nil {
			r := time.Unix(int64(*p.RemovalDate), 0).UTC()
			if lt.End == nil || r.Before(*lt.End) {
				lt.End = &r
			}
		}
		err = c.cfg.Device.Usable(lic)
	}
	lt.UsableNow = err == nil
	if err != nil {
		code := drm.ErrInvalidLicense
		if cd, ok := drm.CodeOf(err); ok {
			code = cd
		}
		s := code.String()
		lt.UnusableReason = &s
		lt.Why = err.Error()
	}
	return lt
}

// reacquirable reports a stored-license refusal that a fresh license from
// the server cures: License Server Time asks for it.
func reacquirable(err error) bool {
	return errors.Is(err, drm.ErrLicenseServerTimeMustReacquireLicense)
}

// removeStale deletes the stored licenses for id that the TEE says must be
// re-acquired or are past their removal date, so that they are not tried
// again.
func (c *Client) removeStale(id kid.ID) {
	if c.cfg.Store == nil {
		return
	}
	ls, err := c.cfg.Store.LicensesFor(id)
	if err != nil {
		return
	}
	for _, l := range ls {
		err := c.cfg.Device.Usable(l.XMR)
		if reacquirable(err) || pastRemoval(l.XMR, err) {
			_ = c.cfg.Store.DeleteLicense(l.KID, l.LID)
		}
	}
}

// pastRemoval reports a license refused because its REMOVAL_DATE passed:
// the client may delete it then (docs/formats/policies-and-outputs.md §5).
func pastRemoval(lic []byte, err error) bool {
	var te *policy.TimeError
	if !errors.As(err, &te) {
		return false
	}
	l, perr := xmr.Parse(lic)
	if perr != nil {
		return false
	}
	p := l.Policy()
	return p.RemovalDate != nil && te.At.Equal(time.Unix(int64(*p.RemovalDate), 0).UTC())
}
