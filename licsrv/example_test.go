package licsrv_test

import (
	"crypto/rand"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/internal/pki"
	"github.com/prsim/prsim/licsrv"
)

// The server publishes its certificate chain for devices to encrypt to.
func ExampleServer() {
	p, _ := pki.Generate(rand.Reader, time.Now())
	s, err := licsrv.New(licsrv.Config{Chain: p.Server.Chain, SignKey: p.Server.SignKey, EncKey: p.Server.EncKey, Roots: []ecc.Point{p.Root}})
	if err != nil {
		fmt.Println(err)
		return
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", licsrv.CertPath, nil))
	fmt.Println(w.Code, string(w.Body.Bytes()[:4]))
	// Output: 200 CHAI
}

// A server can be told to have known bugs, so that a client or a
// conformance suite can be seen to catch them.
func ExampleDefects() {
	for _, d := range licsrv.Defects()[:3] {
		fmt.Printf("%s: %s\n", d, d.Description())
	}
	_, err := licsrv.ParseDefect("no-such-bug")
	fmt.Println(err != nil)
	// Output:
	// no-nonce-echo: the response LicenseNonce is random instead of the challenge nonce
	// unsigned-response: the response carries no XML signature
	// bad-response-signature: the response signature does not verify (a SignatureValue bit is flipped after signing)
	// true
}
