// Package bcert encodes, decodes, builds and verifies PlayReady binary
// certificates (BCert) and certificate chains (docs/formats/bcert.md).
//
// # Format
//
// A chain is a 20-byte "CHAI" header followed by one to six certificates,
// leaf first and root-most last (docs/formats/bcert.md §2). A certificate is a
// 16-byte "CERT" header followed by objects, each an 8-byte header (flags,
// tag, length including the header) and a payload (§3, §4). [ParseChain] and
// [ParseCert] keep every object's payload as raw bytes ([Object]), so
// [Chain.Bytes] and [Cert.Bytes] re-encode a parsed value byte for byte; the
// typed accessors ([Cert.Basic], [Cert.Keys], [Cert.Features], ...) decode
// those payloads on demand.
//
// # Building
//
// [NewCert] lays out the objects of a [Template] in the order of §5, fixes
// every length, signs bytes [0, cbCertificateSigned) with a [Signer]
// (ECDSA-P256 over SHA-256, raw r‖s) and appends the SIGNATURE object that
// names the signer's public key (§11, §12). [Chain.Prepend] adds a freshly
// issued leaf in front of its issuer's chain.
//
// # Verification
//
// [Chain.Verify] runs the §11 checklist: structure (re-parsed from the
// encoding), signatures, issuer keys with an issuer usage in the parent's
// KEY object, parent type ISSUER, child security level not above the
// parent's, expiration at [VerifyOptions.CurrentTime], the root-most issuer
// key among [VerifyOptions.Roots], and the leaf's shape. Failures wrap the
// DRM_E_BCERT_* sentinels of package drm (docs/formats/errors.md §4), so callers
// branch with errors.Is.
//
// # Security considerations
//
// Nothing is trusted implicitly: Verify fails without at least one root, and
// prsim configures its own test root (docs/architecture.md, docs/formats/bcert.md §11); no Microsoft key is
// built in. The parser is strict where laxness would let unsigned data in:
// only an EXTDATACONTAINER may follow the SIGNATURE object, each known object
// may appear once, BASIC must come first (so the security level sits at a
// fixed offset, §6) and an unknown object flagged MUST_UNDERSTAND is
// rejected (§4). The child-versus-parent security-level check compares
// security levels; it deliberately does not copy pyplayready's comparison of
// the child's level with the parent's expiration (§11).
//
// # Compatibility
//
// Parent keys are accepted as issuers when they carry any usage of the §11
// issuer set {5…0xD, 0x12, 0x17}, extended with ISSUER_ALL (4), ISSUER_SERVER
// (0xF) and ISSUER_RPROVMODELAUTH (0x18), whose names say they issue.
// Verify also requires BASIC's digest to be the SHA-256 of one of the
// certificate's own keys (the signing key for a leaf, §6; a prsim rule, not
// confirmed by a public source), which is what revocation lists match
// (docs/formats/revocation.md §3). The certificate version is kept as parsed (docs/formats/bcert.md §3 asks for leniency); the chain
// version must be 1 (§2). Errors name the certificate index and the failed
// rule but never echo input bytes.
package bcert
