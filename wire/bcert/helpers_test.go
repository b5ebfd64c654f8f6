package bcert

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/asn1"
	"flag"
	"math/big"
	"testing"
	"time"

	"github.com/prsim/prsim/internal/ecc"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files")

// verifyTime is the fixed verification time of the tests.
var verifyTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// testKey derives a fixed P-256 key from a label, so golden files are stable.
func testKey(t testing.TB, label string) *ecdsa.PrivateKey {
	t.Helper()
	d := sha256.Sum256([]byte("prsim bcert test key " + label))
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:])
	require.NoError(t, err)
	return k
}

func pub(t testing.TB, k *ecdsa.PrivateKey) ecc.Point {
	t.Helper()
	p, err := ecc.PublicKey(&k.PublicKey)
	require.NoError(t, err)
	return p
}

// testSigner signs deterministically (RFC 6979 via a nil rand): since Go
// 1.26 ecdsa.Sign ignores its reader, this is the way to stable signatures.
type testSigner struct {
	k   *ecdsa.PrivateKey
	pub ecc.Point
}

func newSigner(t testing.TB, k *ecdsa.PrivateKey) *testSigner { return &testSigner{k, pub(t, k)} }

func (s *testSigner) Public() ecc.Point { return s.pub }

func (s *testSigner) SignDigest(digest []byte) ([ecc.SignatureSize]byte, error) {
	var out [ecc.SignatureSize]byte
	der, err := s.k.Sign(nil, digest, crypto.SHA256)
	if err != nil {
		return out, err
	}
	var rs struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &rs); err != nil {
		return out, err
	}
	rs.R.FillBytes(out[:32])
	rs.S.FillBytes(out[32:])
	return out, nil
}

func id(b byte) (r [16]byte) {
	for i := range r {
		r[i] = b + byte(i)
	}
	return r
}

// pkiKeys are the fixed keys of the test chain.
type pkiKeys struct {
	root, model, sign, enc *ecdsa.PrivateKey
}

func keys(t testing.TB) pkiKeys {
	return pkiKeys{testKey(t, "root"), testKey(t, "model"), testKey(t, "leaf-sign"), testKey(t, "leaf-enc")}
}

func rootTemplate(t testing.TB, k pkiKeys) *Template {
	return &Template{
		CertID: id(0x10), ClientID: id(0x20), SecurityLevel: 3000, Type: CertTypeIssuer,
		Keys:         []Key{{Public: pub(t, k.root), Usages: []uint32{KeyUsageIssuerAll}}},
		Manufacturer: &Manufacturer{Name: "prsim", Model: "prsim-root", Number: "1"},
	}
}

func modelTemplate(t testing.TB, k pkiKeys) *Template {
	return &Template{
		CertID: id(0x30), ClientID: id(0x40), SecurityLevel: 2000, Type: CertTypeIssuer,
		Expiration:   uint32(time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC).Unix()),
		Features:     []uint32{FeatureSupportsCRLs},
		Keys:         []Key{{Public: pub(t, k.model), Usages: []uint32{KeyUsageIssuerDevice}}},
		Manufacturer: &Manufacturer{Name: "prsim", Model: "prsim-sl2000", Number: "2000"},
	}
}

func leafTemplate(t testing.TB, k pkiKeys) *Template {
	return &Template{
		CertID: id(0x50), ClientID: id(0x60), SecurityLevel: 2000, Type: CertTypeDevice,
		DigestKey: pub(t, k.sign),
		Device:    &DeviceInfo{MaxLicenseSize: 10240, MaxHeaderSize: 15360, MaxChainDepth: 2},
		Features:  []uint32{FeatureSecureClock, FeatureSupportsCRLs, FeaturePR3},
		Keys: []Key{
			{Public: pub(t, k.sign), Usages: []uint32{KeyUsageSign}},
			{Public: pub(t, k.enc), Usages: []uint32{KeyUsageEncryptKey}},
		},
		Manufacturer:    &Manufacturer{Name: "prsim", Model: "prsim-sl2000", Number: "2000"},
		SecurityVersion: &[2]uint32{0x01020304, PlatformUnspecified},
	}
}

func mustCert(t testing.TB, tmpl *Template, s Signer) *Cert {
	t.Helper()
	c, err := NewCert(tmpl, s)
	require.NoError(t, err)
	return c
}

// buildChain makes leaf → model → self-signed root; edit lets a test change
// the templates (nil = unchanged) before signing.
func buildChain(t testing.TB, edit func(root, model, leaf *Template)) (*Chain, pkiKeys) {
	t.Helper()
	k := keys(t)
	rt, mt, lt := rootTemplate(t, k), modelTemplate(t, k), leafTemplate(t, k)
	if edit != nil {
		edit(rt, mt, lt)
	}
	root := mustCert(t, rt, newSigner(t, k.root))
	model := mustCert(t, mt, newSigner(t, k.root))
	leaf := mustCert(t, lt, newSigner(t, k.model))
	return NewChain(model, root).Prepend(leaf), k
}

func verifyOpts(t testing.TB, k pkiKeys) VerifyOptions {
	return VerifyOptions{Roots: []ecc.Point{pub(t, k.root)}, CurrentTime: verifyTime}
}
