package revocation

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/wire/bcert"
	"github.com/prsim/prsim/wire/kid"
)

// Layout constants (docs/formats/revocation.md §2–§4).
const (
	magicRLVI = 0x524C5649 // "RLVI", RevInfo v1 (legacy, refused)
	magicRLV2 = 0x524C5632 // "RLV2", RevInfo v2

	revInfoHeaderSize = 28 // magic, cbSignedBytes, version+reserved, RIV, issued, record count
	recordSize        = 24 // LE GUID + u64 BE version
	crlHeaderSize     = 24 // ID, version, entry count
	entrySize         = 32

	// SigTypeECC256 is the signature type of ECDSA-P256 signed lists.
	SigTypeECC256 = 2
	sigTrailerMin = 1 + 2 + ecc.SignatureSize

	// filetimeUnixOffset is 1970-01-01 in 100 ns ticks since 1601-01-01.
	filetimeUnixOffset = 116444736000000000
)

// maxChain bounds the trailing chain: a CHAI chain holds at most six
// certificates, far below this; larger input is not a list.
const maxChain = 64 << 10

func fromFiletime(ft uint64) time.Time {
	// Split before subtracting so no value of the u64 overflows.
	sec := int64(ft/10_000_000) - filetimeUnixOffset/10_000_000
	return time.Unix(sec, int64(ft%10_000_000)*100).UTC()
}

// toFiletime is the inverse of fromFiletime; ok is false for a time outside
// the FILETIME range or not a whole number of 100 ns ticks.
func toFiletime(t time.Time) (uint64, bool) {
	sec := t.Unix() + filetimeUnixOffset/10_000_000
	ns := int64(t.Nanosecond())
	const maxSec = ^uint64(0) / 10_000_000
	if sec < 0 || uint64(sec) > maxSec || ns%100 != 0 {
		return 0, false
	}
	v := uint64(sec) * 10_000_000
	if v+uint64(ns/100) < v {
		return 0, false
	}
	return v + uint64(ns/100), true
}

// ---- RevInfo v2 ----

// ParseRevInfo decodes a RevInfo v2 blob. It checks structure only; Verify
// checks the signature and the chain.
func ParseRevInfo(b []byte) (*RevInfo, error) {
	if len(b) < revInfoHeaderSize {
		return nil, errf("RevInfo: header truncated")
	}
	switch binary.BigEndian.Uint32(b) {
	case magicRLV2:
	case magicRLVI:
		return nil, errf("RevInfo: RLVI (v1) is not supported, only RLV2")
	default:
		return nil, errf("RevInfo: magic is not RLV2")
	}
	if b[8] != 2 || b[9] != 0 || b[10] != 0 || b[11] != 0 {
		return nil, errf("RevInfo: format version is not 2 or reserved bytes are not zero")
	}
	n := uint64(binary.BigEndian.Uint32(b[24:]))
	dataLen := uint64(revInfoHeaderSize) + n*recordSize
	if dataLen > uint64(len(b)) {
		return nil, errf("RevInfo: %d records overrun the blob", n)
	}
	if uint64(binary.BigEndian.Uint32(b[4:])) != dataLen {
		return nil, errf("RevInfo: cbSignedBytes does not match the signed part")
	}
	r := &RevInfo{
		RIV:    binary.BigEndian.Uint32(b[12:]),
		Issued: fromFiletime(binary.BigEndian.Uint64(b[16:])),
		Lists:  make([]ListVersion, 0, n),
	}
	for i := range int(n) {
		rec := b[revInfoHeaderSize+i*recordSize:]
		id, err := kid.FromGUID(rec[:16])
		if err != nil {
			return nil, errf("RevInfo: record %d", i)
		}
		r.Lists = append(r.Lists, ListVersion{ID: id, Version: binary.BigEndian.Uint64(rec[16:])})
	}
	chain, err := parseTrailer(b[dataLen:], &r.Signature, "RevInfo")
	if err != nil {
		return nil, err
	}
	r.Chain = chain
	return r, nil
}

// parseTrailer reads signature type, length, signature and the chain that
// take the rest of the blob.
func parseTrailer(t []byte, sig *[ecc.SignatureSize]byte, what string) ([]byte, error) {
	if len(t) < 3 {
		return nil, errf("%s: signature header truncated", what)
	}
	if t[0] != SigTypeECC256 {
		return nil, errf("%s: signature type %d is not 2 (ECDSA-P256)", what, t[0])
	}
	if binary.BigEndian.Uint16(t[1:]) != ecc.SignatureSize {
		return nil, errf("%s: signature length is not 64", what)
	}
	if len(t) < sigTrailerMin {
		return nil, errf("%s: signature truncated", what)
	}
	copy(sig[:], t[3:sigTrailerMin])
	chain := t[sigTrailerMin:]
	if len(chain) == 0 {
		return nil, errf("%s: no signer certificate chain", what)
	}
	if len(chain) > maxChain {
		return nil, errf("%s: signer chain is larger than %d bytes", what, maxChain)
	}
	return append([]byte(nil), chain...), nil
}

