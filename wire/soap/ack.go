package soap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/wire/kid"
)

// MaxAckResults bounds the license results of one AcknowledgeLicense
// challenge: far above the licenses one response carries.
const MaxAckResults = 256

// LicenseStorageResult is the outcome of storing (binding) one license of
// a response: its KID, its license ID (the XMR rights ID) and a DRM_RESULT,
// 0 = S_OK (docs/formats/soap.md §7).
type LicenseStorageResult struct {
	KID    kid.ID
	LID    [16]byte
	Result uint32 // DRM_RESULT, 0 = S_OK
}

// LicenseAck is an AcknowledgeLicense challenge: the client reports, for
// the response's TransactionID, the result of storing each license.
type LicenseAck struct {
	TransactionID    string
	ClientVersion    string // CLIENTINFO/CLIENTVERSION; omitted when empty
	CertificateChain []byte // device chain (BCert CHAI), sent encrypted
	Results          []LicenseStorageResult
}

// ParsedLicenseAck is a received AcknowledgeLicense challenge. Results are
// signed but not encrypted; the certificate chain stays encrypted until
// [ParsedLicenseAck.DecryptData].
type ParsedLicenseAck struct {
	TransactionID string
	ClientVersion string
	Results       []LicenseStorageResult
	SignerKey     ecc.Point // KeyInfo/KeyValue/ECCKeyValue/PublicKey

	req *signedRequest
}

// BuildAcknowledgeLicense builds the AcknowledgeLicense envelope
// (docs/formats/soap.md §7; docs/protocol.md §11):
//
//	AcknowledgeLicense xmlns=P / challenge / Challenge xmlns=M /
//	  Ack xmlns=P Id="SignedData" xml:space="preserve"
//	    Version 1, TransactionID, CLIENTINFO/CLIENTVERSION,
//	    LicenseStorageResults / License* {KID, LID (base64), Result "0x%08X"},
//	    EncryptedData: <Data><CertificateChain>…</CertificateChain></Data>
//	  Signature over Ack (SignedInfo, ecdsa-sha256, KeyInfo)
//
// KID is base64 of the little-endian GUID bytes, as in a WRMHEADER.
func BuildAcknowledgeLicense(a *LicenseAck, serverKey ecc.Point, signer Signer, rand io.Reader) ([]byte, error) {
	return buildAcknowledgeLicense(a, serverKey, signer, rand, nil)
}

func buildAcknowledgeLicense(a *LicenseAck, serverKey ecc.Point, signer Signer, rand io.Reader, xmlKey *ecc.Point) ([]byte, error) {
	if a == nil {
		return nil, errors.New("soap: nil license acknowledgement")
	}
	if err := checkKeys(serverKey, signer, rand); err != nil {
		return nil, err
	}
	if a.TransactionID == "" || !validText(a.TransactionID) || !validText(a.ClientVersion) {
		return nil, errors.New("soap: transaction ID is empty, or it or the client version is not valid XML text")
	}
	if len(a.CertificateChain) == 0 {
		return nil, errors.New("soap: license acknowledgement has no certificate chain")
	}
	if len(a.Results) == 0 || len(a.Results) > MaxAckResults {
		return nil, fmt.Errorf("soap: license acknowledgement has %d results (want 1..%d)", len(a.Results), MaxAckResults)
	}
	var d writer
	d.open("Data")
	d.b64("CertificateChain", a.CertificateChain)
	d.close("Data")
	encKey, encData, err := sealData(serverKey, d.Bytes(), rand, xmlKey)
	if err != nil {
		return nil, err
	}
	ack := encodeAck(a.TransactionID, a.ClientVersion, a.Results, encKey, encData)
	si, sig, err := sign(signer, ack)
	if err != nil {
		return nil, err
	}
	return assembleRequest("AcknowledgeLicense", ack, si, sig, signer.Public()), nil
}

func encodeAck(tid, clientVersion string, results []LicenseStorageResult, encKey ecc.Ciphertext, encData []byte) []byte {
	var w writer
	w.open("Ack", "xmlns", NSProtocols, "Id", signedID, "xml:space", "preserve")
	w.elem("Version", "1")
	w.elem("TransactionID", tid)
	writeClientInfo(&w, clientVersion)
	w.open("LicenseStorageResults")
	for _, r := range results {
		w.open("License")
		g := r.KID.GUID()
		w.b64("KID", g[:])
		w.b64("LID", r.LID[:])
		w.elem("Result", fmt.Sprintf("0x%08X", r.Result))
		w.close("License")
	}
	w.close("LicenseStorageResults")
	writeEncryptedData(&w, encKey, encData)
	w.close("Ack")
	return w.Bytes()
}

// ParseAcknowledgeLicense parses an AcknowledgeLicense envelope, with the
// error classes of [ParseChallenge]. It neither verifies nor decrypts.
func ParseAcknowledgeLicense(body []byte) (*ParsedLicenseAck, error) {
	const fe = drm.ErrSOAPXMLXMLFormat
	req, ack, err := parseRequest(body, "AcknowledgeLicense", "Ack")
	if err != nil {
		return nil, err
	}
	if err := checkVersion1(ack); err != nil {
		return nil, err
	}
	p := &ParsedLicenseAck{SignerKey: req.signerKey, req: req}
	n, err := ack.must("TransactionID", fe)
	if err != nil {
		return nil, err
	}
	if p.TransactionID = string(n.text); p.TransactionID == "" {
		return nil, formatErr("empty TransactionID")
	}
	if p.ClientVersion, err = clientVersion(ack); err != nil {
		return nil, err
	}
	rs, err := ack.must("LicenseStorageResults", fe)
	if err != nil {
		return nil, err
	}
	lics := rs.all("License")
	if len(lics) == 0 || len(lics) > MaxAckResults {
		return nil, formatErr("LicenseStorageResults count out of range")
	}
	for _, l := range lics {
		r, err := parseStorageResult(l)
		if err != nil {
			return nil, err
		}
		p.Results = append(p.Results, r)
	}
	return p, nil
}

