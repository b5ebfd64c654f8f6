package securestop

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/wire/soap"
)

// MaxAckSessions bounds the sessions one acknowledgement names: ten full
// record lists, far above what one challenge carries.
const MaxAckSessions = 1000

const (
	ackMagic   = "PRSA"
	ackVersion = 1
	ackFixed   = 28 // magic 4, version 4, nonce 16, session count 4
)

// Ack is the server's acknowledgement of a secure-stop challenge
// (docs/protocol.md §11), signed with its SIGN_RESPONSE key (the
// license-signing leaf, chain included). Layout (big-endian):
//
//	off    size  field
//	0      4     magic "PRSA"
//	4      4     version, u32 = 1
//	8      16    nonce (the challenge's)
//	24     4     session count n, 0..1000
//	28     16·n  session IDs, distinct
//	28+16n 4     chain length N, 1..soap.MaxServerTimeChain
//	32+16n N     signing chain (BCert CHAI)
//	…      64    ECDSA P-256 signature r‖s over SHA-256 of every byte before it
type Ack struct {
	Nonce     [16]byte   // the challenge's nonce (a TEE nonce): an old ack cannot be replayed
	Sessions  [][16]byte // the sessions the server accepted (stored)
	Chain     []byte     // the server's signing chain (BCert CHAI)
	Signature [64]byte   // ECDSA P-256 over SHA-256 of everything before it
}

func (a *Ack) signedPart() []byte {
	b := make([]byte, 0, ackFixed+len(a.Sessions)*16+4+len(a.Chain)+ecc.SignatureSize)
	b = append(b, ackMagic...)
	b = binary.BigEndian.AppendUint32(b, ackVersion)
	b = append(b, a.Nonce[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(a.Sessions)))
	for _, s := range a.Sessions {
		b = append(b, s[:]...)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(a.Chain)))
	return append(b, a.Chain...)
}

// Bytes encodes a with its current Signature.
func (a *Ack) Bytes() []byte { return append(a.signedPart(), a.Signature[:]...) }

// Sign sets a.Signature with s (the server's SIGN_RESPONSE key) and returns
// the encoding. It refuses what ParseAck would reject.
func (a *Ack) Sign(s soap.Signer) ([]byte, error) {
	if s == nil {
		return nil, errors.New("securestop: nil signer")
	}
	if len(a.Chain) == 0 || len(a.Chain) > soap.MaxServerTimeChain {
		return nil, fmt.Errorf("securestop: ack chain is %d bytes (want 1..%d)", len(a.Chain), soap.MaxServerTimeChain)
	}
	if len(a.Sessions) > MaxAckSessions {
		return nil, fmt.Errorf("securestop: ack names %d sessions (at most %d)", len(a.Sessions), MaxAckSessions)
	}
	seen := make(map[[16]byte]bool, len(a.Sessions))
	for _, id := range a.Sessions {
		if seen[id] {
			return nil, errors.New("securestop: ack names a session twice")
		}
		seen[id] = true
	}
	h := sha256.Sum256(a.signedPart())
	sig, err := s.SignDigest(h[:])
	if err != nil {
		return nil, fmt.Errorf("securestop: failed to sign the ack: %w", err)
	}
	a.Signature = sig
	return a.Bytes(), nil
}

func badAck(what string) error {
	return fmt.Errorf("securestop: ack: %s: %w: %w", what, ErrMalformed, drm.ErrSecureStopInvalidResponse)
}

// ParseAck decodes an acknowledgement strictly (exact length, version 1, at
// most MaxAckSessions distinct sessions, a chain of 1..soap.MaxServerTimeChain
// bytes). Every failure wraps ErrMalformed and
// drm.ErrSecureStopInvalidResponse. It does not verify the signature.
func ParseAck(b []byte) (*Ack, error) {
	if len(b) < ackFixed+4+ecc.SignatureSize {
		return nil, badAck("too short")
	}
	if string(b[:4]) != ackMagic {
		return nil, badAck("bad magic")
	}
	if v := binary.BigEndian.Uint32(b[4:]); v != ackVersion {
		return nil, badAck("unsupported version")
	}
	a := &Ack{Nonce: [16]byte(b[8:24])}
	n := binary.BigEndian.Uint32(b[24:])
	if n > MaxAckSessions {
		return nil, badAck("too many sessions")
	}
	off := uint64(ackFixed) + 16*uint64(n)
	if uint64(len(b)) < off+4+ecc.SignatureSize {
		return nil, badAck("truncated sessions")
	}
	seen := make(map[[16]byte]bool, n)
	if n > 0 {
		a.Sessions = make([][16]byte, n)
	}
	for i := range a.Sessions {
		id := [16]byte(b[ackFixed+16*i:])
		if seen[id] {
			return nil, badAck("duplicate session")
		}
		seen[id] = true
		a.Sessions[i] = id
	}
	c := uint64(binary.BigEndian.Uint32(b[off:]))
	if c == 0 || c > soap.MaxServerTimeChain || uint64(len(b)) != off+4+c+ecc.SignatureSize {
		return nil, badAck("chain length does not match the size")
	}
	a.Chain = bytes.Clone(b[off+4 : off+4+c])
	a.Signature = [64]byte(b[off+4+c:])
	return a, nil
}

// Verify checks the signature with pub, the key of the chain's leaf (usage
// SIGN_RESPONSE). The caller validates Chain to its root and checks the
// nonce. A mismatch wraps drm.ErrSecureStopInvalidResponse.
func (a *Ack) Verify(pub ecc.Point) error {
	h := sha256.Sum256(a.signedPart())
	if !ecc.Verify(pub, h[:], a.Signature[:]) {
		return fmt.Errorf("securestop: ack signature does not verify: %w", drm.ErrSecureStopInvalidResponse)
	}
	return nil
}
