package pro

import (
	"crypto/aes"
	"crypto/sha1"
	"crypto/subtle"
	"errors"

	"github.com/prsim/prsim/wire/kid"
)

// Checksum computes the key checksum of header spec §5 (docs/formats/pro-header.md
// §6) for a content key:
//
//   - AESCTR: AES-128-ECB-encrypt the KID in its little-endian GUID layout
//     (the bytes VALUE encodes) with the 16-byte key; the first 8 bytes.
//   - COCKTAIL: a 21-byte buffer holds the key (at most 21 bytes; 7 in
//     practice), zero-padded; five times, the first 20 bytes of the buffer
//     become the SHA-1 of all 21; the first 7 bytes.
//   - AESCBC: no checksum is defined; Checksum returns nil, nil.
//
// The result is the raw checksum; the header carries its base64.
func Checksum(algID string, id kid.ID, key []byte) ([]byte, error) {
	switch algID {
	case AlgAESCTR:
		if len(key) != 16 {
			return nil, errors.New("pro: AESCTR content key must be 16 bytes")
		}
		c, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		g := id.GUID()
		var out [16]byte
		c.Encrypt(out[:], g[:])
		return out[:8:8], nil
	case AlgCocktail:
		if len(key) == 0 || len(key) > 21 {
			return nil, errors.New("pro: COCKTAIL content key must be 1 to 21 bytes")
		}
		var buf [21]byte
		copy(buf[:], key)
		for range 5 {
			sum := sha1.Sum(buf[:])
			copy(buf[:], sum[:])
		}
		return buf[:7:7], nil
	case AlgAESCBC:
		return nil, nil
	}
	return nil, errors.New("pro: no checksum algorithm for this ALGID")
}

// checksumLen is the CHECKSUM length for an ALGID ("" is treated as AESCTR:
// in 4.3.0.0 a checksum is defined only for AESCTR keys).
func checksumLen(algID string) int {
	if algID == AlgCocktail {
		return 7
	}
	return 8
}

// VerifyChecksum reports whether key matches k's CHECKSUM. It returns true
// when k has no checksum (nothing to check) and false on any mismatch, for
// an AESCBC key that carries a checksum, or for a key of the wrong size. A
// KeyInfo without ALGID (4.3.0.0) is checked as AESCTR. The comparison is
// constant-time.
func (k KeyInfo) VerifyChecksum(key []byte) bool {
	if k.Checksum == nil {
		return true
	}
	alg := k.AlgID
	if alg == "" {
		alg = AlgAESCTR
	}
	if alg == AlgAESCBC {
		return false
	}
	want, err := Checksum(alg, k.ID, key)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(want, k.Checksum) == 1
}
