package tee

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/prsim/prsim/clock"
	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/wire/bcert"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/securestop"
	"github.com/prsim/prsim/wire/soap"
	"github.com/prsim/prsim/wire/xmr"
)

// Secure stop (docs/protocol.md §11): a non-persistent license carrying
// SECURE_STOP opens a session in the TEE's sealed state when its
// decryptor is first released; the stop is recorded, and the key wiped,
// in one step; the session is deleted only when a server's signed
// acknowledgement names it.
const (
	// SecureStopUpdateInterval is how often decryption advances a
	// session's update time in the sealed state (device time): a crash
	// reports the session stopped at most this long before it was.
	SecureStopUpdateInterval = 5 * time.Second
	// MaxSecureStopSessions bounds the sessions the TEE keeps (active,
	// and stopped ones waiting to be sent), as PlayReady's store does.
	MaxSecureStopSessions = 100
)

// ssRecord is one session in the sealed state. Key is the license's
// SecureStop2 key (version 2): sealed with the rest, never exported.
type ssRecord struct {
	Session   []byte   `json:"s"`
	Publisher []byte   `json:"p"`
	KIDs      [][]byte `json:"k"`
	Start     int64    `json:"t0"`
	Update    int64    `json:"t1"`
	Stopped   bool     `json:"x,omitempty"`
	Version   uint8    `json:"v"`
	Key       []byte   `json:"key,omitempty"`
}

func (r *ssRecord) id() [16]byte { return [16]byte(r.Session) }

// SecureStopSession is a session as the REE may see it: no key.
type SecureStopSession struct {
	ID      [16]byte
	KIDs    []kid.ID
	Active  bool
	Version int // 1 SecureStop1, 2 SecureStop2
	Start   time.Time
	Update  time.Time // the stop time once stopped
}

// secureStopVersion is the secure stop a device of persona p sends for a
// license (docs/formats/policies-and-outputs.md §10): none below SL3000 or
// PlayReady 3.0; SecureStop2 from 4.3 when the license carries its key;
// SecureStop1 otherwise.
func (p Persona) secureStopVersion(hasSS2Key bool) uint8 {
	switch {
	case p.SecurityLevel < 3000 || !versionAtLeast(p.version(), "3.0"):
		return 0
	case hasSS2Key && versionAtLeast(p.version(), "4.3"):
		return 2
	}
	return 1
}

// ssInfo is what a bound key needs for secure stop.
type ssInfo struct {
	version   uint8 // 0 = no session
	publisher [16]byte
	key       [16]byte // SecureStop2
}

// secureStopFor is the bind's part: a non-persistent license with
// SECURE_STOP on a device that reports secure stop gets a session at play
// start, and a SecureStop2 key is unwrapped with the license's CI
// (docs/protocol.md §11). A SECURESTOP2 object that does not unwrap is
// refused: the session would be reported unverifiable.
func secureStopFor(lic *xmr.License, p Persona, ci []byte) (ssInfo, error) {
	pol := lic.Policy()
	if lic.Persistent() || pol.SecureStopID == nil {
		return ssInfo{}, nil
	}
	info := ssInfo{version: p.secureStopVersion(len(pol.SecureStop2) > 0), publisher: *pol.SecureStopID}
	if info.version == 2 {
		key, err := lic.SecureStop2Key(ci)
		if err != nil {
			return ssInfo{}, fmt.Errorf("tee: the license's SecureStop2 key does not unwrap under its CI: %w", drm.ErrInvalidLicense)
		}
		info.key = key
	}
	return info, nil
}

// sessionTime is the time a session records: the trusted clock when it
// has a time, else the wall clock (a session's times are reports, not
// decisions). d.mu is held.
func (d *Device) sessionTime() time.Time {
	if d.ClockKind() != clock.KindNone {
		if t, err := d.nowLocked(); err == nil {
			return t
		}
	}
	return d.wall.Now()
}

