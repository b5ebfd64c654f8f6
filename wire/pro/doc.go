// Package pro encodes and decodes how content announces PlayReady: the
// PlayReady Object (PRO), the `pssh` box that carries it, and the WRMHEADER
// XML (the PlayReady Header) inside it.
//
// Sources: the PlayReady Header Specification (MicrosoftDocs/PlayReady
// Docs/Specifications/playready-header-specification.md, "header spec"
// below), CENC (ISO/IEC 23001-7) §8.1 for `pssh`, and the project notes in
// docs/formats/pro-header.md and docs/formats/media.md §3.
//
// # Layers
//
//   - [Object] is the PRO: a little-endian length, a record count and typed
//     records (header spec §2). [Parse] keeps every record raw, so
//     [Object.Bytes] reproduces the input byte for byte.
//   - [PSSH] is one CENC `pssh` box, version 0 or 1 (big-endian).
//   - [Header] is a parsed WRMHEADER 4.0.0.0 – 4.3.0.0 (header spec §3).
//     [ParseHeader] reads the UTF-16LE record value, [ParseHeaderXML] UTF-8
//     text, and [ParseHeaderData] either a PRO or a bare UTF-16LE header, as
//     found in `pssh` data and DASH `mspr:pro` elements (docs/formats/media.md §3).
//   - [Checksum] and [KeyInfo.VerifyChecksum] implement the key checksum of
//     header spec §5.
//
// # Canonical form
//
// [Header.XML] writes the canonical form that the syntax rules of header spec
// §3.2 ask for: no XML declaration, no whitespace between elements, explicit
// end tags, the namespace attribute first and the other attributes in
// alphabetical order. Children of DATA are written in this order:
//
//	PROTECTINFO, KID, CHECKSUM (4.0.0.0 only), LA_URL, LUI_URL, DS_ID,
//	CUSTOMATTRIBUTES, DECRYPTORSETUP
//
// and a 4.0.0.0 PROTECTINFO as <KEYLEN>…</KEYLEN><ALGID>…</ALGID>. This is
// the order of the header spec §3.6.1 sample PRO, of the §3.3.2 and §3.4.2
// examples and of shaka-packager's output, all of which therefore
// round-trip byte for byte. CUSTOMATTRIBUTES content is opaque: it is kept
// verbatim and written back verbatim. Of the attributes of the
// CUSTOMATTRIBUTES element itself only xmlns="" (written in the spec's
// syntax listings and by Microsoft's server SDK) is kept, as
// [Header.CustomAttributesNoNamespace]; namespace prefixes used inside the
// custom XML must be declared inside it.
//
// # Compatibility
//
// Parsers accept what the header spec lets clients accept: any element order,
// whitespace and comments between elements, an optional XML declaration,
// unknown elements and attributes (skipped; header spec §3.3.3 "the Client
// code can safely skip any tags or attributes that it does not understand"),
// empty optional elements (treated as absent), a root element without the
// PlayReady namespace, known elements in no namespace (the spec's own
// <CUSTOMATTRIBUTES xmlns=""> is one) and a leading byte-order mark in
// UTF-16 input. Elements in any other namespace are unknown. They
// reject a header version newer than 4.3.0.0 with [ErrUnsupportedVersion]
// (header spec §3.3.3: "the Client code must fail"), and everything the spec
// forbids for known elements with [ErrMalformed]: duplicate elements, a
// 4.0.0.0 header without PROTECTINFO, KEYLEN, ALGID or KID, KEYLEN not 16 for
// AESCTR or 7 for COCKTAIL, missing or malformed KID VALUE, an unknown ALGID,
// mixed ALGIDs in 4.3.0.0, a CHECKSUM on an AESCBC key, a CHECKSUM of the
// wrong length, DECRYPTORSETUP other than ONDEMAND, relative URLs.
// Base64 is decoded strictly, so every accepted value re-encodes identically.
//
// # Security considerations
//
// All input is untrusted. PRO input is bounded by [MaxObjectSize], headers
// by [MaxHeaderSize] and `pssh` boxes by [MaxPSSHSize]; all lengths are
// checked before use and nothing aliases the input. The XML parser is
// encoding/xml in strict mode: DOCTYPE and other directives are rejected, so
// there are no entity definitions or external references, and only the
// predefined entities are expanded. Error messages never quote input.
// [KeyInfo.VerifyChecksum] compares in constant time; a checksum only detects
// a wrong key, it is not an integrity check of the header (the header is not
// signed).
package pro
