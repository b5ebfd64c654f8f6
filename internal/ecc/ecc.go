// Package ecc holds the NIST P-256 operations PlayReady uses beyond
// crypto/ecdsa and crypto/ecdh: raw X‖Y points and r‖s signatures, point
// addition and subtraction, and EC-ElGamal of a point (docs/formats/xmr.md §10,
// docs/formats/soap.md §4).
//
// Point arithmetic comes from filippo.io/nistec, the standalone export of the
// Go standard library's constant-time NIST curve code (crypto/internal/...
// is not importable and crypto/elliptic's Add is deprecated).
package ecc

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"errors"
	"io"
	"math/big"

	"filippo.io/nistec"
)

// Sizes of the raw encodings PlayReady uses.
const (
	ScalarSize     = 32
	PointSize      = 64  // X‖Y, no 0x04 prefix
	SignatureSize  = 64  // r‖s
	CiphertextSize = 128 // C1.x‖C1.y‖C2.x‖C2.y
)

// Point is a P-256 point as X‖Y, each 32 bytes big-endian.
type Point [PointSize]byte

// ErrPoint is returned for bytes that are not a point on the curve (or the
// point at infinity where a finite point is needed).
var ErrPoint = errors.New("ecc: invalid P-256 point")

func (p Point) decode() (*nistec.P256Point, error) {
	var u [1 + PointSize]byte
	u[0] = 4
	copy(u[1:], p[:])
	q, err := nistec.NewP256Point().SetBytes(u[:])
	if err != nil {
		return nil, ErrPoint
	}
	return q, nil
}

func encode(q *nistec.P256Point) (Point, error) {
	b := q.Bytes()
	if len(b) != 1+PointSize {
		return Point{}, ErrPoint // infinity
	}
	return Point(b[1:]), nil
}

// ParsePoint checks that b is a 64-byte X‖Y point on the curve.
func ParsePoint(b []byte) (Point, error) {
	if len(b) != PointSize {
		return Point{}, ErrPoint
	}
	p := Point(b)
	if _, err := p.decode(); err != nil {
		return Point{}, err
	}
	return p, nil
}

// Valid reports whether p is on the curve.
func (p Point) Valid() bool {
	_, err := p.decode()
	return err == nil
}

// X returns the x coordinate.
func (p Point) X() [32]byte { return [32]byte(p[:32]) }

// Add returns a + b.
func Add(a, b Point) (Point, error) {
	pa, err := a.decode()
	if err != nil {
		return Point{}, err
	}
	pb, err := b.decode()
	if err != nil {
		return Point{}, err
	}
	return encode(nistec.NewP256Point().Add(pa, pb))
}

// p256P is the field prime, big-endian.
var p256P = [32]byte{
	0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
}

// p256N is the group order, big-endian.
var p256N = [32]byte{
	0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
}

// Neg returns -p: the same x and p − y, computed byte-wise with borrow in
// constant time (y is never 0 for a point of the P-256 group).
func Neg(p Point) (Point, error) {
	if _, err := p.decode(); err != nil {
		return Point{}, err
	}
	out := p
	var borrow uint16
	for i := 31; i >= 0; i-- {
		d := uint16(p256P[i]) - uint16(p[32+i]) - borrow
		out[32+i] = byte(d)
		borrow = (d >> 8) & 1
	}
	return out, nil
}

// Sub returns a - b.
func Sub(a, b Point) (Point, error) {
	nb, err := Neg(b)
	if err != nil {
		return Point{}, err
	}
	return Add(a, nb)
}

// ScalarMult returns k·p.
func ScalarMult(k []byte, p Point) (Point, error) {
	q, err := p.decode()
	if err != nil {
		return Point{}, err
	}
	r, err := nistec.NewP256Point().ScalarMult(q, k)
	if err != nil {
		return Point{}, errors.New("ecc: invalid scalar")
	}
	return encode(r)
}

// ScalarBaseMult returns k·G.
func ScalarBaseMult(k []byte) (Point, error) {
	r, err := nistec.NewP256Point().ScalarBaseMult(k)
	if err != nil {
		return Point{}, errors.New("ecc: invalid scalar")
	}
	return encode(r)
}

// RandomScalar draws a uniform non-zero scalar below the group order by
// rejection sampling (no point multiplication, unlike generating a key).
func RandomScalar(rand io.Reader) ([]byte, error) {
	k := make([]byte, ScalarSize)
	for range 64 {
		if _, err := io.ReadFull(rand, k); err != nil {
			return nil, err
		}
		if bytes.Compare(k, p256N[:]) < 0 && !bytes.Equal(k, make([]byte, ScalarSize)) {
			return k, nil
		}
	}
	return nil, errors.New("ecc: random source keeps giving out-of-range scalars")
}

