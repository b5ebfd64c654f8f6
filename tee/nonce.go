package tee

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"maps"
	"time"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/wire/bcert"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/pro"
	"github.com/prsim/prsim/wire/soap"
	"github.com/prsim/prsim/wire/xmr"
)

// maxKIDsPerNonce bounds the KIDs one nonce can bind: a response answers
// one challenge, whose header the reference server caps well below this,
// so a longer list only comes from licenses forged for the device key.
const maxKIDsPerNonce = 128

// nonceEntry is one outstanding challenge nonce and the KIDs of the
// non-persistent licenses already bound under it.
type nonceEntry struct {
	n     [16]byte
	bound []kid.ID
}

// ErrChallengeRefused is matched (errors.Is) by the error
// [Device.SignChallenge] returns for a challenge the TEE will not sign; the
// error says why. It carries no DRM code: the REE's own request is wrong.
var ErrChallengeRefused = errors.New("tee: refused to sign the challenge")

// NewNonce draws a challenge nonce and keeps it outstanding in the TEE; a
// non-persistent license binds only with the rights ID of an outstanding
// nonce (docs/formats/soap.md §8). At most [MaxNonces] are outstanding: a
// new one drops the oldest.
func (d *Device) NewNonce() ([16]byte, error) {
	var n [16]byte
	if _, err := io.ReadFull(d.rand, n[:]); err != nil {
		return n, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	prev := d.nonces
	if len(d.nonces) == MaxNonces {
		d.nonces = d.nonces[1:]
	}
	d.nonces = append(d.nonces[:len(d.nonces):len(d.nonces)], nonceEntry{n: n})
	// The FIFO is TEE state: a challenge goes out only with its nonce
	// committed, so a response can be bound in a later process.
	if err := d.commitLocked(); err != nil {
		d.nonces = prev
		return [16]byte{}, err
	}
	return n, nil
}

// AbandonNonce ends a nonce whose exchange failed (no response, a fault,
// a response that does not verify), so that no later license binds under
// it. It can only shorten a nonce's life: a nonce's licenses are consumed
// by [Device.Bind] whether or not the REE calls it.
func (d *Device) AbandonNonce(n [16]byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if i := d.findNonce(n); i >= 0 {
		d.dropNonce(i)
		// Best effort: if the commit fails the nonce stays outstanding
		// in the stored state, which only lengthens its life to the
		// FIFO's bound.
		_ = d.commitLocked()
	}
}

// dropNonce ends the nonce at index i into a fresh slice, so that a
// caller's saved d.nonces still holds it for a rollback. d.mu is held.
func (d *Device) dropNonce(i int) {
	d.nonces = append(d.nonces[:i:i], d.nonces[i+1:]...)
}

// findNonce returns the index of n among the outstanding nonces, or -1.
// The comparison runs over every entry in constant time. d.mu is held.
func (d *Device) findNonce(n [16]byte) int {
	at := -1
	for i := range d.nonces {
		if subtle.ConstantTimeCompare(d.nonces[i].n[:], n[:]) == 1 {
			at = i
		}
	}
	return at
}

// errNonce is why a non-persistent license does not bind.
func errNonce(why string) error {
	return fmt.Errorf("tee: non-persistent license %s: %w", why, drm.ErrLicenseMismatch)
}

// checkNonce tells whether a non-persistent license for id may bind under
// nonce n: n is outstanding and no license for id has bound under it.
func (d *Device) checkNonce(n [16]byte, id kid.ID) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.checkNonceLocked(n, id)
}

func (d *Device) checkNonceLocked(n [16]byte, id kid.ID) error {
	i := d.findNonce(n)
	if i < 0 {
		return errNonce("does not answer an outstanding challenge")
	}
	e := &d.nonces[i]
	for _, b := range e.bound {
		if b == id {
			return errNonce("was already bound under its challenge nonce (replay)")
		}
	}
	if len(e.bound) >= maxKIDsPerNonce {
		return errNonce(fmt.Sprintf("would exceed %d keys under one challenge nonce", maxKIDsPerNonce))
	}
	return nil
}