// startSession opens k's session before its decryptor is first released.
func (d *Device) startSession(k *Key) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	k.mu.Lock()
	started := k.ssSession != nil
	k.mu.Unlock()
	if started {
		return nil
	}
	if len(d.rec.SecureStop) >= MaxSecureStopSessions {
		return fmt.Errorf("tee: %d secure-stop sessions wait to be sent: send them before playing more: %w",
			MaxSecureStopSessions, drm.ErrSecureStopSessionLocked)
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return err
	}
	now := d.sessionTime().Unix()
	r := ssRecord{Session: id[:], Publisher: bytes.Clone(k.ss.publisher[:]), KIDs: [][]byte{bytes.Clone(k.kid[:])},
		Start: now, Update: now, Version: k.ss.version}
	if k.ss.version == 2 {
		r.Key = bytes.Clone(k.ss.key[:])
	}
	prev := d.rec.SecureStop
	d.rec.SecureStop = append(prev[:len(prev):len(prev)], r)
	if err := d.commitLocked(); err != nil {
		d.rec.SecureStop = prev
		return fmt.Errorf("tee: the secure-stop session could not be recorded, so the key stays locked: %w", err)
	}
	k.mu.Lock()
	k.ssSession = &id
	k.ssUpdated = now
	k.mu.Unlock()
	return nil
}

// findSession returns the index of an active or stopped session. d.mu is held.
func (d *Device) findSession(id [16]byte) int {
	for i := range d.rec.SecureStop {
		if d.rec.SecureStop[i].id() == id {
			return i
		}
	}
	return -1
}

// touchSession advances an active session's update time when the
// interval has passed. It never fails decryption: a commit that fails
// leaves the older update time, which a crash would then report.
func (d *Device) touchSession(k *Key) {
	k.mu.Lock()
	id, last := k.ssSession, k.ssUpdated
	k.mu.Unlock()
	if id == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.sessionTime().Unix()
	if time.Duration(now-last)*time.Second < SecureStopUpdateInterval {
		return
	}
	if i := d.findSession(*id); i >= 0 && !d.rec.SecureStop[i].Stopped {
		d.rec.SecureStop[i].Update = now
		if d.commitLocked() == nil {
			k.mu.Lock()
			k.ssUpdated = now
			k.mu.Unlock()
		}
	}
}

// stopSession records k's stop and wipes its key in one step under the
// device lock: once the stop is recorded nothing decrypts with the key.
func (d *Device) stopSession(k *Key) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	k.mu.Lock()
	k.wipeLocked()
	id := k.ssSession
	k.ssSession = nil
	k.mu.Unlock()
	if id == nil {
		return nil
	}
	i := d.findSession(*id)
	if i < 0 || d.rec.SecureStop[i].Stopped {
		return nil
	}
	d.rec.SecureStop[i].Stopped = true
	d.rec.SecureStop[i].Update = d.sessionTime().Unix()
	if err := d.commitLocked(); err != nil {
		// The key is gone either way; the session reads as active until
		// the next open reports it stopped at its last update.
		return fmt.Errorf("tee: the secure stop could not be recorded: %w", err)
	}
	return nil
}

// recoverSessions marks the sessions a crash left active as stopped at
// their last update time. d.mu is held (or d is not shared yet).
func (d *Device) recoverSessions() {
	for i := range d.rec.SecureStop {
		d.rec.SecureStop[i].Stopped = true
	}
}

// SecureStopSession returns the ID of k's open secure-stop session.
func (k *Key) SecureStopSession() ([16]byte, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ssSession == nil {
		return [16]byte{}, false
	}
	return *k.ssSession, true
}

// SecureStopSessions lists the sessions the TEE keeps, oldest first.
func (d *Device) SecureStopSessions() []SecureStopSession {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]SecureStopSession, 0, len(d.rec.SecureStop))
	for _, r := range d.rec.SecureStop {
		s := SecureStopSession{ID: r.id(), Active: !r.Stopped, Version: int(r.Version),
			Start: time.Unix(r.Start, 0).UTC(), Update: time.Unix(r.Update, 0).UTC()}
		for _, b := range r.KIDs {
			if len(b) == kid.Size {
				s.KIDs = append(s.KIDs, kid.ID(b))
			}
		}
		out = append(out, s)
	}
	return out
}

