package xmr

import (
	"encoding/binary"
	"fmt"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/cmac"
)

// Bytes returns the encoding of the license. For a parsed license it is
// byte-identical to the input of Parse.
func (l *License) Bytes() []byte {
	b := make([]byte, 0, HeaderSize+l.Outer.Len())
	b = append(b, magic...)
	b = binary.BigEndian.AppendUint32(b, l.Version)
	b = append(b, l.RightsID[:]...)
	return l.Outer.appendTo(b)
}

// signature returns the signature object's type and tag, when the last child
// of the outer container is a well-formed SIGNATURE object.
func (l *License) signature() (sigType uint16, tag []byte, ok bool) {
	if l.Outer == nil || len(l.Outer.Children) == 0 {
		return 0, nil, false
	}
	s := l.Outer.Children[len(l.Outer.Children)-1]
	if s.Type != TypeSignature {
		return 0, nil, false
	}
	v, ok := decodeObject(s)
	if !ok {
		return 0, nil, false
	}
	return uint16(v[0].u), v[1].b, true
}

// SignedBytes returns the bytes the license MAC covers:
// license[0 : total − 12 − cbSig], from the magic up to the first byte of the
// signature object (docs/formats/xmr.md §9). It returns nil if the license has no
// well-formed signature object in last place.
func (l *License) SignedBytes() []byte {
	_, tag, ok := l.signature()
	if !ok {
		return nil
	}
	b := l.Bytes()
	return b[:len(b)-signatureHeaderAndFieldLen-len(tag)]
}

// VerifySignature checks the AES-CMAC signature with the content integrity
// key ci (docs/formats/xmr.md §9). A signature type other than AES-CMAC wraps
// drm.ErrInvalidLicense; a tag that does not verify (or a ci of the wrong
// size) wraps drm.ErrLicSignatureFailure. Only after this succeeds may the
// caller accept the content key (docs/formats/xmr.md §10).
func (l *License) VerifySignature(ci []byte) error {
	sigType, tag, ok := l.signature()
	if !ok {
		return invalid("no signature object in last place")
	}
	if sigType != SignatureTypeAESCMAC {
		return invalid("signature type is not AES-CMAC")
	}
	if len(ci) != 16 {
		return fmt.Errorf("xmr: content integrity key is not 16 bytes: %w", drm.ErrLicSignatureFailure)
	}
	if !cmac.Verify(ci, l.SignedBytes(), tag) {
		return fmt.Errorf("xmr: license signature does not verify: %w", drm.ErrLicSignatureFailure)
	}
	return nil
}

// Sign recomputes the AES-CMAC tag of an encoded license in place, with key
// ci. It checks only the framing it needs (header, outer length, an
// AES-CMAC signature object as the last child of the outer container), so
// it also signs licenses that Parse would reject, which negative tests
// need.
func Sign(license []byte, ci []byte) error {
	off, err := tagOffset(license)
	if err != nil {
		return err
	}
	if len(ci) != 16 {
		return fmt.Errorf("xmr: content integrity key is not 16 bytes: %w", drm.ErrLicSignatureFailure)
	}
	tag, err := cmac.Sum(ci, license[:off-signatureHeaderAndFieldLen])
	if err != nil {
		return fmt.Errorf("xmr: failed to compute the license MAC: %w", err)
	}
	copy(license[off:], tag[:])
	return nil
}

// tagOffset finds the 16-byte AES-CMAC tag of an encoded license.
func tagOffset(b []byte) (int, error) {
	if len(b) < HeaderSize+ObjectHeaderSize || string(b[:4]) != magic ||
		uint64(binary.BigEndian.Uint32(b[HeaderSize+4:])) != uint64(len(b)-HeaderSize) {
		return 0, invalid("license framing is broken")
	}
	last := -1
	for pos := HeaderSize + ObjectHeaderSize; pos < len(b); {
		if len(b)-pos < ObjectHeaderSize {
			return 0, invalid("license framing is broken")
		}
		n := binary.BigEndian.Uint32(b[pos+4:])
		if n < ObjectHeaderSize || uint64(n) > uint64(len(b)-pos) {
			return 0, invalid("license framing is broken")
		}
		last = pos
		pos += int(n)
	}
	const sigLen = signatureHeaderAndFieldLen + signatureTagSize
	if last < 0 || len(b)-last != sigLen ||
		binary.BigEndian.Uint16(b[last+2:]) != TypeSignature ||
		binary.BigEndian.Uint16(b[last+8:]) != SignatureTypeAESCMAC ||
		binary.BigEndian.Uint16(b[last+10:]) != signatureTagSize {
		return 0, invalid("no AES-CMAC signature object in last place")
	}
	return last + signatureHeaderAndFieldLen, nil
}
