package bcert_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"

	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/wire/bcert"
)

// signer is a minimal bcert.Signer over a software key (internal/pki has
// the real one).
type signer struct{ k *ecdsa.PrivateKey }

func (s signer) Public() ecc.Point { p, _ := ecc.PublicKey(&s.k.PublicKey); return p }

func (s signer) SignDigest(d []byte) ([64]byte, error) {
	var out [64]byte
	der, err := s.k.Sign(nil, d, crypto.SHA256) // nil rand: RFC 6979
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

func key(label string) signer {
	d := sha256.Sum256([]byte(label))
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:])
	if err != nil {
		panic(err)
	}
	return signer{k}
}

// A model (group) key issues a device leaf under a self-signed test root
// (docs/formats/bcert.md §12), and the chain verifies against that root after a
// trip over the wire.
func ExampleNewCert() {
	root, model, devSign, devEnc := key("root"), key("model"), key("sign"), key("enc")

	rootCert, _ := bcert.NewCert(&bcert.Template{
		SecurityLevel: 3000, Type: bcert.CertTypeIssuer,
		Keys: []bcert.Key{{Public: root.Public(), Usages: []uint32{bcert.KeyUsageIssuerAll}}},
	}, root) // self-signed
	modelCert, _ := bcert.NewCert(&bcert.Template{
		SecurityLevel: 2000, Type: bcert.CertTypeIssuer,
		Keys:         []bcert.Key{{Public: model.Public(), Usages: []uint32{bcert.KeyUsageIssuerDevice}}},
		Manufacturer: &bcert.Manufacturer{Name: "prsim", Model: "prsim-sl2000", Number: "2000"},
	}, root)
	leaf, _ := bcert.NewCert(&bcert.Template{
		SecurityLevel: 2000, Type: bcert.CertTypeDevice, DigestKey: devSign.Public(),
		Device:   &bcert.DeviceInfo{MaxLicenseSize: 10240, MaxHeaderSize: 15360, MaxChainDepth: 2},
		Features: []uint32{bcert.FeatureSecureClock, bcert.FeatureSupportsCRLs},
		Keys: []bcert.Key{
			{Public: devSign.Public(), Usages: []uint32{bcert.KeyUsageSign}},
			{Public: devEnc.Public(), Usages: []uint32{bcert.KeyUsageEncryptKey}},
		},
	}, model)
	chain := bcert.NewChain(modelCert, rootCert).Prepend(leaf)

	parsed, err := bcert.ParseChain(chain.Bytes())
	if err != nil {
		panic(err)
	}
	err = parsed.Verify(bcert.VerifyOptions{
		Roots:       []ecc.Point{root.Public()},
		CurrentTime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		LeafType:    bcert.CertTypeDevice,
	})
	fmt.Println("certificates:", len(parsed.Certs), "verify:", err)
	fmt.Println("leaf SL:", parsed.Leaf().Basic().SecurityLevel)
	m, _ := parsed.Certs[1].Manufacturer()
	fmt.Println("model:", m.Model)
	// Output:
	// certificates: 3 verify: <nil>
	// leaf SL: 2000
	// model: prsim-sl2000
}
