package soap

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"io"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
)

// The signed client requests (AcquireLicense, ProcessSecureStopData,
// AcknowledgeLicense) share one shape (docs/formats/soap.md §2, §4, §7;
// docs/protocol.md §11): Operation / challenge / Challenge / a signed
// element (Id="SignedData") ending in an EncryptedData whose key is an
// XML key point K ElGamal-encrypted to the server, then a Signature with
// KeyInfo. The helpers below are that shape; each message writes its own
// signed element.

// sealData draws the XML key point K (or takes the fixed one tests pass),
// encrypts it to serverKey and encrypts plain under it.
func sealData(serverKey ecc.Point, plain []byte, rand io.Reader, xmlKey *ecc.Point) (ecc.Ciphertext, []byte, error) {
	var k ecc.Point
	if xmlKey != nil {
		k = *xmlKey
	} else {
		d, err := ecc.RandomScalar(rand)
		if err != nil {
			return ecc.Ciphertext{}, nil, fmt.Errorf("soap: failed to draw the XML key: %w", err)
		}
		if k, err = ecc.ScalarBaseMult(d); err != nil {
			return ecc.Ciphertext{}, nil, fmt.Errorf("soap: failed to derive the XML key: %w", err)
		}
	}
	encKey, err := ecc.Encrypt(rand, serverKey, k)
	if err != nil {
		return ecc.Ciphertext{}, nil, fmt.Errorf("soap: failed to encrypt the XML key: %w", err)
	}
	encData, err := encryptData(k, plain)
	if err != nil {
		return ecc.Ciphertext{}, nil, err
	}
	return encKey, encData, nil
}

// checkKeys checks the inputs every signed request builder needs.
func checkKeys(serverKey ecc.Point, signer Signer, rand io.Reader) error {
	if signer == nil || rand == nil {
		return errors.New("soap: nil signer or random source")
	}
	if !serverKey.Valid() {
		return fmt.Errorf("soap: server key: %w", ecc.ErrPoint)
	}
	if pub := signer.Public(); !pub.Valid() {
		return fmt.Errorf("soap: signer public key: %w", ecc.ErrPoint)
	}
	return nil
}

// writeEncryptedData writes the EncryptedData element of
// docs/formats/soap.md §4.
func writeEncryptedData(w *writer, encKey ecc.Ciphertext, encData []byte) {
	w.open("EncryptedData", "xmlns", nsXMLEnc, "Type", typeElement)
	w.empty("EncryptionMethod", "Algorithm", algAES128)
	w.open("KeyInfo", "xmlns", nsDSig)
	w.open("EncryptedKey", "xmlns", nsXMLEnc)
	w.empty("EncryptionMethod", "Algorithm", algECC256)
	w.open("KeyInfo", "xmlns", nsDSig)
	w.elem("KeyName", "WMRMServer")
	w.close("KeyInfo")
	w.open("CipherData")
	w.b64("CipherValue", encKey[:]) // always 128 bytes: four fixed 32-byte coordinates
	w.close("CipherData")
	w.close("EncryptedKey")
	w.close("KeyInfo")
	w.open("CipherData")
	w.b64("CipherValue", encData)
	w.close("CipherData")
	w.close("EncryptedData")
}

// writeClientInfo writes CLIENTINFO/CLIENTVERSION, omitted when empty.
func writeClientInfo(w *writer, version string) {
	if version == "" {
		return
	}
	w.open("CLIENTINFO")
	w.elem("CLIENTVERSION", version)
	w.close("CLIENTINFO")
}

