package soap

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
)

// ServerTime is a License Server Time statement: the server's time, signed
// with its secure-time key. The wire elements of License Server Time are
// not public; prsim's own (docs/protocol.md, "License Server Time") is a
// binary blob, carried base64 in LicenseResponse/LicenseServerTime and
// served raw by GET /prsim/time:
//
//	offset  size  field
//	0       4     magic "PRST"
//	4       4     version, u32 big-endian, = 1
//	8       8     time, i64 big-endian, Unix seconds (UTC)
//	16      16    nonce: the challenge's nonce, or the /prsim/time one; zero if none
//	32      4     chain length N, u32 big-endian, 1..MaxServerTimeChain
//	36      N     time-server certificate chain (BCert CHAI)
//	36+N    64    ECDSA P-256 signature r‖s over SHA-256 of bytes [0, 36+N)
//
// The signing key is the chain leaf's key with usage [KeyUsageSignSecureTime];
// the caller validates the chain (docs/formats/bcert.md §11).
type ServerTime struct {
	Time      int64
	Nonce     [16]byte
	Chain     []byte
	Signature [64]byte
}

// KeyUsageSignSecureTime is the prsim-defined BCert key usage of the key
// that signs License Server Time (docs/protocol.md §4). No public usage
// value names a secure-time signing key (0x17 ISSUER_SECURETIMESERVER is
// an issuer usage, docs/formats/bcert.md §8), so prsim picks one far
// outside the public range.
const KeyUsageSignSecureTime uint32 = 0x50520017

// MaxServerTimeChain bounds the embedded chain (six certificates fit).
const MaxServerTimeChain = 16 << 10

const (
	serverTimeMagic   = "PRST"
	serverTimeVersion = 1
	serverTimeFixed   = 36
)

// signedPart returns the bytes the signature covers.
func (t *ServerTime) signedPart() []byte {
	b := make([]byte, serverTimeFixed, serverTimeFixed+len(t.Chain)+64)
	copy(b, serverTimeMagic)
	binary.BigEndian.PutUint32(b[4:], serverTimeVersion)
	binary.BigEndian.PutUint64(b[8:], uint64(t.Time))
	copy(b[16:], t.Nonce[:])
	binary.BigEndian.PutUint32(b[32:], uint32(len(t.Chain)))
	return append(b, t.Chain...)
}

// Bytes encodes t with its current Signature.
func (t *ServerTime) Bytes() []byte { return append(t.signedPart(), t.Signature[:]...) }

// Sign sets t.Signature with signer (the secure-time key) and returns the
// encoding.
func (t *ServerTime) Sign(signer Signer) ([]byte, error) {
	if signer == nil {
		return nil, errors.New("soap: nil signer")
	}
	if len(t.Chain) == 0 || len(t.Chain) > MaxServerTimeChain {
		return nil, fmt.Errorf("soap: server time chain is %d bytes (want 1..%d)", len(t.Chain), MaxServerTimeChain)
	}
	h := sha256.Sum256(t.signedPart())
	sig, err := signer.SignDigest(h[:])
	if err != nil {
		return nil, fmt.Errorf("soap: failed to sign server time: %w", err)
	}
	t.Signature = sig
	return t.Bytes(), nil
}

// ParseServerTime parses the blob of [ServerTime]. Every malformation wraps
// drm.ErrSecureTimeInvalidRequestData.
func ParseServerTime(b []byte) (*ServerTime, error) {
	bad := func(what string) error { return errf(drm.ErrSecureTimeInvalidRequestData, "server time: %s", what) }
	if len(b) < serverTimeFixed+64 {
		return nil, bad("too short")
	}
	if string(b[:4]) != serverTimeMagic {
		return nil, bad("bad magic")
	}
	if v := binary.BigEndian.Uint32(b[4:]); v != serverTimeVersion {
		return nil, bad(fmt.Sprintf("unsupported version %d", v))
	}
	n := binary.BigEndian.Uint32(b[32:])
	if n == 0 || n > MaxServerTimeChain || uint64(len(b)) != serverTimeFixed+uint64(n)+64 {
		return nil, bad("chain length does not match the size")
	}
	t := &ServerTime{Time: int64(binary.BigEndian.Uint64(b[8:])), Nonce: [16]byte(b[16:32]),
		Chain: bytes.Clone(b[serverTimeFixed : serverTimeFixed+n]), Signature: [64]byte(b[serverTimeFixed+n:])}
	return t, nil
}

// Verify checks the signature with pub, the chain leaf's secure-time key.
// A mismatch wraps drm.ErrSecureTimeInvalidRequestData.
func (t *ServerTime) Verify(pub ecc.Point) error {
	h := sha256.Sum256(t.signedPart())
	if !ecc.Verify(pub, h[:], t.Signature[:]) {
		return errf(drm.ErrSecureTimeInvalidRequestData, "server time signature does not verify")
	}
	return nil
}
