package tee

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/prsim/prsim/clock"
	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/policy"
	"github.com/prsim/prsim/tee/internal/tpm"
	"github.com/prsim/prsim/wire/bcert"
	"github.com/prsim/prsim/wire/soap"
	"github.com/prsim/prsim/wire/xmr"
)

// timeRecords is the clocks' sealed state and the per-license time
// records.
type timeRecords struct {
	Secure       clock.Secure       `json:"secure"`
	AntiRollback clock.AntiRollback `json:"anti_rollback"`
	// Seq numbers the first sightings of persistent time-based licenses;
	// LSTSince is Seq when the secure clock was first set from License
	// Server Time (0 = never): a license first seen before it must be
	// re-acquired (DRM_E_LICENSESERVERTIME_MUST_REACQUIRE_LICENSE).
	Seq      uint64 `json:"seq,omitempty"`
	LSTSince uint64 `json:"lst_since,omitempty"`
	// Licenses holds, by rights ID (hex), the persistent time-based
	// licenses the TEE has bound: when first seen and first played.
	Licenses map[string]*licenseTime `json:"licenses,omitempty"`
	// Emu is the TPM Clock of a backend whose TPM lives in this process
	// ("sim") or does not exist ("soft"), carried across processes.
	Emu *emuRecord `json:"emu,omitempty"`
}

type licenseTime struct {
	Seen      uint64 `json:"seen"`
	FirstPlay int64  `json:"first_play,omitempty"` // Unix seconds; 0 = not played
}

// maxLicenseRecords bounds the per-license records: a device refuses a
// new persistent time-based license beyond it rather than forget a
// first-play time.
const maxLicenseRecords = 10000

// ClockError is a trusted-clock refusal: the device has no trusted clock,
// it is not set, or the wall clock was rolled back. It wraps Code.
type ClockError struct {
	Code   drm.Code
	Reason string
}

func (e *ClockError) Error() string {
	return "tee: trusted clock: " + e.Reason + ": " + e.Code.String()
}

// Unwrap returns the DRM code.
func (e *ClockError) Unwrap() error { return e.Code }

// ClockKind is the trusted clock the leaf certificate claims: SECURE_CLOCK,
// ANTIROLLBACK_CLOCK, or none (docs/formats/bcert.md §7).
func (p Persona) ClockKind() clock.Kind {
	for _, f := range p.Features {
		switch f {
		case bcert.FeatureSecureClock:
			return clock.KindSecure
		case bcert.FeatureAntiRollbackClock:
			return clock.KindAntiRollback
		}
	}
	return clock.KindNone
}

// LicenseServerTime reports whether the device takes its secure clock
// from License Server Time in license responses: PlayReady 4.5 with a
// secure clock (docs/formats/policies-and-outputs.md §9).
func (p Persona) LicenseServerTime() bool {
	return p.ClockKind() == clock.KindSecure && versionAtLeast(p.version(), "4.5")
}

// ClockKind returns the device's trusted clock kind.
func (d *Device) ClockKind() clock.Kind { return d.persona.ClockKind() }

// reading returns the TPM Clock reading the clocks run on. d.mu is held.
func (d *Device) reading() (clock.Reading, error) {
	if d.emu != nil {
		return d.emu.read()
	}
	return d.b.ks.clockInfo()
}

// Now returns the device's trusted time. It fails with a [*ClockError]:
// DRM_E_NO_CLK_SUPPORTED without a trusted clock, DRM_E_TEE_CLOCK_NOT_SET
// while the secure clock needs a (re)sync, DRM_E_TEE_CLOCK_DRIFTED when
// the wall clock is behind the anti-rollback clock's last-known-good time.
func (d *Device) Now() (time.Time, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.nowLocked()
}

