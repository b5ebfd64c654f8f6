package xmr_test

import (
	"bytes"
	"fmt"

	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/xmr"
)

func ExampleTemplate_Build() {
	ci := []byte("0123456789abcdef") // content integrity key: the MAC key
	tp := xmr.Template{
		MinSecurityLevel: 2000,
		RIV:              1,
		Play:             true,
		OPL:              &xmr.OPL{UncompressedDigitalVideo: 300},
		ContentKey: xmr.ContentKey{
			KID:        kid.MustParse("a2c786d0-f9ef-4cb3-b333-cd323a4284a5"),
			KeyType:    xmr.KeyTypeAESCTR,
			CipherType: xmr.CipherECC256,
			EncKey:     bytes.Repeat([]byte{0x42}, xmr.EncKeySizeECC256), // normally ecc.Encrypt output
		},
	}
	b, err := tp.Build(ci)
	if err != nil {
		panic(err)
	}
	l, err := xmr.Parse(b)
	if err != nil {
		panic(err)
	}
	ck, _ := l.ContentKey()
	fmt.Println("kid:", ck.KID)
	fmt.Println("min SL:", l.MinSecurityLevel())
	fmt.Println("UDV OPL:", l.Policy().OPL.UncompressedDigitalVideo)
	fmt.Println("persistent:", l.Persistent())
	fmt.Println("signature:", l.VerifySignature(ci))
	fmt.Println("round trip:", bytes.Equal(b, l.Bytes()))
	// Output:
	// kid: a2c786d0-f9ef-4cb3-b333-cd323a4284a5
	// min SL: 2000
	// UDV OPL: 300
	// persistent: true
	// signature: <nil>
	// round trip: true
}
