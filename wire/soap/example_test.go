package soap_test

import (
	"errors"
	"fmt"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/wire/soap"
)

// A license server reports a revoked device; the client maps the fault back
// to the DRM code.
func ExampleParseResponse_fault() {
	body := soap.BuildFault(&soap.Fault{Code: drm.ErrDevCertRevoked, Message: "Device Certificate Revoked."})

	_, err := soap.ParseResponse(body)
	var f *soap.Fault
	if errors.As(err, &f) {
		fmt.Println(f.Code.Hex(), f.Message)
	}
	fmt.Println(errors.Is(err, drm.ErrDevCertRevoked))
	// Output:
	// 0x8004c065 Device Certificate Revoked.
	// true
}

func ExampleParseEnvelopeAction() {
	body := soap.BuildFault(&soap.Fault{Code: drm.ErrServerInternalError})
	action, err := soap.ParseEnvelopeAction(body)
	fmt.Println(action, err)
	// Output: Fault <nil>
}
