package soap

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
)

// Signer signs for a message: ECDSA-P256 over a SHA-256 digest, returning
// the raw r‖s signature. A device's leaf SIGN key signs challenges; a
// server's SIGN_RESPONSE key signs responses (docs/formats/soap.md §4.5, §5). The
// key may live in a TPM; this package only ever sees the digest.
type Signer interface {
	Public() ecc.Point
	SignDigest(digest []byte) ([64]byte, error)
}

type keySigner struct {
	key  *ecdsa.PrivateKey
	pub  ecc.Point
	rand io.Reader
}

// NewSigner returns a Signer for a software P-256 key, drawing signature
// nonces from rand. The key must be kept secret; the Signer never exposes it.
func NewSigner(key *ecdsa.PrivateKey, rand io.Reader) (Signer, error) {
	if key == nil || rand == nil {
		return nil, errors.New("soap: nil key or random source")
	}
	pub, err := ecc.PublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("soap: signing key is not P-256: %w", err)
	}
	return &keySigner{key: key, pub: pub, rand: rand}, nil
}

func (s *keySigner) Public() ecc.Point { return s.pub }

func (s *keySigner) SignDigest(digest []byte) ([64]byte, error) {
	return ecc.Sign(s.rand, s.key, digest)
}

// String redacts the key.
func (s *keySigner) String() string { return "soap.Signer(ECDSA-P256)" }

// writeSignedInfo writes <SignedInfo xmlns=DS>…</SignedInfo> for a reference
// to #SignedData with the given digest (docs/formats/soap.md §2).
func writeSignedInfo(w *writer, digest [32]byte) {
	w.open("SignedInfo", "xmlns", nsDSig)
	w.empty("CanonicalizationMethod", "Algorithm", algC14N)
	w.empty("SignatureMethod", "Algorithm", algECDSA)
	w.open("Reference", "URI", "#"+signedID)
	w.empty("DigestMethod", "Algorithm", algSHA256)
	w.b64("DigestValue", digest[:])
	w.close("Reference")
	w.close("SignedInfo")
}

// sign digests the exact bytes of signed, builds SignedInfo and signs its
// exact bytes. It returns the SignedInfo bytes and the signature.
func sign(signer Signer, signed []byte) ([]byte, [64]byte, error) {
	var si writer
	writeSignedInfo(&si, sha256.Sum256(signed))
	h := sha256.Sum256(si.Bytes())
	sig, err := signer.SignDigest(h[:])
	if err != nil {
		return nil, sig, fmt.Errorf("soap: failed to sign: %w", err)
	}
	return si.Bytes(), sig, nil
}

// xmlSig is a parsed <Signature>: the exact SignedInfo bytes and the values.
type xmlSig struct {
	signedInfo []byte
	digest     [32]byte
	value      [64]byte
}

// parseSignature reads <Signature xmlns=DS> whose SignedInfo references
// #SignedData with the algorithms of docs/formats/soap.md §2.
func parseSignature(sig *node, body []byte) (*xmlSig, error) {
	if !sig.is(nsDSig, "Signature") {
		return nil, sigErr("Signature is not in the XML-DSig namespace")
	}
	si, err := sig.must("SignedInfo", drm.ErrXMLSigFormat)
	if err != nil {
		return nil, err
	}
	if !si.is(nsDSig, "SignedInfo") {
		return nil, sigErr("SignedInfo is not in the XML-DSig namespace")
	}
	checks := []struct{ path []string }{
		{[]string{"CanonicalizationMethod"}},
		{[]string{"SignatureMethod"}},
		{[]string{"Reference", "DigestMethod"}},
	}
	want := []string{algC14N, algECDSA, algSHA256}
	for i, c := range checks {
		n, err := si.path(drm.ErrXMLSigFormat, c.path...)
		if err != nil {
			return nil, err
		}
		if a, _ := n.attrValue("Algorithm"); a != want[i] {
			return nil, sigErr("unsupported signature algorithm")
		}
	}
	ref, _ := si.child("Reference") // present: checked above
	if uri, _ := ref.attrValue("URI"); uri != "#"+signedID {
		return nil, sigErr("signature reference is not #SignedData")
	}
	dv, err := ref.must("DigestValue", drm.ErrXMLSigFormat)
	if err != nil {
		return nil, err
	}
	digest, err := decodeFixed(dv, sha256.Size, drm.ErrXMLSigFormat)
	if err != nil {
		return nil, err
	}
	sv, err := sig.must("SignatureValue", drm.ErrXMLSigFormat)
	if err != nil {
		return nil, err
	}
	value, err := decodeFixed(sv, ecc.SignatureSize, drm.ErrXMLSigFormat)
	if err != nil {
		return nil, err
	}
	return &xmlSig{
		signedInfo: body[si.start:si.end],
		digest:     [32]byte(digest),
		value:      [64]byte(value),
	}, nil
}

// verify checks ECDSA over the received SignedInfo bytes, then the digest of
// the received signed-element bytes, in the order of docs/formats/soap.md §4.6.
func (s *xmlSig) verify(pub ecc.Point, signed []byte) (ecdsaOK, digestOK bool) {
	h := sha256.Sum256(s.signedInfo)
	if !ecc.Verify(pub, h[:], s.value[:]) {
		return false, false
	}
	d := sha256.Sum256(signed)
	return true, subtle.ConstantTimeCompare(d[:], s.digest[:]) == 1
}