func parseStorageResult(l *node) (LicenseStorageResult, error) {
	const fe = drm.ErrSOAPXMLXMLFormat
	var r LicenseStorageResult
	n, err := l.must("KID", fe)
	if err != nil {
		return r, err
	}
	g, err := decodeFixed(n, kid.Size, fe)
	if err != nil {
		return r, err
	}
	if r.KID, err = kid.FromGUID(g); err != nil {
		return r, formatErr("bad KID")
	}
	if n, err = l.must("LID", fe); err != nil {
		return r, err
	}
	lid, err := decodeFixed(n, 16, fe)
	if err != nil {
		return r, err
	}
	r.LID = [16]byte(lid)
	if n, err = l.must("Result", fe); err != nil {
		return r, err
	}
	r.Result, err = parseResult(trimXMLSpace(n.text))
	return r, err
}

// parseResult reads "0x" and exactly eight hex digits.
func parseResult(s string) (uint32, error) {
	h, ok := strings.CutPrefix(s, "0x")
	if !ok || len(h) != 8 {
		return 0, formatErr("Result is not 0x and eight hex digits")
	}
	v, err := strconv.ParseUint(h, 16, 32)
	if err != nil {
		return 0, formatErr("Result is not 0x and eight hex digits")
	}
	return uint32(v), nil
}

// Bytes returns a copy of the exact bytes that were parsed.
func (p *ParsedLicenseAck) Bytes() []byte {
	if p.req == nil {
		return nil
	}
	return bytes.Clone(p.req.raw)
}

// VerifySignature checks the signature as [ParsedChallenge.VerifySignature]
// does; the caller must check that SignerKey is the leaf SIGN key of the
// decrypted chain.
func (p *ParsedLicenseAck) VerifySignature() error {
	return p.req.verify("license acknowledgement")
}

// DecryptData recovers the device certificate chain with the server's
// ElGamal decryption, with the checks and errors of
// [ParsedChallenge.DecryptData].
func (p *ParsedLicenseAck) DecryptData(decrypt func(ecc.Ciphertext) (ecc.Point, error)) (chain []byte, err error) {
	if p.req == nil {
		return nil, sigErr("license acknowledgement was not parsed")
	}
	plain, err := openData(p.req.encKey, p.req.encData, decrypt)
	if err != nil {
		return nil, err
	}
	root, err := parseDataRoot(plain)
	if err != nil {
		return nil, err
	}
	return dataField(root, "CertificateChain")
}

// BuildLicenseAckResponse builds the AcknowledgeLicense response:
//
//	AcknowledgeLicenseResponse xmlns=P / AcknowledgeLicenseResult /
//	  Response xmlns=M / LAck xmlns=P {Version 1, TransactionID}
//
// prsim leaves it unsigned: the client acts on nothing in it. It returns nil
// for a transaction ID that is empty or not valid XML text (a server only
// answers a TransactionID it parsed).
func BuildLicenseAckResponse(tid string) []byte {
	if tid == "" || !validText(tid) {
		return nil
	}
	var w writer
	w.WriteString(xmlDecl)
	w.open("soap:Envelope", "xmlns:soap", nsSOAP11, "xmlns:xsi", nsXSI, "xmlns:xsd", nsXSD)
	w.open("soap:Body")
	w.open("AcknowledgeLicenseResponse", "xmlns", NSProtocols)
	w.open("AcknowledgeLicenseResult")
	w.open("Response", "xmlns", nsMessages)
	w.open("LAck", "xmlns", NSProtocols)
	w.elem("Version", "1")
	w.elem("TransactionID", tid)
	w.close("LAck")
	w.close("Response")
	w.close("AcknowledgeLicenseResult")
	w.close("AcknowledgeLicenseResponse")
	w.close("soap:Body")
	w.close("soap:Envelope")
	return w.Bytes()
}

// ParseLicenseAckResponse accepts a well-formed AcknowledgeLicense
// response; a fault body returns the *[Fault] as the error, as
// [ParseResponse] does.
func ParseLicenseAckResponse(body []byte) error {
	_, err := parseLicenseAckResponse(body)
	return err
}

// parseLicenseAckResponse also returns the echoed transaction ID (tests).
func parseLicenseAckResponse(body []byte) (string, error) {
	resp, err := parseResponseBody(body, "AcknowledgeLicenseResponse", "AcknowledgeLicenseResult")
	if err != nil {
		return "", err
	}
	lack, err := resp.must("LAck", drm.ErrSOAPXMLXMLFormat)
	if err != nil {
		return "", err
	}
	if !lack.is(NSProtocols, "LAck") {
		return "", formatErr("LAck is not in the protocols namespace")
	}
	if err := checkVersion1(lack); err != nil {
		return "", err
	}
	n, err := lack.must("TransactionID", drm.ErrSOAPXMLXMLFormat)
	if err != nil {
		return "", err
	}
	if len(n.text) == 0 {
		return "", formatErr("empty TransactionID")
	}
	return string(n.text), nil
}
