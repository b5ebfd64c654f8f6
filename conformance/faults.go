package conformance

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/prsim/prsim/drm"
)

// hugeBody is the size of F5's request: ten times the 1 MiB bound of
// docs/formats/soap.md §1.
const hugeBody = 10 << 20

// faultCode is the code F6 asks the server to fault with
// (DRM_E_SERVER_DEVICE_LIMIT_REACHED, one of the test server's documented
// faults).
const faultCode = drm.ErrServerDeviceLimitReached

func faultScenarios() []Scenario {
	const rule = "docs/formats/soap.md §6 (faults: HTTP 500, detail/Exception/StatusCode 0x8004xxxx); MS docs Advanced/TestServers/testing-server-exceptions.md"
	return family(FamilyFaults, []row{
		{"F1", Must, PersonaSL3000, rule, "An empty request body gets an HTTP 500 SOAP fault with a 0x8004xxxx StatusCode, never a 200.",
			malformed(func(context.Context, *env) ([]byte, error) { return nil, nil }, "request")},
		{"F2", Must, PersonaSL3000, rule, "4 KiB of random bytes get an HTTP 500 SOAP fault with a 0x8004xxxx StatusCode, never a 200.",
			malformed(func(_ context.Context, e *env) ([]byte, error) {
				b := make([]byte, 4096)
				_, err := io.ReadFull(e.o.Rand, b)
				return b, err
			}, "request")},
		{"F3", Must, PersonaSL3000, rule, "Well-formed XML that is not a SOAP envelope gets an HTTP 500 SOAP fault with a 0x8004xxxx StatusCode, never a 200.",
			malformed(func(context.Context, *env) ([]byte, error) {
				return []byte(`<?xml version="1.0" encoding="utf-8"?><html><body><p>not a challenge</p></body></html>`), nil
			}, "request")},
		{"F4", Must, PersonaSL3000, rule, "A valid challenge cut in half gets an HTTP 500 SOAP fault with a 0x8004xxxx StatusCode, never a 200.",
			malformed(truncatedChallenge, "request")},
		{"F5", Must, PersonaSL3000, rule + "; docs/formats/soap.md §1 (bounded messages)",
			"A 10 MiB request body gets an HTTP 500 SOAP fault with a 0x8004xxxx StatusCode, never a 200.",
			malformed(func(context.Context, *env) ([]byte, error) {
				b := bytes.Repeat([]byte("<a>"), hugeBody/3+1)
				return b[:hugeBody], nil
			}, "")},
		{"F6", Must, PersonaSL3000, "docs/formats/policies-and-outputs.md §6 (errorcode) and docs/formats/soap.md §6",
			fmt.Sprintf("cfg errorcode:%s yields an HTTP 500 SOAP fault carrying exactly that StatusCode.", faultCode.Hex()),
			runF6},
		{"F7", Must, PersonaSL3000, "docs/formats/soap.md §6 (a fault ends one request, not the service)",
			"After the malformed requests above the server still answers a valid challenge with a license.",
			runF7},
	})
}

// judgeFault judges an answer that must be an HTTP 500 fault with a
// 0x8004xxxx code (and wantCode, if not zero).
func judgeFault(x *exchange, wantCode drm.Code) outcome {
	want := "HTTP 500 with a SOAP fault whose StatusCode is 0x8004xxxx"
	if wantCode != 0 {
		want = "HTTP 500 with a SOAP fault whose StatusCode is " + wantCode.String()
	}
	switch {
	case x.fault == nil, x.status != http.StatusInternalServerError, wantCode != 0 && x.fault.Code != wantCode:
		return failed(want, x.describe())
	case x.fault.Code&0xFFFF0000 != 0x80040000 || x.fault.Code == drm.ErrSOAPXMLInvalidStatusCode:
		return failed(want, x.describe()+" (no valid 0x8004xxxx StatusCode)")
	}
	return passed(x.describe())
}

// malformed posts a body the server must refuse. kind names the saved
// request ("" = not saved, for the 10 MiB body).
func malformed(body func(context.Context, *env) ([]byte, error), kind string) func(context.Context, *env) outcome {
	return func(ctx context.Context, e *env) outcome {
		b, err := body(ctx, e)
		if err != nil {
			return errored("%v", err)
		}
		x, err := e.post(ctx, e.o.URL, b, kind)
		if err != nil {
			return failed("HTTP 500 with a SOAP fault", err.Error())
		}
		return judgeFault(x, 0)
	}
}

// truncatedChallenge is a valid challenge of the SL3000 device, cut in half.
func truncatedChallenge(ctx context.Context, e *env) ([]byte, error) {
	b, err := e.plainChallenge(ctx, PersonaSL3000)
	if err != nil {
		return nil, err
	}
	return b[:len(b)/2], nil
}

func runF6(ctx context.Context, e *env) outcome {
	x, o := e.acquireNew(ctx, request{persona: PersonaSL3000, cfg: "(errorcode:" + faultCode.Hex() + ")", needed: true})
	if o != nil {
		return *o
	}
	return judgeFault(x.exchange, faultCode)
}

func runF7(ctx context.Context, e *env) outcome {
	const want = "a response with a license"
	x, o := e.acquireNew(ctx, request{persona: PersonaSL3000, want: want})
	if o != nil {
		return *o
	}
	if x.resp == nil || len(x.resp.Licenses) == 0 {
		return failed(want, x.describe())
	}
	return passed("still up: " + x.describe())
}
