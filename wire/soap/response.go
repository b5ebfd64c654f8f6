package soap

import (
	"bytes"
	"errors"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
)

// Revocation is one revocation list delivered in a response
// (docs/formats/revocation.md §4).
type Revocation struct {
	ListID [16]byte // LE GUID bytes, as on the wire
	Data   []byte   // the list blob (RevInfo or CRL)
}

// Response is an AcquireLicense response (docs/formats/soap.md §5).
type Response struct {
	Licenses      [][]byte     // XMR licenses; may be empty (License Server Time)
	RevInfo       []Revocation // omitted when empty
	TransactionID string       // Acknowledgement/TransactionID; omitted when empty
	Nonce         [16]byte     // LicenseNonce: echo of the challenge nonce
	ResponseID    []byte       // omitted when empty
	SigningChain  []byte       // SigningCertificateChain (CHAI); its SIGN_RESPONSE key verifies
	CustomData    string       // omitted when empty
	// ServerTime is a signed [ServerTime] blob (License Server Time),
	// carried in LicenseServerTime; omitted when empty.
	ServerTime []byte
}

// ParsedResponse is a received response.
type ParsedResponse struct {
	Response

	raw      []byte
	lr       []byte // exact bytes of <LicenseResponse …>…</LicenseResponse>
	sig      *xmlSig
	hasNonce bool
}

// BuildResponse builds the AcquireLicenseResponse envelope. The
// LicenseResponse element (Id="SignedData") is digested as the exact bytes
// emitted and SignedInfo is signed with signer (the server's SIGN_RESPONSE
// key); the Signature carries no KeyInfo (docs/formats/soap.md §5).
func BuildResponse(r *Response, signer Signer) ([]byte, error) {
	if r == nil || signer == nil {
		return nil, errors.New("soap: nil response or signer")
	}
	if !validText(r.TransactionID) || !validText(r.CustomData) {
		return nil, errors.New("soap: transaction ID or custom data is not valid XML text")
	}
	var lr writer
	lr.open("LicenseResponse", "xmlns", NSProtocols, "Id", signedID)
	lr.elem("Version", "1")
	lr.open("Licenses")
	for _, l := range r.Licenses {
		lr.b64("License", l)
	}
	lr.close("Licenses")
	if len(r.RevInfo) > 0 {
		lr.open("RevInfo")
		for _, rv := range r.RevInfo {
			lr.open("Revocation")
			lr.b64("ListID", rv.ListID[:])
			lr.b64("ListData", rv.Data)
			lr.close("Revocation")
		}
		lr.close("RevInfo")
	}
	if r.TransactionID != "" {
		lr.open("Acknowledgement")
		lr.elem("TransactionID", r.TransactionID)
		lr.close("Acknowledgement")
	}
	lr.b64("LicenseNonce", r.Nonce[:])
	if len(r.ResponseID) > 0 {
		lr.b64("ResponseID", r.ResponseID)
	}
	if len(r.SigningChain) > 0 {
		lr.b64("SigningCertificateChain", r.SigningChain)
	}
	if len(r.ServerTime) > 0 {
		lr.b64("LicenseServerTime", r.ServerTime)
	}
	if r.CustomData != "" {
		lr.elem("CustomData", r.CustomData)
	}
	lr.close("LicenseResponse")

	si, sig, err := sign(signer, lr.Bytes())
	if err != nil {
		return nil, err
	}

	var w writer
	w.WriteString(xmlDecl)
	w.open("soap:Envelope", "xmlns:soap", nsSOAP11, "xmlns:xsi", nsXSI, "xmlns:xsd", nsXSD)
	w.open("soap:Body")
	w.open("AcquireLicenseResponse", "xmlns", NSProtocols)
	w.open("AcquireLicenseResult")
	w.open("Response", "xmlns", nsMessages)
	w.Write(lr.Bytes())
	w.open("Signature", "xmlns", nsDSig)
	w.Write(si)
	w.b64("SignatureValue", sig[:])
	w.close("Signature")
	w.close("Response")
	w.close("AcquireLicenseResult")
	w.close("AcquireLicenseResponse")
	w.close("soap:Body")
	w.close("soap:Envelope")
	return w.Bytes(), nil
}

