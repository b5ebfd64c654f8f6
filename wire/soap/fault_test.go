package soap

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prsim/prsim/drm"
	"github.com/stretchr/testify/require"
)

func TestFaultRoundTrip(t *testing.T) {
	for _, f := range []*Fault{
		{Code: drm.ErrDevCertRevoked, Message: "Device Certificate Revoked."},
		{Code: drm.Code(0x8004C6FF), Message: "not in the table"}, // no name for this code
		{Code: drm.Code(0x00000001), Message: ""},                 // not even a failure
		{Code: drm.ErrServerServiceSpecific, Message: "m", Actor: "https://x.test/?cfg=(a:b)", CustomData: "Client Time: 1\r\n<&>\"'", RedirectURL: "https://r.test/"},
	} {
		msg := BuildFault(f)
		got, err := ParseFault(msg)
		require.NoError(t, err)
		require.Equal(t, f, got)
		require.ErrorIs(t, got, f.Code)
		require.Contains(t, string(msg), "<StatusCode>"+f.Code.Hex()+"</StatusCode>")
		action, err := ParseEnvelopeAction(msg)
		require.NoError(t, err)
		require.Equal(t, "Fault", action)
	}
}

func TestFaultError(t *testing.T) {
	f := &Fault{Code: drm.Code(0x8004C6FF), Message: marker, CustomData: marker}
	require.Equal(t, "soap: license server fault: DRM_E_UNKNOWN (0x8004C6FF)", f.Error())
	require.NotContains(t, f.Error(), marker, "server text stays out of Error()")
	var err error = f
	require.True(t, errors.Is(err, drm.Code(0x8004C6FF)))
}

func TestBuildFaultSanitises(t *testing.T) {
	got, err := ParseFault(BuildFault(&Fault{Code: drm.ErrServerInternalError, Message: "a\x00b\xffc"}))
	require.NoError(t, err)
	require.Equal(t, "a\uFFFDb\uFFFDc", got.Message)

	got, err = ParseFault(BuildFault(nil))
	require.NoError(t, err)
	require.Equal(t, drm.ErrServerInternalError, got.Code)
}

func TestFaultGolden(t *testing.T) {
	file := filepath.Join("testdata", "fault.xml")
	msg := BuildFault(&Fault{
		Code:       drm.ErrServerServiceSpecific,
		Message:    "clientinfo",
		Actor:      "https://license.example.test/rightsmanager.asmx?cfg=(msg:clientinfo)",
		CustomData: "Client Time: 1446224160",
	})
	if *update {
		require.NoError(t, os.WriteFile(file, msg, 0o644))
		writeCorpus(t, "FuzzParseFault", "fault", msg)
		writeCorpus(t, "FuzzParseFault", "no-status", []byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>x</faultstring></soap:Fault></soap:Body></soap:Envelope>`))
	}
	golden, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Equal(t, string(golden), string(msg))
}

func TestParseFaultMSDocs(t *testing.T) {
	// Source: testdata/fault-msdocs.xml, the test-server fault of the
	// PlayReady docs (docs/formats/soap.md §6).
	b, err := os.ReadFile(filepath.Join("testdata", "fault-msdocs.xml"))
	require.NoError(t, err)
	f, err := ParseFault(b)
	require.NoError(t, err)
	require.Equal(t, drm.ErrDevCertRevoked, f.Code)
	require.True(t, strings.HasPrefix(f.Message, "System.Web.Services.Protocols.SoapException: Device Certificate Revoked."))
	require.Equal(t, "http://prtsprod-rightsmanager.azurewebsites.net/rightsmanager.asmx?cfg=(errorcode:0x8004c065)", f.Actor)

	_, err = ParseResponse(b)
	require.ErrorIs(t, err, drm.ErrDevCertRevoked)
}

func TestParseFaultSOAP12(t *testing.T) {
	// Source: testdata/fault-soap12.xml (hand-written; docs/formats/soap.md §6 asks
	// clients to accept Reason/Text). Upper-case hex StatusCode.
	b, err := os.ReadFile(filepath.Join("testdata", "fault-soap12.xml"))
	require.NoError(t, err)
	f, err := ParseFault(b)
	require.NoError(t, err)
	require.Equal(t, &Fault{
		Code:        drm.ErrServerProtocolRedirect,
		Message:     "Protocol redirect",
		Actor:       "https://license.example.test/rightsmanager.asmx",
		RedirectURL: "https://other.example.test/rightsmanager.asmx",
	}, f)
}

func TestParseFaultStatusCode(t *testing.T) {
	wrap := func(detail string) []byte {
		return []byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>` +
			`<faultcode>soap:Server</faultcode><faultstring>s</faultstring>` + detail + `</soap:Fault></soap:Body></soap:Envelope>`)
	}
	for _, tc := range []struct {
		detail string
		want   drm.Code
	}{
		{"", drm.ErrSOAPXMLInvalidStatusCode},
		{"<detail></detail>", drm.ErrSOAPXMLInvalidStatusCode},
		{"<detail><Exception><StatusCode>nonsense</StatusCode></Exception></detail>", drm.ErrSOAPXMLInvalidStatusCode},
		{"<detail><Exception><StatusCode>0x1234567890</StatusCode></Exception></detail>", drm.ErrSOAPXMLInvalidStatusCode},
		{"<detail><Exception><StatusCode> 0x8004C601 </StatusCode></Exception></detail>", drm.ErrServerInvalidMessage},
		{"<detail><Exception><StatusCode>8004c601</StatusCode></Exception></detail>", drm.ErrServerInvalidMessage},
	} {
		f, err := ParseFault(wrap(tc.detail))
		require.NoError(t, err)
		require.Equal(t, tc.want, f.Code, tc.detail)
	}

	dup := wrap("<detail><Exception><StatusCode>0x1</StatusCode><StatusCode>0x2</StatusCode></Exception></detail>")
	f, err := ParseFault(dup)
	require.ErrorIs(t, err, drm.ErrSOAPXMLXMLFormat)
	require.Nil(t, f)

	challenge, _, _, _ := buildTestChallenge(t)
	f, err = ParseFault(challenge)
	require.ErrorIs(t, err, drm.ErrSOAPXMLWrongMessageType)
	require.Nil(t, f)

	f, err = ParseFault([]byte("<x"))
	require.ErrorIs(t, err, drm.ErrSOAPXMLXMLFormat)
	require.Nil(t, f)
}

func TestParseEnvelopeActionErrors(t *testing.T) {
	for _, in := range []string{
		"",
		"<a/>",
		`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"></soap:Envelope>`,
		`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body></soap:Body></soap:Envelope>`,
		`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><a/></soap:Body><soap:Body><b/></soap:Body></soap:Envelope>`,
	} {
		a, err := ParseEnvelopeAction([]byte(in))
		require.ErrorIs(t, err, drm.ErrSOAPXMLXMLFormat, in)
		require.Empty(t, a)
	}
	a, err := ParseEnvelopeAction([]byte("\xef\xbb\xbf<?xml version=\"1.0\"?>\n<e:Envelope xmlns:e=\"http://www.w3.org/2003/05/soap-envelope\"><e:Body> <AcknowledgeLicense/></e:Body></e:Envelope>\n"))
	require.NoError(t, err)
	require.Equal(t, "AcknowledgeLicense", a)
}
