// Package keyseed derives PlayReady content keys from a key seed and a KID,
// the scheme of the Microsoft PlayReady key seed specification
// (MicrosoftDocs/PlayReady Docs/Specifications/playready-key-seed.md;
// docs/formats/pro-header.md §7).
//
// With s the first 30 bytes of the seed and k the 16 KID bytes in
// little-endian GUID layout (the bytes a WRMHEADER KID VALUE encodes):
//
//	A = SHA-256(s‖k), B = SHA-256(s‖k‖s), C = SHA-256(s‖k‖s‖k)
//	CK[i] = A[i] ⊕ A[i+16] ⊕ B[i] ⊕ B[i+16] ⊕ C[i] ⊕ C[i+16], i = 0…15
//
// # Security considerations
//
// A key seed is a master secret: anyone holding it can compute the content
// key of every KID, so a real seed must be kept secret and never logged.
// [TestSeed] is Microsoft's published test seed, the default of the public
// PlayReady test server (docs/formats/pro-header.md §7); content keyed from it is
// not protected at all. Use it only for tests and demos. The derived key is
// a secret too; Derive returns it by value so the caller controls its
// lifetime.
package keyseed

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"

	"github.com/prsim/prsim/wire/kid"
)

// SeedSize is the number of seed bytes the derivation uses; longer seeds
// are truncated to it.
const SeedSize = 30

// TestSeedBase64 is the public Microsoft test key seed (MS docs
// Advanced/TestServers/playready-test-server-service.md; docs/formats/pro-header.md
// §7). It is public: never protect real content with it.
const TestSeedBase64 = "XVBovsmzhP9gRIZxWfFta3VVRPzVEWmJsazEJ46I"

// ErrShortSeed is returned for a seed shorter than SeedSize bytes.
var ErrShortSeed = errors.New("keyseed: key seed shorter than 30 bytes")

// TestSeed returns a fresh copy of the decoded public test seed (30 bytes).
func TestSeed() []byte {
	b, err := base64.StdEncoding.DecodeString(TestSeedBase64)
	if err != nil {
		panic("keyseed: bad TestSeedBase64") // constant; unreachable
	}
	return b
}

// Derive returns the 16-byte content key for id. Only the first SeedSize
// bytes of seed are used.
func Derive(seed []byte, id kid.ID) ([16]byte, error) {
	if len(seed) < SeedSize {
		return [16]byte{}, ErrShortSeed
	}
	s := seed[:SeedSize]
	k := id.GUID()
	buf := make([]byte, 0, 2*SeedSize+2*kid.Size)
	buf = append(append(buf, s...), k[:]...)
	a := sha256.Sum256(buf)
	buf = append(buf, s...)
	b := sha256.Sum256(buf)
	buf = append(buf, k[:]...)
	c := sha256.Sum256(buf)
	clear(buf) // holds the seed
	var ck [16]byte
	for i := range ck {
		ck[i] = a[i] ^ a[i+16] ^ b[i] ^ b[i+16] ^ c[i] ^ c[i+16]
	}
	return ck, nil
}