// ParseResponse parses an AcquireLicenseResponse envelope. If the body is a
// SOAP fault it returns a *[Fault] as the error (use errors.As; errors.Is
// matches its Code). A missing Signature, LicenseNonce or ResponseID is not
// a parse error: [ParsedResponse.VerifySignature] reports it. Malformed
// structure wraps drm.ErrSOAPXMLXMLFormat, a malformed signature
// drm.ErrXMLSigFormat, another message drm.ErrSOAPXMLWrongMessageType.
func ParseResponse(body []byte) (*ParsedResponse, error) {
	raw := bytes.Clone(body)
	root, err := parseTree(raw)
	if err != nil {
		return nil, err
	}
	op, err := responseOp(root, "AcquireLicenseResponse", "an AcquireLicenseResponse")
	if err != nil {
		return nil, err
	}
	resp, lr, err := signedPart(op, "AcquireLicenseResult", "Response", "LicenseResponse")
	if err != nil {
		return nil, err
	}
	p := &ParsedResponse{raw: raw, lr: raw[lr.start:lr.end]}
	if err := p.parseLicenseResponse(lr); err != nil {
		return nil, err
	}
	sigN, err := resp.child("Signature")
	if err != nil {
		return nil, err
	}
	if sigN != nil {
		if id, _ := lr.attrValue("Id"); id != signedID {
			return nil, sigErr("LicenseResponse Id is not SignedData")
		}
		if p.sig, err = parseSignature(sigN, raw); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *ParsedResponse) parseLicenseResponse(lr *node) error {
	const fe = drm.ErrSOAPXMLXMLFormat
	n, err := lr.child("Licenses")
	if err != nil {
		return err
	}
	if n != nil {
		for _, l := range n.all("License") {
			b, err := decodeB64(l)
			if err != nil {
				return formatErr("License is not base64")
			}
			if b == nil {
				b = []byte{}
			}
			p.Licenses = append(p.Licenses, b)
		}
	}
	if n, err = lr.child("RevInfo"); err != nil {
		return err
	} else if n != nil {
		for _, rv := range n.all("Revocation") {
			id, err := rv.must("ListID", fe)
			if err != nil {
				return err
			}
			idb, err := decodeFixed(id, 16, fe)
			if err != nil {
				return err
			}
			ld, err := rv.must("ListData", fe)
			if err != nil {
				return err
			}
			data, err := decodeB64(ld)
			if err != nil {
				return formatErr("ListData is not base64")
			}
			if data == nil {
				data = []byte{}
			}
			p.RevInfo = append(p.RevInfo, Revocation{ListID: [16]byte(idb), Data: data})
		}
	}
	if n, err = lr.child("Acknowledgement"); err != nil {
		return err
	} else if n != nil {
		tid, err := n.child("TransactionID")
		if err != nil {
			return err
		}
		if tid != nil {
			p.TransactionID = string(tid.text)
		}
	}
	if n, err = lr.child("LicenseNonce"); err != nil {
		return err
	} else if n != nil {
		b, err := decodeFixed(n, 16, fe)
		if err != nil {
			return err
		}
		p.Nonce, p.hasNonce = [16]byte(b), true
	}
	if n, err = lr.child("ResponseID"); err != nil {
		return err
	} else if n != nil {
		if p.ResponseID, err = decodeB64(n); err != nil {
			return formatErr("ResponseID is not base64")
		}
	}
	if n, err = lr.child("SigningCertificateChain"); err != nil {
		return err
	} else if n != nil {
		if p.SigningChain, err = decodeB64(n); err != nil {
			return formatErr("SigningCertificateChain is not base64")
		}
	}
	if n, err = lr.child("LicenseServerTime"); err != nil {
		return err
	} else if n != nil {
		if p.ServerTime, err = decodeB64(n); err != nil {
			return formatErr("LicenseServerTime is not base64")
		}
	}
	if n, err = lr.child("CustomData"); err != nil {
		return err
	} else if n != nil {
		p.CustomData = string(n.text)
	}
	return nil
}

// HasNonce reports whether the response carried a LicenseNonce.
func (p *ParsedResponse) HasNonce() bool { return p.hasNonce }

// Bytes returns a copy of the exact bytes that were parsed.
func (p *ParsedResponse) Bytes() []byte { return bytes.Clone(p.raw) }

// VerifySignature checks the response signature with pub, the SIGN_RESPONSE
// key of the signing chain (which the caller validates, docs/formats/bcert.md). A
// missing Signature, LicenseNonce or ResponseID gives
// drm.ErrLicenseResponseSignatureMissing; an ECDSA or digest mismatch over
// the received bytes gives drm.ErrInvalidLicenseResponseSignature
// (docs/formats/soap.md §5).
func (p *ParsedResponse) VerifySignature(pub ecc.Point) error {
	if p.sig == nil || !p.hasNonce || len(p.ResponseID) == 0 {
		return errf(drm.ErrLicenseResponseSignatureMissing, "response signature, nonce or response ID missing")
	}
	ecdsaOK, digestOK := p.sig.verify(pub, p.lr)
	if !ecdsaOK {
		return errf(drm.ErrInvalidLicenseResponseSignature, "response signature does not verify")
	}
	if !digestOK {
		return errf(drm.ErrInvalidLicenseResponseSignature, "LicenseResponse digest does not match")
	}
	return nil
}
