package soap

import (
	"bytes"
	"errors"
	"io"
	"strconv"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
)

// ActionProcessSecureStopData is the SOAPAction of a secure-stop challenge,
// sent to the license endpoint (docs/protocol.md §11).
const ActionProcessSecureStopData = `"` + NSProtocols + `/ProcessSecureStopData"`

// MaxSecureStopRecords bounds the encoded record list a challenge carries
// (100 records of at most 327 bytes each, with their length prefixes).
const MaxSecureStopRecords = 64 << 10

// SecureStopChallenge is a ProcessSecureStopData challenge
// (docs/protocol.md §11): the TEE's nonce and the device's stopped-session
// records, encrypted to the server and signed with the device key.
type SecureStopChallenge struct {
	Nonce            [16]byte // drawn by the TEE (Device.NewNonce)
	ClientTime       int64    // Unix seconds
	ClientVersion    string   // CLIENTINFO/CLIENTVERSION; omitted when empty
	CertificateChain []byte   // device chain (BCert CHAI)
	Records          []byte   // securestop.EncodeRecords
}

// ParsedSecureStopChallenge is a received secure-stop challenge. The
// certificate chain and records stay encrypted until
// [ParsedSecureStopChallenge.DecryptData].
type ParsedSecureStopChallenge struct {
	Nonce         [16]byte
	ClientTime    int64
	ClientVersion string
	SignerKey     ecc.Point // KeyInfo/KeyValue/ECCKeyValue/PublicKey

	req *signedRequest
}

// BuildSecureStopChallenge builds the ProcessSecureStopData envelope:
//
//	ProcessSecureStopData xmlns=P / challenge / Challenge xmlns=M /
//	  SecureStop xmlns=P Id="SignedData" xml:space="preserve"
//	    Version 1, Nonce (base64), ClientTime, CLIENTINFO/CLIENTVERSION,
//	    EncryptedData: <Data><CertificateChain>…</CertificateChain>
//	                   <SecureStopRecords>…</SecureStopRecords></Data>
//	  Signature over SecureStop (SignedInfo, ecdsa-sha256, KeyInfo)
//
// with the encryption and exact-bytes signature of the license challenge
// (docs/formats/soap.md §4).
func BuildSecureStopChallenge(c *SecureStopChallenge, serverKey ecc.Point, signer Signer, rand io.Reader) ([]byte, error) {
	return buildSecureStopChallenge(c, serverKey, signer, rand, nil)
}

func buildSecureStopChallenge(c *SecureStopChallenge, serverKey ecc.Point, signer Signer, rand io.Reader, xmlKey *ecc.Point) ([]byte, error) {
	if c == nil {
		return nil, errors.New("soap: nil secure-stop challenge")
	}
	if err := checkKeys(serverKey, signer, rand); err != nil {
		return nil, err
	}
	if !validText(c.ClientVersion) {
		return nil, errors.New("soap: client version is not valid XML text")
	}
	if len(c.CertificateChain) == 0 || len(c.Records) == 0 || len(c.Records) > MaxSecureStopRecords {
		return nil, errors.New("soap: secure-stop challenge needs a certificate chain and 1..64 KiB of records")
	}
	plain := encodeSecureStopData(c.CertificateChain, c.Records)
	encKey, encData, err := sealData(serverKey, plain, rand, xmlKey)
	if err != nil {
		return nil, err
	}
	ss := encodeSecureStop(c.Nonce, c.ClientTime, c.ClientVersion, encKey, encData)
	si, sig, err := sign(signer, ss)
	if err != nil {
		return nil, err
	}
	return assembleRequest("ProcessSecureStopData", ss, si, sig, signer.Public()), nil
}