// admit is the last step of a bind, after the MAC verified: a
// time-based license is checked against the trusted clock (and a
// persistent one gets its durable record), and a non-persistent
// license's (nonce, KID) is consumed, checked again under the lock so
// that two concurrent binds of one license cannot both succeed. The
// changes are committed before the key is released: after a crash the
// same response must not bind again.
func (d *Device) admit(lic *xmr.License, id kid.ID, timeBased bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	prevTime := d.rec.Time
	if prevTime.Licenses != nil {
		prevTime.Licenses = maps.Clone(prevTime.Licenses)
	}
	var changed bool
	if timeBased {
		var err error
		_, _, changed, err = d.checkLicenseTimeLocked(lic, time.Time{})
		if err != nil {
			if changed || d.timeDirty {
				_ = d.commitLocked() // keep the first sighting; the refusal stands either way
			}
			return err
		}
	}
	i, prev := -1, []kid.ID(nil)
	if !lic.Persistent() {
		if err := d.checkNonceLocked(lic.RightsID, id); err != nil {
			return err
		}
		i = d.findNonce(lic.RightsID)
		prev = d.nonces[i].bound
		d.nonces[i].bound = append(prev[:len(prev):len(prev)], id)
		changed = true
	}
	if !changed && !d.timeDirty {
		return nil
	}
	if err := d.commitLocked(); err != nil {
		if i >= 0 {
			d.nonces[i].bound = prev
		}
		d.rec.Time = prevTime
		return err
	}
	return nil
}

// SignChallenge builds and signs an AcquireLicense challenge
// (docs/formats/soap.md §2): the TEE signs only a well-formed challenge it
// builds itself, never a digest the REE chose. It refuses
// ([ErrChallengeRefused]) a challenge whose nonce is not outstanding (one
// [Device.NewNonce] drew and no [Device.AbandonNonce] ended), whose
// ContentHeader is not a WRMHEADER, or whose certificate chain's leaf is
// not this device's signing key; an empty chain is filled with the
// device's. Fields soap cannot write (version, XML text) are refused by
// soap.BuildChallenge. c is not modified; rand draws the XML key.
func (d *Device) SignChallenge(c *soap.Challenge, serverKey ecc.Point, rand io.Reader) ([]byte, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: no challenge", ErrChallengeRefused)
	}
	d.mu.Lock()
	known := d.findNonce(c.Nonce) >= 0
	d.mu.Unlock()
	if !known {
		return nil, fmt.Errorf("%w: its nonce is not one this TEE has outstanding", ErrChallengeRefused)
	}
	if _, err := pro.ParseHeaderXML(c.ContentHeader); err != nil {
		return nil, fmt.Errorf("%w: ContentHeader is not a well-formed WRMHEADER (%w)", ErrChallengeRefused, err)
	}
	cc := *c
	if len(cc.Data.CertificateChain) == 0 {
		cc.Data.CertificateChain = d.Chain()
	} else if err := d.ownChain(cc.Data.CertificateChain); err != nil {
		return nil, err
	}
	body, err := soap.BuildChallenge(&cc, serverKey, challengeSigner{d}, rand)
	if errors.Is(err, ErrKeysLost) {
		return nil, fmt.Errorf("tee: cannot sign the challenge: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrChallengeRefused, err)
	}
	return body, nil
}

// ownChain checks that a chain put in a challenge names this device's
// signing key in its leaf: the server verifies the challenge signature
// with that key. The rest of the chain is the server's to judge (a
// conformance runner sends chains with broken signatures on purpose).
func (d *Device) ownChain(raw []byte) error {
	chain, err := bcert.ParseChain(raw)
	if err != nil {
		return fmt.Errorf("%w: the certificate chain is malformed (%w)", ErrChallengeRefused, err)
	}
	if k, ok := chain.Leaf().KeyWithUsage(bcert.KeyUsageSign); !ok || k != d.signPub {
		return fmt.Errorf("%w: the certificate chain's leaf is not this device", ErrChallengeRefused)
	}
	return nil
}

// challengeSigner is the soap.Signer SignChallenge hands to
// soap.BuildChallenge. It never leaves the package, so nothing outside it
// can have an arbitrary digest signed with the device key.
type challengeSigner struct{ d *Device }

func (s challengeSigner) Public() ecc.Point { return s.d.signPub }

func (s challengeSigner) SignDigest(digest []byte) ([64]byte, error) {
	return s.d.signDigest(digest)
}

var _ soap.Signer = challengeSigner{}

// signDigest signs a SHA-256 digest with the device signing key (raw r‖s).
func (d *Device) signDigest(digest []byte) ([64]byte, error) {
	sig, err := d.signKey.sign(digest)
	if kerr := keysLost(err); kerr != nil {
		return sig, kerr
	}
	return sig, err
}