// assembleRequest wraps the signed element bytes and the signature in the
// envelope of operation op.
func assembleRequest(op string, signed, si []byte, sig [64]byte, pub ecc.Point) []byte {
	var w writer
	w.WriteString(xmlDecl)
	w.open("soap:Envelope", "xmlns:xsi", nsXSI, "xmlns:xsd", nsXSD, "xmlns:soap", nsSOAP11)
	w.open("soap:Body")
	w.open(op, "xmlns", NSProtocols)
	w.open("challenge")
	w.open("Challenge", "xmlns", nsMessages)
	w.Write(signed)
	w.open("Signature", "xmlns", nsDSig)
	w.Write(si)
	w.b64("SignatureValue", sig[:])
	w.open("KeyInfo", "xmlns", nsDSig)
	w.open("KeyValue")
	w.open("ECCKeyValue")
	w.b64("PublicKey", pub[:])
	w.close("ECCKeyValue")
	w.close("KeyValue")
	w.close("KeyInfo")
	w.close("Signature")
	w.close("Challenge")
	w.close("challenge")
	w.close(op)
	w.close("soap:Body")
	w.close("soap:Envelope")
	return w.Bytes()
}

// signedRequest is the common part of a parsed signed request.
type signedRequest struct {
	raw       []byte
	signed    []byte // exact bytes of the signed element
	sig       *xmlSig
	signerKey ecc.Point
	encKey    ecc.Ciphertext
	encData   []byte // IV ‖ AES-128-CBC ciphertext
}

// parseRequest parses the envelope of operation op down to its signed
// element (returned for the caller to read), the Signature with its KeyInfo
// key, and the EncryptedData inside the signed element.
func parseRequest(body []byte, op, signedName string) (*signedRequest, *node, error) {
	raw := bytes.Clone(body)
	root, err := parseTree(raw)
	if err != nil {
		return nil, nil, err
	}
	o, err := checkEnvelope(root)
	if err != nil {
		return nil, nil, err
	}
	if !o.is(NSProtocols, op) {
		return nil, nil, errf(drm.ErrSOAPXMLWrongMessageType, "body is not a %s request", op)
	}
	ch, part, err := signedPart(o, "challenge", "Challenge", signedName)
	if err != nil {
		return nil, nil, err
	}
	if id, _ := part.attrValue("Id"); id != signedID {
		return nil, nil, sigErr(signedName + " Id is not SignedData")
	}
	r := &signedRequest{raw: raw, signed: raw[part.start:part.end]}
	if r.encKey, r.encData, err = parseEncData(part); err != nil {
		return nil, nil, err
	}
	sigN, err := ch.child("Signature")
	if err != nil {
		return nil, nil, err
	}
	if sigN == nil {
		return nil, nil, errf(drm.ErrSOAPXMLSignatureMissing, "%s has no Signature", op)
	}
	if r.sig, err = parseSignature(sigN, raw); err != nil {
		return nil, nil, err
	}
	pk, err := sigN.path(drm.ErrXMLSigFormat, "KeyInfo", "KeyValue", "ECCKeyValue", "PublicKey")
	if err != nil {
		return nil, nil, err
	}
	pkb, err := decodeFixed(pk, ecc.PointSize, drm.ErrXMLSigFormat)
	if err != nil {
		return nil, nil, err
	}
	if r.signerKey, err = ecc.ParsePoint(pkb); err != nil {
		return nil, nil, sigErr("signer key is not a P-256 point")
	}
	return r, part, nil
}

// verify checks the signature as [ParsedChallenge.VerifySignature] does.
func (r *signedRequest) verify(what string) error {
	if r == nil || r.sig == nil {
		return errf(drm.ErrSOAPXMLSignatureMissing, "%s was not parsed", what)
	}
	ecdsaOK, digestOK := r.sig.verify(r.signerKey, r.signed)
	if !ecdsaOK {
		return errf(drm.ErrXMLSigECDSAVerifyFailure, "%s signature does not verify", what)
	}
	if !digestOK {
		return errf(drm.ErrXMLSigSHAVerifyFailure, "%s digest does not match", what)
	}
	return nil
}