func (d *Device) nowLocked() (time.Time, error) {
	kind := d.ClockKind()
	if kind == clock.KindNone {
		return time.Time{}, &ClockError{Code: drm.ErrNoClkSupported, Reason: "the device has no trusted clock"}
	}
	r, err := d.reading()
	if err != nil {
		return time.Time{}, fmt.Errorf("tee: failed to read the TPM Clock: %w", err)
	}
	if kind == clock.KindSecure {
		t, err := d.rec.Time.Secure.Now(r)
		if err != nil {
			var ns *clock.NotSetError
			reason := "the secure clock is not set"
			if errors.As(err, &ns) {
				reason += " (" + ns.Reason + ")"
			}
			return time.Time{}, &ClockError{Code: drm.ErrTEEClockNotSet, Reason: reason + "; sync it from a time server or a license response with License Server Time"}
		}
		return t, nil
	}
	before := d.rec.Time.AntiRollback
	t, err := d.rec.Time.AntiRollback.Now(d.wall.Now(), r)
	if err != nil {
		var rb *clock.RollbackError
		if errors.As(err, &rb) {
			return time.Time{}, &ClockError{Code: drm.ErrTEEClockDrifted, Reason: fmt.Sprintf(
				"the wall clock (%s) is behind the anti-rollback clock's last-known-good time (%s): it was set back",
				rb.Wall.UTC().Format(time.RFC3339), rb.Floor.UTC().Truncate(time.Second).Format(time.RFC3339))}
		}
		return time.Time{}, err
	}
	if before != d.rec.Time.AntiRollback {
		d.timeDirty = true
	}
	return t, nil
}

// ClockStatus reports the trusted clock without changing it.
func (d *Device) ClockStatus() (clock.Status, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, err := d.reading()
	if err != nil {
		return clock.Status{}, fmt.Errorf("tee: failed to read the TPM Clock: %w", err)
	}
	s, a := d.rec.Time.Secure, d.rec.Time.AntiRollback
	return clock.StatusOf(d.ClockKind(), &s, &a, d.wall.Now(), r), nil
}

// ErrNotSecureClock is returned when signed server time is given to a
// device whose clock is not a secure clock: only a secure clock is set
// from a time server.
var ErrNotSecureClock = errors.New("tee: the device has no secure clock to set")

