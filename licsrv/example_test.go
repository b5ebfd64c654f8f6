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