func appendTrailer(b []byte, sig [ecc.SignatureSize]byte, chain []byte) []byte {
	b = append(b, SigTypeECC256)
	b = binary.BigEndian.AppendUint16(b, ecc.SignatureSize)
	b = append(b, sig[:]...)
	return append(b, chain...)
}

// signedPart is the part of r the signature covers: header and records.
func (r *RevInfo) signedPart() []byte {
	n := len(r.Lists)
	b := make([]byte, 0, revInfoHeaderSize+n*recordSize+sigTrailerMin+len(r.Chain))
	b = binary.BigEndian.AppendUint32(b, magicRLV2)
	b = binary.BigEndian.AppendUint32(b, uint32(revInfoHeaderSize+n*recordSize))
	b = append(b, 2, 0, 0, 0)
	b = binary.BigEndian.AppendUint32(b, r.RIV)
	ft, _ := toFiletime(r.Issued) // Sign refuses an unrepresentable time
	b = binary.BigEndian.AppendUint64(b, ft)
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	for _, l := range r.Lists {
		g := l.ID.GUID()
		b = append(b, g[:]...)
		b = binary.BigEndian.AppendUint64(b, l.Version)
	}
	return b
}

// Bytes encodes r; a parsed RevInfo encodes to the bytes it came from.
func (r *RevInfo) Bytes() []byte { return appendTrailer(r.signedPart(), r.Signature, r.Chain) }

// Sign sets r.Chain to chain, signs r with s (whose key must be the chain
// leaf's SIGN_CRL key) and returns the blob.
func (r *RevInfo) Sign(s Signer, chain []byte) ([]byte, error) {
	if _, ok := toFiletime(r.Issued); !ok {
		return nil, errf("RevInfo: issued time is outside the FILETIME range or finer than 100 ns")
	}
	sig, err := sign(s, chain, r.signedPart())
	if err != nil {
		return nil, fmt.Errorf("revocation: RevInfo: %w", err)
	}
	r.Chain, r.Signature = append([]byte(nil), chain...), sig
	return r.Bytes(), nil
}

// Verify checks r's signature with the chain leaf's SIGN_CRL key and the
// chain (leaf CRL_SIGNER) against roots at time at; it returns the root key
// the chain ends at.
func (r *RevInfo) Verify(roots []ecc.Point, at time.Time) (ecc.Point, error) {
	return verify(r.signedPart(), r.Signature, r.Chain, roots, at, "RevInfo")
}

// Version returns the version r vouches for list id.
func (r *RevInfo) Version(id kid.ID) (uint64, bool) {
	for _, l := range r.Lists {
		if l.ID == id {
			return l.Version, true
		}
	}
	return 0, false
}

// ---- CRL ----

// ParseCRL decodes a PlayReady runtime or application CRL. It checks
// structure only; Verify checks the signature and the chain.
func ParseCRL(b []byte) (*CRL, error) {
	if len(b) < crlHeaderSize {
		return nil, errf("CRL: header truncated")
	}
	id, err := kid.FromGUID(b[:16])
	if err != nil {
		return nil, errf("CRL: list ID")
	}
	n := uint64(binary.BigEndian.Uint32(b[20:]))
	dataLen := uint64(crlHeaderSize) + n*entrySize
	if dataLen > uint64(len(b)) {
		return nil, errf("CRL: %d entries overrun the blob", n)
	}
	c := &CRL{ID: id, Version: binary.BigEndian.Uint32(b[16:]), Entries: make([][32]byte, n)}
	for i := range c.Entries {
		copy(c.Entries[i][:], b[crlHeaderSize+i*entrySize:])
	}
	if c.Chain, err = parseTrailer(b[dataLen:], &c.Signature, "CRL"); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *CRL) signedPart() []byte {
	b := make([]byte, 0, crlHeaderSize+len(c.Entries)*entrySize+sigTrailerMin+len(c.Chain))
	g := c.ID.GUID()
	b = append(b, g[:]...)
	b = binary.BigEndian.AppendUint32(b, c.Version)
	b = binary.BigEndian.AppendUint32(b, uint32(len(c.Entries)))
	for _, e := range c.Entries {
		b = append(b, e[:]...)
	}
	return b
}

// Bytes encodes c; a parsed CRL encodes to the bytes it came from.
func (c *CRL) Bytes() []byte { return appendTrailer(c.signedPart(), c.Signature, c.Chain) }

// Sign sets c.Chain to chain, signs c with s (whose key must be the chain
// leaf's SIGN_CRL key) and returns the blob.
func (c *CRL) Sign(s Signer, chain []byte) ([]byte, error) {
	sig, err := sign(s, chain, c.signedPart())
	if err != nil {
		return nil, fmt.Errorf("revocation: CRL: %w", err)
	}
	c.Chain, c.Signature = append([]byte(nil), chain...), sig
	return c.Bytes(), nil
}

