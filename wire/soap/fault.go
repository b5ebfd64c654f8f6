package soap

import (
	"bytes"
	"strings"

	"github.com/prsim/prsim/drm"
)

// Fault is a SOAP fault from a license server (docs/formats/soap.md §6). Its Code
// comes from detail/Exception/StatusCode; a fault without a readable
// StatusCode gets drm.ErrSOAPXMLInvalidStatusCode.
type Fault struct {
	Code        drm.Code
	Message     string // faultstring (SOAP 1.1) or Reason/Text (SOAP 1.2)
	Actor       string // faultactor / Role (optional)
	CustomData  string // detail/Exception/CustomData (optional)
	RedirectURL string // detail/Exception/RedirectUrl (optional)
}

// Error names the code only: the message and custom data are server text
// and stay in the fields.
func (f *Fault) Error() string { return "soap: license server fault: " + f.Code.String() }

// Unwrap returns the Code, so errors.Is(err, drm.ErrDevCertRevoked) works.
func (f *Fault) Unwrap() error { return f.Code }

// BuildFault builds a SOAP 1.1 fault envelope with faultcode soap:Server and
// the code as a lower-case hex StatusCode. Characters that XML cannot carry
// are replaced by U+FFFD.
func BuildFault(f *Fault) []byte {
	if f == nil {
		f = &Fault{Code: drm.ErrServerInternalError}
	}
	var w writer
	w.WriteString(xmlDecl)
	w.open("soap:Envelope", "xmlns:soap", nsSOAP11, "xmlns:xsi", nsXSI, "xmlns:xsd", nsXSD)
	w.open("soap:Body")
	w.open("soap:Fault")
	w.elem("faultcode", "soap:Server")
	w.elem("faultstring", f.Message)
	if f.Actor != "" {
		w.elem("faultactor", f.Actor)
	}
	w.open("detail")
	w.open("Exception")
	w.elem("StatusCode", f.Code.Hex())
	if f.CustomData != "" {
		w.elem("CustomData", f.CustomData)
	}
	if f.RedirectURL != "" {
		w.elem("RedirectUrl", f.RedirectURL)
	}
	w.close("Exception")
	w.close("detail")
	w.close("soap:Fault")
	w.close("soap:Body")
	w.close("soap:Envelope")
	return w.Bytes()
}

// ParseFault parses a SOAP 1.1 or 1.2 fault envelope. The StatusCode hex is
// read case-insensitively (drm.ParseHex). A body that is not a fault wraps
// drm.ErrSOAPXMLWrongMessageType.
func ParseFault(body []byte) (*Fault, error) {
	root, err := parseTree(bytes.Clone(body))
	if err != nil {
		return nil, err
	}
	op, err := checkEnvelope(root)
	if err != nil {
		return nil, err
	}
	if op.name.Local != "Fault" || op.name.Space != root.name.Space {
		return nil, errf(drm.ErrSOAPXMLWrongMessageType, "body is not a SOAP fault")
	}
	return faultFromNode(op)
}

func faultFromNode(fn *node) (*Fault, error) {
	f := &Fault{Code: drm.ErrSOAPXMLInvalidStatusCode}
	text := func(n *node) string { return strings.TrimSpace(string(n.text)) }

	if n, err := fn.child("faultstring"); err != nil {
		return nil, err
	} else if n != nil {
		f.Message = text(n)
	} else if r, err := fn.child("Reason"); err != nil {
		return nil, err
	} else if r != nil {
		if ts := r.all("Text"); len(ts) > 0 {
			f.Message = text(ts[0])
		}
	}
	for _, name := range []string{"faultactor", "Role", "Node"} {
		n, err := fn.child(name)
		if err != nil {
			return nil, err
		}
		if n != nil {
			f.Actor = text(n)
			break
		}
	}
	det, err := fn.child("detail")
	if err != nil {
		return nil, err
	}
	if det == nil {
		if det, err = fn.child("Detail"); err != nil {
			return nil, err
		}
	}
	if det == nil {
		return f, nil
	}
	ex, err := det.child("Exception")
	if err != nil || ex == nil {
		return f, err
	}
	if n, err := ex.child("StatusCode"); err != nil {
		return nil, err
	} else if n != nil {
		if c, err := drm.ParseHex(string(n.text)); err == nil {
			f.Code = c
		}
	}
	if n, err := ex.child("CustomData"); err != nil {
		return nil, err
	} else if n != nil {
		f.CustomData = string(n.text)
	}
	if n, err := ex.child("RedirectUrl"); err != nil {
		return nil, err
	} else if n != nil {
		f.RedirectURL = text(n)
	}
	return f, nil
}
