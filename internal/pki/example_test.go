package pki_test

import (
	"crypto/rand"
	"fmt"
	"time"

	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/internal/pki"
	"github.com/prsim/prsim/wire/bcert"
)

// Generate a test PKI and check the SL2000 model chain against its root, as
// a license server configured with root.pub would.
func ExampleGenerate() {
	p, err := pki.Generate(rand.Reader, time.Now())
	if err != nil {
		panic(err)
	}
	model, err := p.Model(2000)
	if err != nil {
		panic(err)
	}
	m, _ := model.Chain.Leaf().Manufacturer()
	err = model.Chain.Verify(bcert.VerifyOptions{Roots: []ecc.Point{p.Root}})
	fmt.Println(m.Name, m.Model, m.Number, "verify:", err)
	fmt.Println("models:", len(p.Models))
	// Output:
	// prsim prsim-sl2000 2000 verify: <nil>
	// models: 3
}