// SetSecureTime sets the secure clock from a signed server time statement
// (docs/protocol.md "License Server Time"): the chain must verify to the
// device's root with a SECURETIMESERVER leaf whose level is at least the
// device's, the signature must verify with the leaf's secure-time key,
// and the nonce must be n, a nonce this TEE has outstanding
// ([Device.NewNonce]), so an old statement cannot be replayed.
// fromLicenseResponse says the statement came in a license response (License
// Server Time), which only a PlayReady 4.5 device takes. Failures wrap
// DRM_E_SECURETIME_INVALID_REQUEST_DATA, or
// DRM_E_SECURETIME_SERVER_SECURITY_LEVEL_TOO_LOW.
func (d *Device) SetSecureTime(blob []byte, n [16]byte, fromLicenseResponse bool) (time.Time, error) {
	if d.ClockKind() != clock.KindSecure {
		return time.Time{}, ErrNotSecureClock
	}
	if fromLicenseResponse && !d.persona.LicenseServerTime() {
		return time.Time{}, fmt.Errorf("tee: License Server Time needs a PlayReady 4.5 device: %w", drm.ErrSecureTimeInvalidRequestData)
	}
	st, err := soap.ParseServerTime(blob)
	if err != nil {
		return time.Time{}, fmt.Errorf("tee: %w", err)
	}
	bad := func(why string) error {
		return fmt.Errorf("tee: signed time refused: %s: %w", why, drm.ErrSecureTimeInvalidRequestData)
	}
	if st.Nonce != n {
		return time.Time{}, bad("it answers another nonce")
	}
	chain, err := bcert.ParseChain(st.Chain)
	if err != nil {
		return time.Time{}, bad("its certificate chain is malformed")
	}
	t := time.Unix(st.Time, 0).UTC()
	if err := chain.Verify(bcert.VerifyOptions{Roots: []ecc.Point{d.root}, CurrentTime: t, LeafType: bcert.CertTypeSecureTimeServer}); err != nil {
		return time.Time{}, bad("its certificate chain does not verify to the device's root (" + err.Error() + ")")
	}
	if sl := chain.Leaf().Basic().SecurityLevel; sl < d.persona.SecurityLevel {
		return time.Time{}, fmt.Errorf("tee: signed time refused: the time server's level %d is below the device's %d: %w",
			sl, d.persona.SecurityLevel, drm.ErrSecureTimeServerSecurityLevelTooLow)
	}
	key, ok := chain.Leaf().KeyWithUsage(soap.KeyUsageSignSecureTime)
	if !ok {
		return time.Time{}, bad("the time server's certificate has no secure-time key")
	}
	if err := st.Verify(key); err != nil {
		return time.Time{}, bad("its signature does not verify")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.findNonce(n) < 0 {
		return time.Time{}, bad("its nonce is not one this TEE has outstanding (a replay?)")
	}
	r, err := d.reading()
	if err != nil {
		return time.Time{}, fmt.Errorf("tee: failed to read the TPM Clock: %w", err)
	}
	prev := d.rec.Time
	source := clock.SourceTimeService
	if fromLicenseResponse {
		source = clock.SourceLicenseServerTime
		if d.rec.Time.LSTSince == 0 {
			d.rec.Time.Seq++
			d.rec.Time.LSTSince = d.rec.Time.Seq
		}
	}
	d.rec.Time.Secure.SetFrom(t, r, source)
	if err := d.commitLocked(); err != nil {
		d.rec.Time = prev
		return time.Time{}, err
	}
	return t, nil
}

// AdvanceTPMClock moves the TPM Clock forward by by (TPM2_ClockSet; the
// TPM refuses to move it back). Tests and demos use it to reach an expiry
// without waiting: the secure clock runs on the TPM Clock, and the
// anti-rollback clock's witness does.
func (d *Device) AdvanceTPMClock(by time.Duration) error {
	if by < 0 {
		return errors.New("tee: the TPM Clock only moves forward")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.emu != nil {
		if err := d.emu.advance(by); err != nil {
			return err
		}
	} else if err := d.b.ks.advanceClock(by); err != nil {
		return fmt.Errorf("tee: %w", err)
	}
	return d.commitLocked()
}

// licenseID is the key of a license's time record.
func licenseID(l *xmr.License) string { return hex.EncodeToString(l.RightsID[:]) }

// checkLicenseTime is the bind-time and play-time check of a license's
// time-based policy. persistent licenses get a durable record (first
// sighting, first play); the caller commits when it returns changed.
// d.mu is held.
func (d *Device) checkLicenseTimeLocked(lic *xmr.License, firstPlay time.Time) (now, played time.Time, changed bool, err error) {
	now, err = d.nowLocked()
	if err != nil {
		var ce *ClockError
		if errors.As(err, &ce) {
			return now, firstPlay, false, d.bindClockError(ce)
		}
		return now, firstPlay, false, err
	}
	if lic.Persistent() {
		id := licenseID(lic)
		rec := d.rec.Time.Licenses[id]
		if rec == nil {
			if len(d.rec.Time.Licenses) >= maxLicenseRecords {
				return now, firstPlay, false, fmt.Errorf("tee: the TEE keeps time records for %d licenses and has no room for another: %w",
					maxLicenseRecords, drm.ErrLicenseExpired)
			}
			if d.rec.Time.Licenses == nil {
				d.rec.Time.Licenses = map[string]*licenseTime{}
			}
			d.rec.Time.Seq++
			rec = &licenseTime{Seen: d.rec.Time.Seq}
			d.rec.Time.Licenses[id] = rec
			changed = true
		}
		fp, err := d.recordedPlay(rec)
		if err != nil {
			return now, firstPlay, changed, err
		}
		if !fp.IsZero() {
			firstPlay = fp
		}
	}
	return now, firstPlay, changed, timeError(lic, now, firstPlay)
}

// recordedPlay is what a persistent license's time record says: its first
// play (zero = not played), or that it must be re-acquired because it was
// first seen before the device took License Server Time. d.mu is held.
func (d *Device) recordedPlay(rec *licenseTime) (time.Time, error) {
	if d.persona.LicenseServerTime() && d.rec.Time.LSTSince != 0 && rec.Seen < d.rec.Time.LSTSince {
		return time.Time{}, fmt.Errorf("tee: this persistent time-limited license was acquired before the device took License Server Time: re-acquire it: %w",
			drm.ErrLicenseServerTimeMustReacquireLicense)
	}
	if rec.FirstPlay == 0 {
		return time.Time{}, nil
	}
	return time.Unix(rec.FirstPlay, 0), nil
}

// startPlay checks a time-based license at play start and records its
// first play (durably for a persistent license), from which real-time
// expiration judges every sample (checkRealTimeLocked).
func (d *Device) startPlay(k *Key) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	k.mu.Lock()
	fp := k.firstPlay
	k.mu.Unlock()
	now, fp, changed, err := d.checkLicenseTimeLocked(k.license, fp)
	if err == nil && k.license.Policy().ExpireAfterFirstPlay != nil && fp.IsZero() {
		fp = now.Truncate(time.Second)
		if k.persistent {
			d.rec.Time.Licenses[licenseID(k.license)].FirstPlay = fp.Unix()
			changed = true
		}
	}
	if changed || d.timeDirty {
		if cerr := d.commitLocked(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return err
	}
	k.mu.Lock()
	k.firstPlay = fp
	k.mu.Unlock()
	return nil
}

// checkRealTime is the per-sample check of a real-time-expiring license:
// past its deadline the key is wiped and decryption stops with
// DRM_E_LICENSE_REALTIME_EXPIRED. now and err are the device's Now, read
// before k.mu was taken (startPlay takes d.mu, then k.mu). k.mu is held.
func (k *Key) checkRealTimeLocked(now time.Time, err error) error {
	if err == nil {
		err = policy.CheckTime(k.license, policy.Times{Now: now, FirstPlay: k.firstPlay, Playing: true})
	}
	if err != nil {
		k.wipeLocked() // the SecureStop2 key too: nothing decrypts or MACs after expiry
		return fmt.Errorf("tee: decryption stopped: %w", err)
	}
	return nil
}

// bindClockError is the code a bind gets when the clock has no time: a
// License Server Time device is told to acquire (the REE's cue for a
// clock-sync acquisition), other devices that their clock is not set.
func (d *Device) bindClockError(ce *ClockError) error {
	reason := "the license has a time-based policy, and " + lowerFirst(ce.Reason)
	switch {
	case ce.Code != drm.ErrTEEClockNotSet:
		return &ClockError{Code: ce.Code, Reason: reason}
	case d.persona.LicenseServerTime():
		return &ClockError{Code: drm.ErrSecureTimeClockNotSet, Reason: reason}
	}
	return &ClockError{Code: drm.ErrClkNotSet, Reason: reason}
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// emuRecord carries a TPM Clock across processes for backends whose TPM
// does not outlive the process: the clock as read at the last commit, the
// host boot it was read in, and the host's CLOCK_BOOTTIME then. Within one
// host boot the clock is taken to have run meanwhile (a TPM stays powered
// while its host is up); a host reboot is a TPM reset (docs/protocol.md
// "TEE state").
type emuRecord struct {
	BootID   string `json:"boot_id"`
	Boottime int64  `json:"boottime_ns"`
	Clock    uint64 `json:"clock_ms"`
	Resets   uint32 `json:"resets"`
}

// emuClock is the reading of such a backend: the live clock (simulator
// TPM Clock, or the host's CLOCK_BOOTTIME for soft) plus an offset, and
// the resets counted across processes.
type emuClock struct {
	bootID    string // the host boot this process runs in
	raw       func() (clock.Reading, error)
	offset    int64 // ms added to the raw clock
	resets    uint32
	baseReset uint32 // raw ResetCount when the device opened
	soft      bool   // advance moves the offset (no TPM to ClockSet)
	advanceFn func(time.Duration) error
}

func (e *emuClock) read() (clock.Reading, error) {
	r, err := e.raw()
	if err != nil {
		return r, err
	}
	r.Clock = uint64(max(int64(r.Clock)+e.offset, 0))
	r.ResetCount = e.resets + (r.ResetCount - e.baseReset)
	return r, nil
}

func (e *emuClock) advance(by time.Duration) error {
	if e.soft {
		e.offset += by.Milliseconds()
		return nil
	}
	return e.advanceFn(by)
}

// openEmu sets up the emulated clock from the sealed record. d.mu is held
// (or d is not shared yet).
func (d *Device) openEmu() error {
	e := &emuClock{}
	if _, soft := d.b.ks.(softStore); soft {
		e.soft = true
		e.raw = func() (clock.Reading, error) {
			bt, err := tpm.BootTime()
			return clock.Reading{Clock: uint64(bt / int64(time.Millisecond)), Safe: true}, err
		}
	} else {
		e.raw = d.b.ks.clockInfo
		e.advanceFn = d.b.ks.advanceClock
	}
	now, err := e.raw()
	if err != nil {
		return fmt.Errorf("tee: failed to read the TPM Clock: %w", err)
	}
	e.baseReset = now.ResetCount
	// The host's boot ID and CLOCK_BOOTTIME (which runs through suspend
	// and is comparable across the processes of one boot).
	id, bt, err := tpm.HostBoot()
	if err != nil {
		return fmt.Errorf("tee: cannot read the host boot clock: %w", err)
	}
	e.bootID = id
	if rec := d.rec.Time.Emu; rec != nil {
		target := int64(rec.Clock)
		e.resets = rec.Resets
		if id == rec.BootID && bt >= rec.Boottime {
			target += (bt - rec.Boottime) / int64(time.Millisecond)
		} else {
			e.resets++ // the host rebooted: its TPM did too
		}
		e.offset = target - int64(now.Clock)
	}
	d.emu = e
	return nil
}

// saveEmu records the emulated clock for the next process. d.mu is held.
func (d *Device) saveEmu() {
	if d.emu == nil {
		return
	}
	r, err := d.emu.read()
	bt, berr := tpm.BootTime()
	if err != nil || berr != nil {
		return
	}
	d.rec.Time.Emu = &emuRecord{BootID: d.emu.bootID, Boottime: bt, Clock: r.Clock, Resets: r.ResetCount}
}

// timeError checks lic's dates at now (policy.CheckTime).
func timeError(lic *xmr.License, now, firstPlay time.Time) error {
	if err := policy.CheckTime(lic, policy.Times{Now: now, FirstPlay: firstPlay}); err != nil {
		return fmt.Errorf("tee: %w", err)
	}
	return nil
}

// Usable tells whether a license would be usable on this device now,
// without binding it or changing any state: its objects pass the
// fail-closed table, it is bound to this device's key and level, the
// device holds the revocation data it needs (RIV), and its
// dates hold on the trusted clock (with the first play the TEE recorded
// for it). The MAC and nonce are not checked: they need the content key.
// The REE shows the answer next to a license (usable_now).
func (d *Device) Usable(license []byte) error {
	lic, err := xmr.Parse(license)
	if err != nil {
		return fmt.Errorf("tee: %w", err)
	}
	if dk, ok := lic.DeviceKey(); !ok || dk != d.encPub {
		return fmt.Errorf("tee: license is bound to another device key: %w", drm.ErrLicenseMismatch)
	}
	if minSL := lic.MinSecurityLevel(); uint32(minSL) > d.persona.SecurityLevel {
		return fmt.Errorf("tee: license minimum security level %d is above the device's %d: %w", minSL, d.persona.SecurityLevel, drm.ErrDeviceSecurityLevelTooLow)
	}
	if err := checkRules(lic, d.persona, lic.Policy().Unknown); err != nil {
		return err
	}
	// Bind refuses a license that needs newer revocation data: so does
	// the answer to "would it bind".
	if err := d.checkRIV(lic.Policy().RIV); err != nil {
		return err
	}
	if !policy.TimeBased(lic) {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	// A status read moves nothing, and so leaves nothing to commit.
	saved, dirty := d.rec.Time.AntiRollback, d.timeDirty
	defer func() { d.rec.Time.AntiRollback, d.timeDirty = saved, dirty }()
	now, err := d.nowLocked()
	if err != nil {
		var ce *ClockError
		if errors.As(err, &ce) {
			return d.bindClockError(ce)
		}
		return err
	}
	var fp time.Time
	if rec := d.rec.Time.Licenses[licenseID(lic)]; rec != nil && lic.Persistent() {
		if fp, err = d.recordedPlay(rec); err != nil {
			return err
		}
	}
	return timeError(lic, now, fp)
}