// Verify checks c's signature with the chain leaf's SIGN_CRL key and the
// chain (leaf CRL_SIGNER) against roots at time at; it returns the root key
// the chain ends at.
func (c *CRL) Verify(roots []ecc.Point, at time.Time) (ecc.Point, error) {
	return verify(c.signedPart(), c.Signature, c.Chain, roots, at, "CRL")
}

// ---- signing and verification ----

// signerKey returns the SIGN_CRL key of chain's leaf, which must be a
// CRL_SIGNER certificate.
func signerKey(chain []byte) (*bcert.Chain, ecc.Point, error) {
	ch, err := bcert.ParseChain(chain)
	if err != nil {
		return nil, ecc.Point{}, fmt.Errorf("signer chain: %w", err)
	}
	leaf := ch.Leaf()
	if leaf.Basic().Type != bcert.CertTypeCRLSigner {
		return nil, ecc.Point{}, fmt.Errorf("signer certificate is not a CRL_SIGNER: %w", drm.ErrBCertInvalidCertType)
	}
	k, ok := leaf.KeyWithUsage(bcert.KeyUsageSignCRL)
	if !ok {
		return nil, ecc.Point{}, fmt.Errorf("signer certificate has no SIGN_CRL key: %w", drm.ErrBCertInvalidKeyUsage)
	}
	return ch, k, nil
}

func sign(s Signer, chain, data []byte) ([ecc.SignatureSize]byte, error) {
	var zero [ecc.SignatureSize]byte
	if len(chain) > maxChain {
		return zero, fmt.Errorf("signer chain is larger than %d bytes: %w", maxChain, drm.ErrInvalidRevocationList)
	}
	_, k, err := signerKey(chain)
	if err != nil {
		return zero, err
	}
	if s.Public() != k {
		return zero, fmt.Errorf("signing key is not the chain leaf's SIGN_CRL key: %w", drm.ErrInvalidRevocationList)
	}
	d := sha256.Sum256(data)
	return s.SignDigest(d[:])
}

func verify(data []byte, sig [ecc.SignatureSize]byte, chain []byte, roots []ecc.Point, at time.Time, what string) (ecc.Point, error) {
	var zero ecc.Point
	ch, k, err := signerKey(chain)
	if err != nil {
		return zero, fmt.Errorf("revocation: %s: %w", what, err)
	}
	if err := ch.Verify(bcert.VerifyOptions{Roots: roots, CurrentTime: at, LeafType: bcert.CertTypeCRLSigner}); err != nil {
		return zero, fmt.Errorf("revocation: %s: signer chain: %w", what, err)
	}
	d := sha256.Sum256(data)
	if !ecc.Verify(k, d[:], sig[:]) {
		return zero, fmt.Errorf("revocation: %s: signature does not verify with the signer's SIGN_CRL key: %w", what, drm.ErrInvalidSignature)
	}
	_, root, err := ch.Certs[len(ch.Certs)-1].SignatureInfo()
	if err != nil {
		return zero, fmt.Errorf("revocation: %s: signer chain root: %w", what, err)
	}
	return root, nil
}

// ---- WMDRMNET (legacy, parse only) ----

// ParseWMDRMNET decodes the binary WMDRMNET list (after any XML/base64
// wrapping is removed). prsim neither signs nor verifies it: its chain is an
// XML RSA certificate chain outside prsim's PKI.
func ParseWMDRMNET(b []byte) (*WMDRMNET, error) {
	if len(b) < 8 {
		return nil, errf("WMDRMNET: header truncated")
	}
	n := uint64(binary.BigEndian.Uint32(b[4:]))
	off := 8 + n*20
	if off+4 > uint64(len(b)) {
		return nil, errf("WMDRMNET: %d entries overrun the blob", n)
	}
	w := &WMDRMNET{Version: binary.BigEndian.Uint32(b), Entries: make([][20]byte, n)}
	for i := range w.Entries {
		copy(w.Entries[i][:], b[8+i*20:])
	}
	cl := uint64(binary.BigEndian.Uint32(b[off:]))
	off += 4
	if off+cl+3 > uint64(len(b)) {
		return nil, errf("WMDRMNET: certificate chain overruns the blob")
	}
	w.Chain = append([]byte(nil), b[off:off+cl]...)
	off += cl
	w.SigType = b[off]
	sl := uint64(binary.BigEndian.Uint16(b[off+1:]))
	off += 3
	if off+sl != uint64(len(b)) {
		return nil, errf("WMDRMNET: signature length does not match the blob")
	}
	w.Signature = append([]byte(nil), b[off:]...)
	return w, nil
}

// Bytes encodes w; a parsed list encodes to the bytes it came from.
func (w *WMDRMNET) Bytes() []byte {
	b := binary.BigEndian.AppendUint32(nil, w.Version)
	b = binary.BigEndian.AppendUint32(b, uint32(len(w.Entries)))
	for _, e := range w.Entries {
		b = append(b, e[:]...)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(w.Chain)))
	b = append(b, w.Chain...)
	b = append(b, w.SigType)
	b = binary.BigEndian.AppendUint16(b, uint16(len(w.Signature)))
	return append(b, w.Signature...)
}
