// Package cmac implements AES-CMAC (OMAC1, RFC 4493), the MAC of XMR license
// signatures (docs/formats/xmr.md §9).
//
// Written here rather than imported: the Go standard library has no public
// CMAC, and the third-party packages (aead/cmac, dchest/cmac) are archived or
// unmaintained; the algorithm is 40 lines and checked against RFC 4493 §4.
package cmac

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
)

// Size is the tag length in bytes.
const Size = 16

// Sum returns the AES-CMAC of msg under a 16-, 24- or 32-byte AES key.
func Sum(key, msg []byte) ([Size]byte, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return [Size]byte{}, err
	}
	return SumBlock(b, msg), nil
}

// SumBlock returns the CMAC of msg under an AES block cipher.
func SumBlock(b cipher.Block, msg []byte) [Size]byte {
	var k1, k2, x, y [Size]byte
	b.Encrypt(k1[:], k1[:]) // L = AES(K, 0)
	k1 = dbl(k1)
	k2 = dbl(k1)
	n := (len(msg) + Size - 1) / Size
	complete := n > 0 && len(msg)%Size == 0
	if n == 0 {
		n = 1
	}
	for i := 0; i < n-1; i++ {
		subtle.XORBytes(y[:], x[:], msg[i*Size:(i+1)*Size])
		b.Encrypt(x[:], y[:])
	}
	var last [Size]byte
	tail := msg[(n-1)*Size:]
	if complete {
		subtle.XORBytes(last[:], tail, k1[:])
	} else {
		copy(last[:], tail)
		last[len(tail)] = 0x80
		subtle.XORBytes(last[:], last[:], k2[:])
	}
	subtle.XORBytes(y[:], x[:], last[:])
	b.Encrypt(x[:], y[:])
	return x
}

// Verify reports in constant time whether tag is the CMAC of msg under key.
func Verify(key, msg, tag []byte) bool {
	sum, err := Sum(key, msg)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(sum[:], tag) == 1
}

// dbl multiplies by x in GF(2^128) (RFC 4493 §2.3 subkey generation).
func dbl(in [Size]byte) [Size]byte {
	var out [Size]byte
	carry := in[0] >> 7
	for i := 0; i < Size-1; i++ {
		out[i] = in[i]<<1 | in[i+1]>>7
	}
	out[Size-1] = in[Size-1]<<1 ^ (0x87 * carry)
	return out
}
