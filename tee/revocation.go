package tee

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/wire/bcert"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/revocation"
)

// Revocation data (DRM_TEE_REVOCATION_IngestRevocationInfo's place;
// docs/protocol.md §12): the TEE keeps, in its sealed state, the newest
// RevInfo v2 and runtime/application CRLs it has verified, and never
// moves back.

// revRecord is one held list: its ID, version and the signed blob.
type revRecord struct {
	ID      []byte `json:"id"`
	Version uint64 `json:"v"`
	Blob    []byte `json:"b"`
}

// RevocationList is a held list's identity and version.
type RevocationList struct {
	ID      kid.ID
	Name    string // "revinfo2", "runtime", "app"
	Version uint64
}

// The lists a device holds and advertises, in the order a challenge
// names them (docs/formats/revocation.md §1).
var heldLists = []kid.ID{revocation.ListRuntime, revocation.ListApp, revocation.ListRevInfo2, revocation.ListWMDRMNET}

// ErrRevocationListRefused is matched (errors.Is) by an ingest refusal;
// the error also wraps DRM_E_INVALID_REVOCATION_LIST (malformed, bad
// signature, not a CRL signer) or DRM_E_OUTDATED_REVOCATION_LIST (not
// newer than the list held).
var ErrRevocationListRefused = errors.New("tee: revocation list refused")

// IngestRevocation verifies a revocation list a server delivered and keeps
// it if it is newer than the one held: its signature must verify with the
// embedded chain, whose leaf is a CRL_SIGNER with a SIGN_CRL key and which
// verifies to the device's root. An older or equal version, an unsigned
// list or one signed by another key is refused and the held list stays.
// It reports whether the list was kept. WMDRM-ND lists are parsed and
// ignored (prsim has no WMDRM-ND transmitter).
func (d *Device) IngestRevocation(id kid.ID, blob []byte) (bool, error) {
	refuse := func(code drm.Code, why string) error {
		return fmt.Errorf("%w: %s list: %s: %w", ErrRevocationListRefused, nameOf(id), why, code)
	}
	var version uint64
	now := d.wall.Now()
	switch id {
	case revocation.ListRevInfo2:
		r, err := revocation.ParseRevInfo(blob)
		if err != nil {
			return false, refuse(drm.ErrInvalidRevocationList, "malformed")
		}
		if _, err := r.Verify([]ecc.Point{d.root}, now); err != nil {
			return false, refuse(drm.ErrInvalidRevocationList, "its signature or signer chain does not verify to the device's root as a CRL signer ("+err.Error()+")")
		}
		version = uint64(r.RIV)
	case revocation.ListRuntime, revocation.ListApp:
		c, err := revocation.ParseCRL(blob)
		if err != nil {
			return false, refuse(drm.ErrInvalidRevocationList, "malformed")
		}
		if c.ID != id {
			return false, refuse(drm.ErrInvalidRevocationList, "it names another list")
		}
		if _, err := c.Verify([]ecc.Point{d.root}, now); err != nil {
			return false, refuse(drm.ErrInvalidRevocationList, "its signature or signer chain does not verify to the device's root as a CRL signer ("+err.Error()+")")
		}
		version = uint64(c.Version)
	case revocation.ListWMDRMNET:
		if _, err := revocation.ParseWMDRMNET(blob); err != nil {
			return false, refuse(drm.ErrInvalidRevocationList, "malformed")
		}
		return false, nil
	default:
		return false, nil // a list prsim does not know: not kept
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	i := d.findList(id)
	if i >= 0 && d.rec.Revocation[i].Version >= version {
		return false, refuse(drm.ErrOutdatedRevocationList,
			fmt.Sprintf("version %d is not newer than the version %d held", version, d.rec.Revocation[i].Version))
	}
	prev := d.rec.Revocation
	next := slices.Clone(prev)
	r := revRecord{ID: bytes.Clone(id[:]), Version: version, Blob: bytes.Clone(blob)}
	if i >= 0 {
		next[i] = r
	} else {
		next = append(next, r)
	}
	d.rec.Revocation = next
	if err := d.commitLocked(); err != nil {
		d.rec.Revocation = prev
		return false, err
	}
	return true, nil
}

func nameOf(id kid.ID) string {
	if n := revocation.ListName(id); n != "" {
		return n
	}
	return id.String()
}

// findList returns the index of a held list, or -1. d.mu is held.
func (d *Device) findList(id kid.ID) int {
	for i, r := range d.rec.Revocation {
		if bytes.Equal(r.ID, id[:]) {
			return i
		}
	}
	return -1
}

// RevocationStatus returns the RIV of the RevInfo held (0 = none) and the
// version of every list a device advertises (0 = none held).
func (d *Device) RevocationStatus() (riv uint32, lists []RevocationList) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, id := range heldLists {
		l := RevocationList{ID: id, Name: revocation.ListName(id)}
		if i := d.findList(id); i >= 0 {
			l.Version = d.rec.Revocation[i].Version
		}
		if id == revocation.ListRevInfo2 {
			riv = uint32(l.Version)
		}
		lists = append(lists, l)
	}
	return riv, lists
}

// heldRIV is the RIV of the RevInfo held. d.mu is held.
func (d *Device) heldRIV() uint32 {
	if i := d.findList(revocation.ListRevInfo2); i >= 0 {
		return uint32(d.rec.Revocation[i].Version)
	}
	return 0
}

// runtimeCRL returns the held runtime CRL, or nil. d.mu is held. The blob
// was verified when it was ingested and is authenticated with the state.
func (d *Device) runtimeCRL() *revocation.CRL {
	i := d.findList(revocation.ListRuntime)
	if i < 0 {
		return nil
	}
	c, err := revocation.ParseCRL(d.rec.Revocation[i].Blob)
	if err != nil {
		return nil
	}
	return c
}

// checkRIV refuses a license that needs newer revocation information than
// the device holds (DRM_E_RIV_TOO_SMALL): the REE then acquires again,
// which delivers the lists, and retries.
func (d *Device) checkRIV(need uint32) error {
	if need == 0 {
		return nil
	}
	d.mu.Lock()
	held := d.heldRIV()
	d.mu.Unlock()
	if need > held {
		return fmt.Errorf("tee: the license needs revocation information version %d and the device holds %d: %w", need, held, drm.ErrRIVTooSmall)
	}
	return nil
}

// receiverRevoked says why a receiver certificate chain (an output that
// passes content on to another device, e.g. a cast target) must not get
// content: it does not verify to the device's root, or a certificate in it
// is on the held runtime CRL. "" means it may.
func (d *Device) receiverRevoked(raw []byte) string {
	chain, err := bcert.ParseChain(raw)
	if err != nil {
		return "the receiver's certificate chain is malformed: " + drm.ErrCertificateRevoked.String()
	}
	if err := chain.Verify(bcert.VerifyOptions{Roots: []ecc.Point{d.root}, CurrentTime: d.wall.Now()}); err != nil {
		return "the receiver's certificate chain does not verify to the device's root (" + err.Error() + "): " + drm.ErrCertificateRevoked.String()
	}
	d.mu.Lock()
	crl := d.runtimeCRL()
	d.mu.Unlock()
	if crl == nil {
		return ""
	}
	for i, c := range chain.Certs {
		if crl.Revoked(c.Basic().Digest) {
			what := "its model certificate"
			if i == 0 {
				what = "its certificate"
			}
			return fmt.Sprintf("the receiver is revoked: %s is on the runtime CRL (version %d): %s", what, crl.Version, drm.ErrCertificateRevoked)
		}
	}
	return ""
}
