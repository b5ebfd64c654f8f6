package soap

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
)

// RevListInfo advertises the version of one revocation list the client holds
// (docs/formats/revocation.md §1, §4).
type RevListInfo struct {
	ListID  [16]byte // LE GUID bytes, as on the wire (base64 in ListID)
	Version uint64
}

// ClientData is the plaintext of the encrypted <Data> element
// (docs/formats/soap.md §3).
type ClientData struct {
	CertificateChain []byte   // CHAI bytes (docs/formats/bcert.md)
	Features         []string // <Feature Name="…"> entries, e.g. "AESCBC"
	REEFeatures      []string // prsim extension: see the package doc, "prsim extensions"
}

// Challenge is an AcquireLicense challenge (docs/formats/soap.md §2).
type Challenge struct {
	Version       int    // LA protocol version: 1, 4 or 5
	ContentHeader string // WRMHEADER XML (UTF-8), embedded as nested raw XML
	ClientVersion string // CLIENTINFO/CLIENTVERSION, e.g. "10.0.16384.10011"; omitted when empty
	RevLists      []RevListInfo
	CustomData    string // omitted when empty
	Nonce         [16]byte
	ClientTime    int64 // Unix seconds
	Data          ClientData
}

// ParsedChallenge is a received challenge. Its fields come from the LA
// element; Data stays zero until [ParsedChallenge.DecryptData].
type ParsedChallenge struct {
	Challenge
	SignerKey ecc.Point // KeyInfo/KeyValue/ECCKeyValue/PublicKey

	raw     []byte
	la      []byte // exact bytes of <LA …>…</LA>
	sig     *xmlSig
	encKey  ecc.Ciphertext
	encData []byte // IV ‖ AES-128-CBC ciphertext
}

func validVersion(v int) bool { return v == 1 || v == 4 || v == 5 }

// BuildChallenge builds the full SOAP envelope of an AcquireLicense
// challenge (docs/formats/soap.md §2, §4): it draws a random XML key point K,
// encrypts the <Data> element with AES-128-CBC (IV = K.x[0:16],
// key = K.x[16:32]), EC-ElGamal-encrypts K to serverKey, digests the exact
// LA bytes it emits and signs the exact SignedInfo bytes with signer, whose
// public key goes in KeyInfo.
func BuildChallenge(c *Challenge, serverKey ecc.Point, signer Signer, rand io.Reader) ([]byte, error) {
	return buildChallenge(c, serverKey, signer, rand, nil)
}