// parseEncData reads the EncryptedData child of parent (docs/formats/soap.md §4).
func parseEncData(parent *node) (ecc.Ciphertext, []byte, error) {
	const se = drm.ErrXMLSigFormat
	var encKey ecc.Ciphertext
	ed, err := parent.must("EncryptedData", se)
	if err != nil {
		return encKey, nil, err
	}
	if !ed.is(nsXMLEnc, "EncryptedData") {
		return encKey, nil, sigErr("EncryptedData is not in the XML-Enc namespace")
	}
	m, err := ed.must("EncryptionMethod", se)
	if err != nil {
		return encKey, nil, err
	}
	if a, _ := m.attrValue("Algorithm"); a != algAES128 {
		return encKey, nil, sigErr("client data encryption is not AES-128-CBC")
	}
	ek, err := ed.path(se, "KeyInfo", "EncryptedKey")
	if err != nil {
		return encKey, nil, err
	}
	if m, err = ek.must("EncryptionMethod", se); err != nil {
		return encKey, nil, err
	}
	if a, _ := m.attrValue("Algorithm"); a != algECC256 {
		return encKey, nil, sigErr("key encryption is not ECC-256")
	}
	cv, err := ek.path(se, "CipherData", "CipherValue")
	if err != nil {
		return encKey, nil, err
	}
	kb, err := decodeFixed(cv, ecc.CiphertextSize, se)
	if err != nil {
		return encKey, nil, err
	}
	encKey = ecc.Ciphertext(kb)
	if cv, err = ed.path(se, "CipherData", "CipherValue"); err != nil {
		return encKey, nil, err
	}
	db, err := decodeB64(cv)
	if err != nil || len(db) < 2*aes.BlockSize || len(db)%aes.BlockSize != 0 {
		return encKey, nil, sigErr("encrypted client data is not IV plus whole AES blocks")
	}
	return encKey, db, nil
}

// openData decrypts encData with the XML key decrypt recovers from encKey,
// checking the IV against K (docs/formats/soap.md §4.1) and the padding.
func openData(encKey ecc.Ciphertext, encData []byte, decrypt func(ecc.Ciphertext) (ecc.Point, error)) ([]byte, error) {
	if decrypt == nil {
		return nil, errors.New("soap: nil decrypt function")
	}
	if len(encData) < 2*aes.BlockSize {
		return nil, sigErr("challenge was not parsed")
	}
	k, err := decrypt(encKey)
	if err != nil {
		return nil, fmt.Errorf("soap: failed to decrypt the client data key: %w", err)
	}
	x := k.X()
	if !bytes.Equal(x[:16], encData[:aes.BlockSize]) {
		return nil, sigErr("client data key does not match its IV")
	}
	block, err := aes.NewCipher(x[16:])
	if err != nil {
		return nil, fmt.Errorf("soap: %w", err)
	}
	plain := make([]byte, len(encData)-aes.BlockSize)
	cipher.NewCBCDecrypter(block, encData[:aes.BlockSize]).CryptBlocks(plain, encData[aes.BlockSize:])
	pad := int(plain[len(plain)-1])
	if pad == 0 || pad > aes.BlockSize {
		return nil, sigErr("bad client data padding")
	}
	for _, b := range plain[len(plain)-pad:] {
		if int(b) != pad {
			return nil, sigErr("bad client data padding")
		}
	}
	return plain[:len(plain)-pad], nil
}

// dataField returns the base64 payload (non-empty) of root's child name,
// root being a decrypted <Data> element.
func dataField(root *node, name string) ([]byte, error) {
	n, err := root.must(name, drm.ErrSOAPXMLXMLFormat)
	if err != nil {
		return nil, err
	}
	b, err := decodeB64(n)
	if err != nil || len(b) == 0 {
		return nil, formatErr(name + " is not base64")
	}
	return b, nil
}

// parseDataRoot parses a decrypted plaintext whose root must be Data.
func parseDataRoot(b []byte) (*node, error) {
	root, err := parseTree(b)
	if err != nil {
		return nil, err
	}
	if root.name.Local != "Data" {
		return nil, formatErr("client data root is not Data")
	}
	return root, nil
}
