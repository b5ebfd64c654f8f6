// Package keywrap implements the AES key wrap of RFC 3394 §2.2 with the
// default initial value A6A6A6A6A6A6A6A6 (RFC 3394 §2.2.3.1).
//
// prsim uses it for the SecureStop2 key a license carries: the server wraps
// the 16-byte key under the license's content integrity key
// (docs/formats/xmr.md, SECURESTOP2 0x5C; docs/protocol.md §11). It is
// written here because the Go standard library has no key wrap and the fixed
// dependency list allows no third-party crypto; the algorithm is 40 lines and
// checked against the RFC 3394 §4 vectors.
//
// # Security considerations
//
// The KEK and the key must be kept secret; errors never carry either. Unwrap
// compares the integrity value in constant time and returns nothing but
// [ErrUnwrap] on a mismatch, so a caller cannot tell a wrong KEK from
// tampered bytes.
package keywrap

import (
	"crypto/aes"
	"crypto/subtle"
	"encoding/binary"
	"errors"
)

// ErrUnwrap reports a wrapped key that does not unwrap under the KEK: a
// wrong key, tampered bytes or a bad length (the integrity check of
// RFC 3394 §2.2.3).
var ErrUnwrap = errors.New("keywrap: integrity check failed")

// Overhead is the number of bytes Wrap adds to the key: the 64-bit
// integrity value.
const Overhead = 8

// defaultIV is the initial value of RFC 3394 §2.2.3.1.
var defaultIV = [8]byte{0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6}

// maxKey bounds the key length: the step counter t = n·j stays far within
// 64 bits and no caller wraps more than a key.
const maxKey = 1 << 16

// Wrap wraps key (a multiple of 8 bytes, 16 to maxKey) under the AES key kek
// (16, 24 or 32 bytes), RFC 3394 §2.2.1 in its index-based form.
func Wrap(kek, key []byte) ([]byte, error) {
	if len(key) < 16 || len(key)%8 != 0 || len(key) > maxKey {
		return nil, errors.New("keywrap: key must be a multiple of 8 bytes, 16 to 65536")
	}
	b, err := aes.NewCipher(kek)
	if err != nil {
		return nil, errors.New("keywrap: KEK must be 16, 24 or 32 bytes")
	}
	n := len(key) / 8
	out := make([]byte, Overhead+len(key))
	copy(out[Overhead:], key)
	var buf [16]byte
	copy(buf[:8], defaultIV[:])
	for j := 0; j < 6; j++ {
		for i := 1; i <= n; i++ {
			r := out[i*8 : i*8+8]
			copy(buf[8:], r)
			b.Encrypt(buf[:], buf[:])
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(buf[:8], binary.BigEndian.Uint64(buf[:8])^t)
			copy(r, buf[8:])
		}
	}
	copy(out[:8], buf[:8])
	clear(buf[:])
	return out, nil
}

// Unwrap reverses Wrap (RFC 3394 §2.2.2) and checks the integrity value
// (§2.2.3). Any mismatch, and any length Wrap cannot produce, returns
// [ErrUnwrap] and no bytes.
func Unwrap(kek, wrapped []byte) ([]byte, error) {
	if len(wrapped) < Overhead+16 || len(wrapped)%8 != 0 || len(wrapped) > Overhead+maxKey {
		return nil, ErrUnwrap
	}
	b, err := aes.NewCipher(kek)
	if err != nil {
		return nil, errors.New("keywrap: KEK must be 16, 24 or 32 bytes")
	}
	n := len(wrapped)/8 - 1
	out := make([]byte, len(wrapped)-Overhead)
	copy(out, wrapped[Overhead:])
	var buf [16]byte
	copy(buf[:8], wrapped[:8])
	for j := 5; j >= 0; j-- {
		for i := n; i >= 1; i-- {
			r := out[(i-1)*8 : i*8]
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(buf[:8], binary.BigEndian.Uint64(buf[:8])^t)
			copy(buf[8:], r)
			b.Decrypt(buf[:], buf[:])
			copy(r, buf[8:])
		}
	}
	ok := subtle.ConstantTimeCompare(buf[:8], defaultIV[:]) == 1
	clear(buf[:])
	if !ok {
		clear(out)
		return nil, ErrUnwrap
	}
	return out, nil
}