// SecureStopChallenge builds and signs a ProcessSecureStopData challenge
// (docs/protocol.md §11) carrying every stopped session, SecureStop2 ones
// MACed with their license's key inside the TEE. The TEE draws the nonce
// the acknowledgement must echo. sessions is 0 (and body nil) when no
// session is stopped.
func (d *Device) SecureStopChallenge(serverKey ecc.Point, clientVersion string, rnd io.Reader) (body []byte, nonce [16]byte, sessions int, err error) {
	d.mu.Lock()
	var recs []securestop.Record
	for _, r := range d.rec.SecureStop {
		if !r.Stopped {
			continue
		}
		rec := securestop.Record{Version: 1, Session: r.id(), Publisher: [16]byte(r.Publisher), Start: r.Start, Update: r.Update, Stopped: true}
		for _, b := range r.KIDs {
			rec.KIDs = append(rec.KIDs, kid.ID(b))
		}
		if r.Version == 2 && len(r.Key) == 16 {
			rec.SignSS2([16]byte(r.Key))
		}
		recs = append(recs, rec)
	}
	d.mu.Unlock()
	if len(recs) == 0 {
		return nil, nonce, 0, nil
	}
	if nonce, err = d.NewNonce(); err != nil {
		return nil, nonce, 0, err
	}
	ch := &soap.SecureStopChallenge{Nonce: nonce, ClientTime: d.wall.Now().Unix(), ClientVersion: clientVersion,
		CertificateChain: d.Chain(), Records: securestop.EncodeRecords(recs)}
	body, err = soap.BuildSecureStopChallenge(ch, serverKey, challengeSigner{d}, rnd)
	if err != nil {
		d.AbandonNonce(nonce)
		if errors.Is(err, ErrKeysLost) {
			return nil, nonce, 0, fmt.Errorf("tee: cannot sign the secure-stop challenge: %w", err)
		}
		return nil, nonce, 0, fmt.Errorf("tee: cannot build the secure-stop challenge: %w", err)
	}
	return body, nonce, len(recs), nil
}

// AcceptSecureStopAck verifies a server's acknowledgement of the
// challenge with nonce: its chain must verify to the device's root with a
// leaf key of usage SIGN_RESPONSE, its signature with that key, and its
// nonce must be the challenge's, still outstanding. Only then are the
// stopped sessions it names deleted, durably; a failure deletes nothing
// (DRM_E_SECURESTOP_INVALID_RESPONSE), so a lost or forged answer means a
// resend, never a loss.
func (d *Device) AcceptSecureStopAck(ack []byte, nonce [16]byte) (int, error) {
	bad := func(why string) error {
		return fmt.Errorf("tee: secure-stop acknowledgement refused: %s: %w", why, drm.ErrSecureStopInvalidResponse)
	}
	a, err := securestop.ParseAck(ack)
	if err != nil {
		return 0, bad("it is malformed")
	}
	if a.Nonce != nonce {
		return 0, bad("it answers another challenge")
	}
	chain, err := bcert.ParseChain(a.Chain)
	if err != nil {
		return 0, bad("its certificate chain is malformed")
	}
	if err := chain.Verify(bcert.VerifyOptions{Roots: []ecc.Point{d.root}, CurrentTime: d.wall.Now()}); err != nil {
		return 0, bad("its certificate chain does not verify to the device's root (" + err.Error() + ")")
	}
	key, ok := chain.Leaf().KeyWithUsage(bcert.KeyUsageSignResponse)
	if !ok {
		return 0, bad("its signer has no SIGN_RESPONSE key")
	}
	if err := a.Verify(key); err != nil {
		return 0, bad("its signature does not verify")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	i := d.findNonce(nonce)
	if i < 0 {
		return 0, bad("its nonce is not outstanding (a replay?)")
	}
	prev := d.rec.SecureStop
	keep := make([]ssRecord, 0, len(prev))
	deleted := 0
	for _, r := range prev {
		if r.Stopped && slices.Contains(a.Sessions, r.id()) {
			deleted++
			continue
		}
		keep = append(keep, r)
	}
	prevNonces := d.nonces
	d.dropNonce(i)
	d.rec.SecureStop = keep
	if err := d.commitLocked(); err != nil {
		d.rec.SecureStop, d.nonces = prev, prevNonces
		return 0, err
	}
	return deleted, nil
}

// SignLicenseAck builds and signs an AcknowledgeLicense challenge
// (docs/formats/soap.md §7) for the device's own chain: the TEE signs only
// messages it builds.
func (d *Device) SignLicenseAck(a *soap.LicenseAck, serverKey ecc.Point, rnd io.Reader) ([]byte, error) {
	if a == nil {
		return nil, fmt.Errorf("%w: no acknowledgement", ErrChallengeRefused)
	}
	c := *a
	if len(c.CertificateChain) == 0 {
		c.CertificateChain = d.Chain()
	} else if err := d.ownChain(c.CertificateChain); err != nil {
		return nil, err
	}
	body, err := soap.BuildAcknowledgeLicense(&c, serverKey, challengeSigner{d}, rnd)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrChallengeRefused, err)
	}
	return body, nil
}