func encodeSecureStop(nonce [16]byte, clientTime int64, clientVersion string, encKey ecc.Ciphertext, encData []byte) []byte {
	var w writer
	w.open("SecureStop", "xmlns", NSProtocols, "Id", signedID, "xml:space", "preserve")
	w.elem("Version", "1")
	w.b64("Nonce", nonce[:])
	w.elem("ClientTime", strconv.FormatInt(clientTime, 10))
	writeClientInfo(&w, clientVersion)
	writeEncryptedData(&w, encKey, encData)
	w.close("SecureStop")
	return w.Bytes()
}

func encodeSecureStopData(chain, records []byte) []byte {
	var w writer
	w.open("Data")
	w.b64("CertificateChain", chain)
	w.b64("SecureStopRecords", records)
	w.close("Data")
	return w.Bytes()
}

// ParseSecureStopChallenge parses a ProcessSecureStopData envelope, with
// the error classes of [ParseChallenge] (a Version other than 1 wraps
// drm.ErrSOAPXMLProtocolNotSupported). It neither verifies nor decrypts.
func ParseSecureStopChallenge(body []byte) (*ParsedSecureStopChallenge, error) {
	const fe = drm.ErrSOAPXMLXMLFormat
	req, ss, err := parseRequest(body, "ProcessSecureStopData", "SecureStop")
	if err != nil {
		return nil, err
	}
	if err := checkVersion1(ss); err != nil {
		return nil, err
	}
	p := &ParsedSecureStopChallenge{SignerKey: req.signerKey, req: req}
	n, err := ss.must("Nonce", fe)
	if err != nil {
		return nil, err
	}
	nonce, err := decodeFixed(n, 16, fe)
	if err != nil {
		return nil, err
	}
	p.Nonce = [16]byte(nonce)
	if n, err = ss.must("ClientTime", fe); err != nil {
		return nil, err
	}
	if p.ClientTime, err = strconv.ParseInt(trimXMLSpace(n.text), 10, 64); err != nil {
		return nil, formatErr("ClientTime is not a decimal number")
	}
	if p.ClientVersion, err = clientVersion(ss); err != nil {
		return nil, err
	}
	return p, nil
}

// checkVersion1 requires <Version>1</Version> in a prsim-defined message.
func checkVersion1(n *node) error {
	v, err := n.must("Version", drm.ErrSOAPXMLXMLFormat)
	if err != nil {
		return err
	}
	ver, err := decodeUint(v, drm.ErrSOAPXMLXMLFormat)
	if err != nil {
		return err
	}
	if ver != 1 {
		return errf(drm.ErrSOAPXMLProtocolNotSupported, "%s version not supported", n.name.Local)
	}
	return nil
}

// clientVersion reads the optional CLIENTINFO/CLIENTVERSION.
func clientVersion(n *node) (string, error) {
	ci, err := n.child("CLIENTINFO")
	if err != nil || ci == nil {
		return "", err
	}
	cv, err := ci.child("CLIENTVERSION")
	if err != nil || cv == nil {
		return "", err
	}
	return string(cv.text), nil
}

// Bytes returns a copy of the exact bytes that were parsed.
func (p *ParsedSecureStopChallenge) Bytes() []byte {
	if p.req == nil {
		return nil
	}
	return bytes.Clone(p.req.raw)
}

// VerifySignature checks the signature as [ParsedChallenge.VerifySignature]
// does. It proves only that the holder of SignerKey signed: the caller must
// check that SignerKey is the leaf SIGN key of the decrypted chain.
func (p *ParsedSecureStopChallenge) VerifySignature() error {
	return p.req.verify("secure-stop challenge")
}

// DecryptData recovers the device certificate chain and the encoded records
// (securestop.ParseRecords) with the server's ElGamal decryption, with the
// checks and errors of [ParsedChallenge.DecryptData].
func (p *ParsedSecureStopChallenge) DecryptData(decrypt func(ecc.Ciphertext) (ecc.Point, error)) (chain, records []byte, err error) {
	if p.req == nil {
		return nil, nil, sigErr("secure-stop challenge was not parsed")
	}
	plain, err := openData(p.req.encKey, p.req.encData, decrypt)
	if err != nil {
		return nil, nil, err
	}
	return parseSecureStopData(plain)
}

