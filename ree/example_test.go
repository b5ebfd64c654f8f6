package ree_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/internal/keyseed"
	"github.com/prsim/prsim/internal/pki"
	"github.com/prsim/prsim/licsrv"
	"github.com/prsim/prsim/policy"
	"github.com/prsim/prsim/ree"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/pro"
)

// The whole chain in one place: a REE client acquires a license from the
// reference server, the TEE binds it, and a sample is decrypted through the
// key handle.
func Example() {
	p, _ := pki.Generate(rand.Reader, time.Now())
	srv, _ := licsrv.New(licsrv.Config{Chain: p.Server.Chain, SignKey: p.Server.SignKey, EncKey: p.Server.EncKey, Roots: []ecc.Point{p.Root}})
	hs := httptest.NewServer(srv)
	defer hs.Close()

	dir, _ := os.MkdirTemp("", "prsim-example-")
	defer os.RemoveAll(dir)
	model, _ := p.Model(3000)
	dev, err := ree.NewDevice(filepath.Join(dir, "dev"), ree.NewDeviceOptions{SecurityLevel: 3000, Backend: "soft",
		ModelChain: model.Chain, ModelSigner: pki.KeySigner{Key: model.Key, Rand: rand.Reader}, Roots: []ecc.Point{p.Root}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dev.Close()

	id := kid.MustParse("09e091ab-f838-41d2-9e35-58531fd19ec7")
	h := &pro.Header{Version: "4.2.0.0", KIDs: []pro.KeyInfo{{ID: id, AlgID: "AESCTR"}}, LAURL: hs.URL + "/rightsmanager.asmx"}
	res, err := dev.Client.Acquire(context.Background(), h, "")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res[0].KID, "bound:", res[0].Bound, "persistent:", res[0].Persistent)

	// Content encrypted with the key the server derives from the public test key seed.
	ck, _ := keyseed.Derive(keyseed.TestSeed(), id)
	block, _ := aes.NewCipher(ck[:])
	sample := []byte("a protected video sample")
	cipher.NewCTR(block, make([]byte, 16)).XORKeyStream(sample, sample)

	key, _ := dev.Client.Key(id)
	_, _ = key.Enable(policy.Video, policy.StrategyBlock) // the TEE decides the outputs, then releases the decryptor
	_ = key.DecryptCENC(sample, make([]byte, 8), nil)
	fmt.Printf("%s\n", sample)
	// Output:
	// 09e091ab-f838-41d2-9e35-58531fd19ec7 bound: true persistent: false
	// a protected video sample
}