// PointFromX returns a point whose x coordinate is x, if one exists.
func PointFromX(x [32]byte) (Point, bool) {
	var c [33]byte
	c[0] = 2
	copy(c[1:], x[:])
	q, err := nistec.NewP256Point().SetBytes(c[:])
	if err != nil {
		return Point{}, false
	}
	p, err := encode(q)
	return p, err == nil
}

// Ciphertext is an EC-ElGamal ciphertext C1‖C2.
type Ciphertext [CiphertextSize]byte

// Split returns C1 and C2.
func (c Ciphertext) Split() (c1, c2 Point) {
	return Point(c[:PointSize]), Point(c[PointSize:])
}

// Encrypt EC-ElGamal-encrypts the point m to pub: C1 = r·G, C2 = m + r·pub.
func Encrypt(rand io.Reader, pub, m Point) (Ciphertext, error) {
	r, err := RandomScalar(rand)
	if err != nil {
		return Ciphertext{}, err
	}
	c1, err := ScalarBaseMult(r)
	if err != nil {
		return Ciphertext{}, err
	}
	s, err := ScalarMult(r, pub)
	if err != nil {
		return Ciphertext{}, err
	}
	c2, err := Add(m, s)
	if err != nil {
		return Ciphertext{}, err
	}
	var ct Ciphertext
	copy(ct[:PointSize], c1[:])
	copy(ct[PointSize:], c2[:])
	return ct, nil
}

// Finish completes a decryption whose shared point z = d·C1 was computed
// elsewhere (by a TPM's ECDH_ZGen, say): m = C2 - z.
func Finish(ct Ciphertext, z Point) (Point, error) {
	_, c2 := ct.Split()
	return Sub(c2, z)
}

// Decrypt recovers m with the private scalar d.
func Decrypt(d []byte, ct Ciphertext) (Point, error) {
	c1, _ := ct.Split()
	z, err := ScalarMult(d, c1)
	if err != nil {
		return Point{}, err
	}
	return Finish(ct, z)
}

// EmbedKey finds a point whose x coordinate is CI‖CK for the given content
// key, drawing the 16-byte content integrity key CI at random until CI‖CK is
// a valid x (about two draws on average; docs/formats/xmr.md §10).
func EmbedKey(rand io.Reader, ck [16]byte) (m Point, ci [16]byte, err error) {
	for range 256 {
		if _, err = io.ReadFull(rand, ci[:]); err != nil {
			return Point{}, ci, err
		}
		var x [32]byte
		copy(x[:16], ci[:])
		copy(x[16:], ck[:])
		if p, ok := PointFromX(x); ok {
			return p, ci, nil
		}
	}
	return Point{}, ci, errors.New("ecc: no valid point for content key")
}

// PublicKey returns the raw X‖Y of an ECDSA public key on P-256.
func PublicKey(k *ecdsa.PublicKey) (Point, error) {
	if k == nil || k.Curve != elliptic.P256() {
		return Point{}, ErrPoint
	}
	b, err := k.Bytes()
	if err != nil || len(b) != 1+PointSize {
		return Point{}, ErrPoint
	}
	return Point(b[1:]), nil
}

// ECDSAPublicKey returns p as an *ecdsa.PublicKey.
func (p Point) ECDSAPublicKey() (*ecdsa.PublicKey, error) {
	var u [1 + PointSize]byte
	u[0] = 4
	copy(u[1:], p[:])
	k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), u[:])
	if err != nil {
		return nil, ErrPoint
	}
	return k, nil
}

// Verify checks a raw r‖s ECDSA signature over a SHA-256 digest.
func Verify(pub Point, digest, sig []byte) bool {
	if len(sig) != SignatureSize {
		return false
	}
	k, err := pub.ECDSAPublicKey()
	if err != nil {
		return false
	}
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:])
	return ecdsa.Verify(k, digest, r, s)
}

// Sign returns a raw r‖s ECDSA signature over a SHA-256 digest.
func Sign(rand io.Reader, k *ecdsa.PrivateKey, digest []byte) ([SignatureSize]byte, error) {
	r, s, err := ecdsa.Sign(rand, k, digest)
	if err != nil {
		return [SignatureSize]byte{}, err
	}
	var sig [SignatureSize]byte
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return sig, nil
}

// MarshalText encodes the point as base64 of X‖Y (for JSON state files).
func (p Point) MarshalText() ([]byte, error) {
	return []byte(base64.StdEncoding.EncodeToString(p[:])), nil
}

// UnmarshalText decodes base64 X‖Y and checks the point is on the curve.
func (p *Point) UnmarshalText(b []byte) error {
	raw, err := base64.StdEncoding.DecodeString(string(b))
	if err != nil {
		return ErrPoint
	}
	q, err := ParsePoint(raw)
	if err != nil {
		return err
	}
	*p = q
	return nil
}
