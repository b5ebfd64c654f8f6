package policy_test

import (
	"fmt"

	"github.com/prsim/prsim/hal"
	"github.com/prsim/prsim/policy"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/xmr"
)

// A license with uncompressed digital video OPL 300 on a device with an
// integrated panel and an HDMI output without HDCP: the panel plays, HDMI
// is blocked (the default strategy).
func ExampleEvaluate() {
	tp := &xmr.Template{
		MinSecurityLevel: 2000,
		Play:             true,
		OPL:              &xmr.OPL{UncompressedDigitalVideo: 300},
		ContentKey: xmr.ContentKey{KID: kid.MustParse("10000000-1000-1000-1000-100000000001"),
			KeyType: xmr.KeyTypeAESCTR, CipherType: xmr.CipherECC256, EncKey: make([]byte, xmr.EncKeySizeECC256)},
	}
	b, err := tp.Build(make([]byte, 16))
	if err != nil {
		panic(err)
	}
	l, err := xmr.Parse(b)
	if err != nil {
		panic(err)
	}
	outputs, err := hal.ParseOutputs("internal;hdmi")
	if err != nil {
		panic(err)
	}
	d := policy.Evaluate(l, policy.Request{
		Persona:  policy.Persona{Version: "4.5", SecurityLevel: 3000},
		Platform: outputs,
		Stream:   policy.Video,
	})
	for _, o := range d.Outputs {
		fmt.Printf("%s: %s — %s\n", o.Output, o.Action, o.Reason)
	}
	fmt.Println("refused:", d.Refused)
	// Output:
	// internal: pass — §2: the integrated panel always passes video (a prsim decision)
	// hdmi: block — §2: uncompressed digital video OPL 300 (271–300) requires HDCP; hdmi has none
	// refused: false
}
