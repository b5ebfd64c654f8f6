package tee_test

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/internal/pki"
	"github.com/prsim/prsim/tee"
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
	digest := sha256.Sum256([]byte("challenge"))
	sig, _ := d.SignDigest(digest[:])
	fmt.Println("security level:", d.SecurityLevel(), "TPM:", b.IsTPM())
	fmt.Println("signature verifies:", ecc.Verify(d.Public(), digest[:], sig[:]))
	// Output:
	// security level: 3000 TPM: true
	// signature verifies: true
}