// buildChallenge takes an optional fixed XML key point (tests).
func buildChallenge(c *Challenge, serverKey ecc.Point, signer Signer, rand io.Reader, xmlKey *ecc.Point) ([]byte, error) {
	if c == nil {
		return nil, errors.New("soap: nil challenge")
	}
	if err := checkKeys(serverKey, signer, rand); err != nil {
		return nil, err
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	plain, err := encodeClientData(&c.Data)
	if err != nil {
		return nil, err
	}
	encKey, encData, err := sealData(serverKey, plain, rand, xmlKey)
	if err != nil {
		return nil, err
	}

	la := encodeLA(c, encKey, encData)
	si, sig, err := sign(signer, la)
	if err != nil {
		return nil, err
	}
	return assembleChallenge(la, si, sig, signer.Public()), nil
}

// validate checks the fields that go into LA as text or raw XML.
func (c *Challenge) validate() error {
	if !validVersion(c.Version) {
		return errors.New("soap: challenge version must be 1, 4 or 5")
	}
	if err := checkFragment(c.ContentHeader); err != nil {
		return err
	}
	if !validText(c.ClientVersion) || !validText(c.CustomData) {
		return errors.New("soap: client version or custom data is not valid XML text")
	}
	return nil
}

// encodeLA writes <LA …>…</LA>, the digested element (docs/formats/soap.md §2).
func encodeLA(c *Challenge, encKey ecc.Ciphertext, encData []byte) []byte {
	var la writer
	la.open("LA", "xmlns", NSProtocols, "Id", signedID, "xml:space", "preserve")
	la.elem("Version", strconv.Itoa(c.Version))
	la.open("ContentHeader")
	la.WriteString(c.ContentHeader) // raw nested XML, checked by the caller
	la.close("ContentHeader")
	if c.ClientVersion != "" {
		la.open("CLIENTINFO")
		la.elem("CLIENTVERSION", c.ClientVersion)
		la.close("CLIENTINFO")
	}
	if len(c.RevLists) > 0 {
		la.open("RevocationLists")
		for _, r := range c.RevLists {
			la.open("RevListInfo")
			la.b64("ListID", r.ListID[:])
			la.elem("Version", strconv.FormatUint(r.Version, 10))
			la.close("RevListInfo")
		}
		la.close("RevocationLists")
	}
	if c.CustomData != "" {
		la.elem("CustomData", c.CustomData)
	}
	la.b64("LicenseNonce", c.Nonce[:])
	la.elem("ClientTime", strconv.FormatInt(c.ClientTime, 10))
	writeEncryptedData(&la, encKey, encData)
	la.close("LA")
	return la.Bytes()
}

// assembleChallenge wraps the LA bytes and the signature in the envelope.
func assembleChallenge(la, si []byte, sig [64]byte, pub ecc.Point) []byte {
	return assembleRequest("AcquireLicense", la, si, sig, pub)
}

func encodeClientData(d *ClientData) ([]byte, error) {
	if len(d.CertificateChain) == 0 {
		return nil, errors.New("soap: client data has no certificate chain")
	}
	for _, f := range d.Features {
		if f == "" || !validText(f) {
			return nil, errors.New("soap: feature name is empty or not valid XML text")
		}
	}
	for _, f := range d.REEFeatures {
		if !isName(f) {
			return nil, errors.New("soap: REE feature name is not a plain XML name")
		}
	}
	var w writer
	w.open("Data")
	w.open("CertificateChains")
	w.b64("CertificateChain", d.CertificateChain)
	w.close("CertificateChains")
	if len(d.Features) > 0 || len(d.REEFeatures) > 0 {
		w.open("Features")
		for _, f := range d.Features {
			w.empty("Feature", "Name", f)
		}
		if len(d.REEFeatures) > 0 {
			w.open("REE")
			for _, f := range d.REEFeatures {
				w.empty(f)
			}
			w.close("REE")
		}
		w.close("Features")
	}
	w.close("Data")
	return w.Bytes(), nil
}

// encryptData returns IV ‖ AES-128-CBC(PKCS#7(plain)) keyed by K.x
// (docs/formats/soap.md §4.1–2).
func encryptData(k ecc.Point, plain []byte) ([]byte, error) {
	x := k.X()
	block, err := aes.NewCipher(x[16:])
	if err != nil {
		return nil, fmt.Errorf("soap: %w", err)
	}
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	out := make([]byte, aes.BlockSize+len(plain)+pad)
	copy(out, x[:16])
	copy(out[aes.BlockSize:], plain)
	for i := len(out) - pad; i < len(out); i++ {
		out[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(block, x[:16]).CryptBlocks(out[aes.BlockSize:], out[aes.BlockSize:])
	return out, nil
}

// ParseChallenge parses an AcquireLicense envelope. Structural problems wrap
// drm.ErrSOAPXMLXMLFormat, a malformed signature or encryption segment
// drm.ErrXMLSigFormat, a missing Signature drm.ErrSOAPXMLSignatureMissing,
// another message type drm.ErrSOAPXMLWrongMessageType and an LA version
// other than 1, 4 or 5 drm.ErrSOAPXMLProtocolNotSupported. It neither
// verifies nor decrypts.
func ParseChallenge(body []byte) (*ParsedChallenge, error) {
	raw := bytes.Clone(body)
	root, err := parseTree(raw)
	if err != nil {
		return nil, err
	}
	op, err := checkEnvelope(root)
	if err != nil {
		return nil, err
	}
	if !op.is(NSProtocols, "AcquireLicense") {
		return nil, errf(drm.ErrSOAPXMLWrongMessageType, "body is not an AcquireLicense request")
	}
	ch, la, err := signedPart(op, "challenge", "Challenge", "LA")
	if err != nil {
		return nil, err
	}
	if id, _ := la.attrValue("Id"); id != signedID {
		return nil, sigErr("LA Id is not SignedData")
	}
	p := &ParsedChallenge{raw: raw, la: raw[la.start:la.end]}
	if err := p.parseLA(la, raw); err != nil {
		return nil, err
	}

	sigN, err := ch.child("Signature")
	if err != nil {
		return nil, err
	}
	if sigN == nil {
		return nil, errf(drm.ErrSOAPXMLSignatureMissing, "challenge has no Signature")
	}
	if p.sig, err = parseSignature(sigN, raw); err != nil {
		return nil, err
	}
	pk, err := sigN.path(drm.ErrXMLSigFormat, "KeyInfo", "KeyValue", "ECCKeyValue", "PublicKey")
	if err != nil {
		return nil, err
	}
	pkb, err := decodeFixed(pk, ecc.PointSize, drm.ErrXMLSigFormat)
	if err != nil {
		return nil, err
	}
	if p.SignerKey, err = ecc.ParsePoint(pkb); err != nil {
		return nil, sigErr("signer key is not a P-256 point")
	}
	return p, nil
}

func (p *ParsedChallenge) parseLA(la *node, raw []byte) error {
	const fe = drm.ErrSOAPXMLXMLFormat
	n, err := la.must("Version", fe)
	if err != nil {
		return err
	}
	v, err := decodeUint(n, fe)
	if err != nil {
		return err
	}
	if !validVersion(int(v)) || v > 5 {
		return errf(drm.ErrSOAPXMLProtocolNotSupported, "LA version not supported")
	}
	p.Version = int(v)

	if n, err = la.must("ContentHeader", fe); err != nil {
		return err
	}
	p.ContentHeader = string(raw[n.innerStart:n.innerEnd])
	if err := checkFragment(p.ContentHeader); err != nil {
		return err
	}

	if p.ClientVersion, err = clientVersion(la); err != nil {
		return err
	}

	if n, err = la.child("RevocationLists"); err != nil {
		return err
	} else if n != nil {
		for _, ri := range n.all("RevListInfo") {
			id, err := ri.must("ListID", fe)
			if err != nil {
				return err
			}
			idb, err := decodeFixed(id, 16, fe)
			if err != nil {
				return err
			}
			vn, err := ri.must("Version", fe)
			if err != nil {
				return err
			}
			ver, err := decodeUint(vn, fe)
			if err != nil {
				return err
			}
			p.RevLists = append(p.RevLists, RevListInfo{ListID: [16]byte(idb), Version: ver})
		}
	}

	if n, err = la.child("CustomData"); err != nil {
		return err
	} else if n != nil {
		p.CustomData = string(n.text)
	}

	if n, err = la.must("LicenseNonce", fe); err != nil {
		return err
	}
	nonce, err := decodeFixed(n, 16, fe)
	if err != nil {
		return err
	}
	p.Nonce = [16]byte(nonce)

	if n, err = la.must("ClientTime", fe); err != nil {
		return err
	}
	if p.ClientTime, err = strconv.ParseInt(trimXMLSpace(n.text), 10, 64); err != nil {
		return formatErr("ClientTime is not a decimal number")
	}

	return p.parseEncryptedData(la)
}

func (p *ParsedChallenge) parseEncryptedData(la *node) error {
	var err error
	p.encKey, p.encData, err = parseEncData(la)
	return err
}

// Bytes returns a copy of the exact bytes that were parsed.
func (p *ParsedChallenge) Bytes() []byte { return bytes.Clone(p.raw) }

// VerifySignature checks the ECDSA signature with SignerKey over the
// received SignedInfo bytes (drm.ErrXMLSigECDSAVerifyFailure), then the
// SHA-256 digest over the received LA byte range
// (drm.ErrXMLSigSHAVerifyFailure), as docs/formats/soap.md §4.5–4.6 order them.
//
// It proves only that the holder of SignerKey signed; the caller must check
// that SignerKey is the SIGN key of the leaf certificate in the decrypted
// chain.
func (p *ParsedChallenge) VerifySignature() error {
	if p.sig == nil {
		return errf(drm.ErrSOAPXMLSignatureMissing, "challenge was not parsed")
	}
	ecdsaOK, digestOK := p.sig.verify(p.SignerKey, p.la)
	if !ecdsaOK {
		return errf(drm.ErrXMLSigECDSAVerifyFailure, "challenge signature does not verify")
	}
	if !digestOK {
		return errf(drm.ErrXMLSigSHAVerifyFailure, "LA digest does not match")
	}
	return nil
}

// DecryptData recovers the client data. decrypt is the server's ElGamal
// decryption with its challenge-encryption key (for a software key:
// func(ct) { return ecc.Decrypt(d, ct) }). A key that does not match the one
// the client used is detected by the IV check (IV = K.x[0:16], docs/formats/soap.md
// §4.1) and reported wrapping drm.ErrXMLSigFormat. On success p.Data is set
// too.
func (p *ParsedChallenge) DecryptData(decrypt func(ecc.Ciphertext) (ecc.Point, error)) (*ClientData, error) {
	plain, err := openData(p.encKey, p.encData, decrypt)
	if err != nil {
		return nil, err
	}
	d, err := parseClientData(plain)
	if err != nil {
		return nil, err
	}
	p.Data = *d
	return d, nil
}

func parseClientData(b []byte) (*ClientData, error) {
	const fe = drm.ErrSOAPXMLXMLFormat
	root, err := parseTree(b)
	if err != nil {
		return nil, err
	}
	if root.name.Local != "Data" {
		return nil, formatErr("client data root is not Data")
	}
	chains, err := root.must("CertificateChains", fe)
	if err != nil {
		return nil, err
	}
	cc, err := chains.must("CertificateChain", fe)
	if err != nil {
		return nil, err
	}
	d := &ClientData{}
	if d.CertificateChain, err = decodeB64(cc); err != nil || len(d.CertificateChain) == 0 {
		return nil, formatErr("CertificateChain is not base64")
	}
	fs, err := root.child("Features")
	if err != nil || fs == nil {
		return d, err
	}
	for _, f := range fs.all("Feature") {
		name, ok := f.attrValue("Name")
		if !ok || name == "" {
			return nil, formatErr("Feature without Name")
		}
		d.Features = append(d.Features, name)
	}
	ree, err := fs.child("REE")
	if err != nil || ree == nil {
		return d, err
	}
	for _, k := range ree.kids {
		if !isName(k.name.Local) || k.name.Space != "" {
			return nil, formatErr("REE feature is not a plain XML name")
		}
		d.REEFeatures = append(d.REEFeatures, k.name.Local)
	}
	return d, nil
}
