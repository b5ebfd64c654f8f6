package bcert

import (
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
)

// VerifyOptions configures [Chain.Verify].
type VerifyOptions struct {
	// Roots are the trust anchors: the root-most certificate's issuer key
	// must be one of them. Empty trusts nothing.
	Roots []ecc.Point
	// CurrentTime is checked against every certificate's expiration; zero
	// means time.Now().
	CurrentTime time.Time
	// LeafType, if non-zero, is the required type of the leaf (CertType*).
	LeafType uint32
}

// Verify checks the chain against the docs/formats/bcert.md §11 checklist:
//
//   - 1…6 certificates, chain version 1, each certificate well-formed (it is
//     re-parsed from its encoding);
//   - every key ECC-256 and on the curve, BASIC's digest the SHA-256 of one
//     of the certificate's keys, and the signature valid under the issuer key
//     the SIGNATURE object names;
//   - that issuer key listed with an issuer usage in the next certificate's
//     KEY object, that certificate of type ISSUER, and the child's security
//     level not above the parent's;
//   - the root-most certificate's issuer key among opts.Roots (a self-signed
//     root names its own key);
//   - no certificate expired at opts.CurrentTime;
//   - the leaf of type opts.LeafType if set; a DEVICE leaf has exactly one
//     SIGN key and one, different, ENCRYPT_KEY key; a CRL_SIGNER leaf has a
//     SIGN_CRL key.
//
// Errors wrap the matching drm sentinel and name the certificate index
// (0 = leaf).
func (c *Chain) Verify(opts VerifyOptions) error {
	n := len(c.Certs)
	switch {
	case n == 0:
		return chainErr("chain holds no certificate", drm.ErrBCertInvalidChainLength)
	case n > MaxCerts:
		return chainErr("chain holds more than 6 certificates", drm.ErrBCertChainTooDeep)
	case c.Version != ChainVersion:
		return chainErr("chain version is not 1", drm.ErrBCertInvalidChainVersion)
	}
	if len(opts.Roots) == 0 {
		return chainErr("no trust anchor configured", drm.ErrBCertIssuerKeyKeyInfoMismatch)
	}
	now := opts.CurrentTime
	if now.IsZero() {
		now = time.Now()
	}
	for i, cert := range c.Certs {
		if cert == nil {
			return fmt.Errorf("bcert: certificate %d: missing: %w", i, drm.ErrInvalidDeviceCertificate)
		}
		if _, _, err := parseCert(cert.Bytes()); err != nil {
			return fmt.Errorf("bcert: certificate %d: %w", i, err)
		}
	}
	for i := n - 1; i >= 0; i-- {
		if err := c.verifyCert(i, now, opts.Roots); err != nil {
			return fmt.Errorf("bcert: certificate %d: %w", i, err)
		}
	}
	if err := checkLeaf(c.Certs[0], opts.LeafType); err != nil {
		return fmt.Errorf("bcert: leaf: %w", err)
	}
	return nil
}

// verifyCert checks certificate i against its parent i+1 (or the roots).
func (c *Chain) verifyCert(i int, now time.Time, roots []ecc.Point) error {
	cert := c.Certs[i]
	basic := cert.Basic()
	if basic.Expiration != ExpirationNever && now.Unix() > int64(basic.Expiration) {
		return fmt.Errorf("expired: %w", drm.ErrBCertBasicInfoCertExpired)
	}
	digestOK := false
	for _, k := range cert.Keys() {
		if k.Type != KeyTypeECC256 || !k.Public.Valid() {
			return fmt.Errorf("key is not an ECC-256 point: %w", drm.ErrBCertInvalidKeyLength)
		}
		if sha256.Sum256(k.Public[:]) == basic.Digest {
			digestOK = true
		}
	}
	if !digestOK {
		return fmt.Errorf("BASIC digest matches none of its keys: %w", drm.ErrBCertInvalidDigest)
	}
	so, _ := cert.object(TagSignature)
	sig, issuer, err := decodeSignature(so.Body)
	if err != nil {
		return err
	}
	digest := sha256.Sum256(cert.signedBytes())
	if !ecc.Verify(issuer, digest[:], sig[:]) {
		return fmt.Errorf("signature does not verify: %w", drm.ErrInvalidDeviceCertificate)
	}
	if i == len(c.Certs)-1 {
		for _, r := range roots {
			if r == issuer {
				return nil
			}
		}
		return fmt.Errorf("issuer key is not a trust anchor: %w", drm.ErrBCertIssuerKeyKeyInfoMismatch)
	}
	parent := c.Certs[i+1]
	pb := parent.Basic()
	if pb.Type != CertTypeIssuer {
		return fmt.Errorf("parent is not an ISSUER certificate: %w", drm.ErrBCertInvalidCertType)
	}
	if err := checkIssuerKey(parent.Keys(), issuer); err != nil {
		return err
	}
	if basic.SecurityLevel > pb.SecurityLevel {
		return fmt.Errorf("security level above the parent's: %w", drm.ErrBCertInvalidSecurityLevel)
	}
	return nil
}

// checkIssuerKey requires issuer among the parent's keys with an issuer usage.
func checkIssuerKey(parentKeys []Key, issuer ecc.Point) error {
	found := false
	for _, k := range parentKeys {
		if k.Public != issuer {
			continue
		}
		found = true
		for _, u := range k.Usages {
			if issuerUsages[u] {
				return nil
			}
		}
	}
	if found {
		return fmt.Errorf("parent key lacks an issuer usage: %w", drm.ErrBCertInvalidKeyUsage)
	}
	return fmt.Errorf("issuer key not in the parent's KEY object: %w", drm.ErrBCertIssuerKeyKeyInfoMismatch)
}

// checkLeaf enforces the leaf's type and key shape (docs/formats/bcert.md §8, §11; docs/formats/revocation.md §2).
func checkLeaf(leaf *Cert, want uint32) error {
	typ := leaf.Basic().Type
	if want != 0 && typ != want {
		return fmt.Errorf("unexpected certificate type: %w: %w", drm.ErrInvalidDeviceCertificate, drm.ErrBCertInvalidCertType)
	}
	keys := leaf.Keys()
	count := func(u uint32) (n, at int) {
		for i, k := range keys {
			if k.HasUsage(u) {
				n, at = n+1, i
			}
		}
		return n, at
	}
	switch typ {
	case CertTypeDevice:
		ns, is := count(KeyUsageSign)
		ne, ie := count(KeyUsageEncryptKey)
		if ns != 1 || ne != 1 || is == ie {
			return fmt.Errorf("device needs one SIGN and one separate ENCRYPT_KEY key: %w: %w",
				drm.ErrInvalidDeviceCertificate, drm.ErrBCertRequiredKeyUsageMissing)
		}
	case CertTypeCRLSigner:
		if n, _ := count(KeyUsageSignCRL); n == 0 {
			return fmt.Errorf("CRL signer has no SIGN_CRL key: %w", drm.ErrBCertRequiredKeyUsageMissing)
		}
	}
	return nil
}