func parseSecureStopData(b []byte) (chain, records []byte, err error) {
	root, err := parseDataRoot(b)
	if err != nil {
		return nil, nil, err
	}
	if chain, err = dataField(root, "CertificateChain"); err != nil {
		return nil, nil, err
	}
	if records, err = dataField(root, "SecureStopRecords"); err != nil {
		return nil, nil, err
	}
	if len(records) > MaxSecureStopRecords {
		return nil, nil, formatErr("SecureStopRecords too long")
	}
	return chain, records, nil
}

// BuildSecureStopResponse wraps the signed acknowledgement
// (securestop.Ack) in the response envelope:
//
//	ProcessSecureStopDataResponse xmlns=P / ProcessSecureStopDataResult /
//	  Response xmlns=M / SecureStopAck (base64)
//
// The envelope itself is not signed: the acknowledgement carries its own
// signature and chain (docs/protocol.md §11).
func BuildSecureStopResponse(ack []byte) []byte {
	var w writer
	w.WriteString(xmlDecl)
	w.open("soap:Envelope", "xmlns:soap", nsSOAP11, "xmlns:xsi", nsXSI, "xmlns:xsd", nsXSD)
	w.open("soap:Body")
	w.open("ProcessSecureStopDataResponse", "xmlns", NSProtocols)
	w.open("ProcessSecureStopDataResult")
	w.open("Response", "xmlns", nsMessages)
	w.b64("SecureStopAck", ack)
	w.close("Response")
	w.close("ProcessSecureStopDataResult")
	w.close("ProcessSecureStopDataResponse")
	w.close("soap:Body")
	w.close("soap:Envelope")
	return w.Bytes()
}

// ParseSecureStopResponse returns the acknowledgement blob of a
// ProcessSecureStopDataResponse (parse it with securestop.ParseAck). A
// fault body returns the *[Fault] as the error, as [ParseResponse] does.
func ParseSecureStopResponse(body []byte) ([]byte, error) {
	resp, err := parseResponseBody(body, "ProcessSecureStopDataResponse", "ProcessSecureStopDataResult")
	if err != nil {
		return nil, err
	}
	n, err := resp.must("SecureStopAck", drm.ErrSOAPXMLXMLFormat)
	if err != nil {
		return nil, err
	}
	ack, err := decodeB64(n)
	if err != nil || len(ack) == 0 {
		return nil, formatErr("SecureStopAck is not base64")
	}
	return ack, nil
}

// parseResponseBody parses an envelope of operation op (or a fault,
// returned as the error) down to op / result / Response (messages
// namespace).
func parseResponseBody(body []byte, op, result string) (*node, error) {
	root, err := parseTree(body)
	if err != nil {
		return nil, err
	}
	o, err := responseOp(root, op, "a "+op)
	if err != nil {
		return nil, err
	}
	resp, err := o.path(drm.ErrSOAPXMLXMLFormat, result, "Response")
	if err != nil {
		return nil, err
	}
	if !resp.is(nsMessages, "Response") {
		return nil, formatErr("Response is not in the messages namespace")
	}
	return resp, nil
}

// responseOp returns the operation element op of a parsed response
// envelope, or the *[Fault] it carries as the error; what names op in the
// wrong-message error ("body is not " + what).
func responseOp(root *node, op, what string) (*node, error) {
	o, err := checkEnvelope(root)
	if err != nil {
		return nil, err
	}
	if o.name.Local == "Fault" && o.name.Space == root.name.Space {
		f, err := faultFromNode(o)
		if err != nil {
			return nil, err
		}
		return nil, f
	}
	if !o.is(NSProtocols, op) {
		return nil, errf(drm.ErrSOAPXMLWrongMessageType, "body is not %s", what)
	}
	return o, nil
}
