package tee_test

import (
	"crypto/rand"
	"fmt"
	"time"

	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/internal/pki"
	"github.com/prsim/prsim/tee"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/pro"
	"github.com/prsim/prsim/wire/soap"
)

// Local provisioning on the in-process TPM simulator: the device keys are
// created in the TPM and the leaf certificate is signed by the model key.
func ExampleProvision() {
	p, _ := pki.Generate(rand.Reader, time.Now())
	model, _ := p.Model(3000)
	b, err := tee.OpenBackend("sim:1")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()
	d, err := tee.Provision(b, tee.ProvisionRequest{ModelChain: model.Chain,
		ModelSigner: pki.KeySigner{Key: model.Key, Rand: rand.Reader}, Rand: rand.Reader})
	if err != nil {
		fmt.Println(err)
		return
	}
	// The TEE signs only challenges it builds, for a nonce it drew.
	nonce, _ := d.NewNonce()
	serverKey, _ := ecc.PublicKey(&p.Server.EncKey.PublicKey)
	h := &pro.Header{Version: pro.Version40, LAURL: "https://example.com/rightsmanager.asmx",
		KIDs: []pro.KeyInfo{{ID: kid.MustParse("10000000-1000-1000-1000-100000000001"), AlgID: pro.AlgAESCTR}}}
	x, _ := h.XML()
	body, _ := d.SignChallenge(&soap.Challenge{Version: 1, ContentHeader: x, Nonce: nonce}, serverKey, rand.Reader)
	ch, err := soap.ParseChallenge(body)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("security level:", d.SecurityLevel(), "TPM:", b.IsTPM())
	fmt.Println("signature verifies:", ch.VerifySignature() == nil && ch.SignerKey == d.Public())
	// Output:
	// security level: 3000 TPM: true
	// signature verifies: true
}
