// Package soap encodes and decodes the PlayReady license-acquisition SOAP
// messages: the AcquireLicense challenge with its encrypted client data and
// XML signature, the license response, SOAP faults (docs/formats/soap.md §1–§6),
// and prsim's secure-stop and AcknowledgeLicense messages (docs/protocol.md §11).
//
// # Messages
//
// [BuildChallenge] writes the challenge envelope of docs/formats/soap.md §2 by hand,
// element by element with explicit end tags, so that the bytes it digests
// and signs are the bytes it sends. [ParseChallenge] reads it back with
// encoding/xml and records the exact byte ranges of <LA …>…</LA> and
// <SignedInfo …>…</SignedInfo>; [ParsedChallenge.VerifySignature] hashes
// those received ranges and [ParsedChallenge.DecryptData] recovers the
// client data with the server's ElGamal decryption. [BuildResponse],
// [ParseResponse] and [ParsedResponse.VerifySignature] do the same for the
// license response (docs/formats/soap.md §5), and [BuildFault] / [ParseFault] handle
// the fault of docs/formats/soap.md §6. [ParseEnvelopeAction] names the operation in
// a request body so that a server can dispatch on it.
//
// The secure-stop challenge ([BuildSecureStopChallenge],
// [ParseSecureStopChallenge]) and the AcknowledgeLicense challenge
// ([BuildAcknowledgeLicense], [ParseAcknowledgeLicense]) share the license
// challenge's envelope, XML-key encryption and exact-bytes signature; only
// their signed element differs (docs/formats/soap.md §7, docs/protocol.md §11).
// Their responses ([BuildSecureStopResponse], [BuildLicenseAckResponse]) are
// not signed as XML: a secure-stop acknowledgement carries its own signature
// (package securestop).
//
// # Exact-bytes signatures
//
// No XML canonicalisation is performed (docs/formats/soap.md §4.5): the sender
// digests the literal bytes it emits, and the receiver digests the literal
// byte range of the signed element as received. Reordering attributes or
// changing whitespace inside LA or LicenseResponse therefore breaks the
// digest; intermediaries must forward the body untouched.
//
// # prsim extensions
//
// The REE feature list of the client data (docs/formats/soap.md §3) has no public
// schema. prsim writes it in the shape used by public reimplementations:
// one empty element per feature, named after the feature, inside an REE
// element that follows the Feature entries:
//
//	<Data>
//	  <CertificateChains><CertificateChain>base64(CHAI)</CertificateChain></CertificateChains>
//	  <Features>
//	    <Feature Name="AESCBC"></Feature>
//	    <REE><AESCBCS></AESCBCS><SecureStop></SecureStop><SecureStop2></SecureStop2></REE>
//	  </Features>
//	</Data>
//
// (without the whitespace shown here). Feature names must be plain XML names
// (ASCII letters, digits, '_', '-', '.', not starting with a digit or "xml").
// Features is written only when there is at least one Feature or REE
// feature, and REE only when there is at least one REE feature. Parsers
// ignore unknown elements in Data and Features.
//
// # Compatibility
//
// The element trees, namespaces and algorithm URIs follow the Microsoft
// PlayReady docs sample (Docs/Overview/license-server.md). Output has no
// indentation. The parsers accept SOAP 1.1 and 1.2 envelopes, unknown LA
// children, any KeyName, and base64 with surrounding whitespace. The client
// data IV must equal the first 16 bytes of the XML key's x coordinate, as
// docs/formats/soap.md §4.1 defines; this also detects a wrong server key.
//
// # Security considerations
//
// Parsers bound the body to [MaxMessageSize] bytes, the element count and the
// nesting depth; they refuse DTDs (and so entity declarations), processing
// instructions other than the XML declaration, and duplicate elements where
// one is expected (a second, unsigned copy of a signed value). Errors wrap
// drm sentinels and never quote the input. A verified challenge signature
// only proves possession of the KeyInfo key: the server must check that it
// is the leaf SIGN key of the decrypted certificate chain (docs/formats/soap.md
// §4.6). The ElGamal ciphertext is always four fixed 32-byte coordinates.
package soap

// HTTP binding (docs/formats/soap.md §1).
const (
	NSProtocols              = "http://schemas.microsoft.com/DRM/2007/03/protocols"
	ActionAcquireLicense     = `"` + NSProtocols + `/AcquireLicense"`
	ActionAcknowledgeLicense = `"` + NSProtocols + `/AcknowledgeLicense"`
	ContentType              = "text/xml; charset=utf-8"
)
