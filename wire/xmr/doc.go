// Package xmr encodes and decodes PlayReady XMR licenses (docs/formats/xmr.md).
//
// A license is a 24-byte header (magic "XMR\0", version, rights ID) and one
// outer container of type-length-value objects. [Parse] keeps every object,
// known or not, in an [Object] tree, so [License.Bytes] re-encodes the input
// byte for byte; the typed views ([License.Policy], [License.KeyMaterial],
// [License.ContentKey], …) decode from that tree. [Template.Build] writes the
// version-3 license prsim's reference server emits (docs/formats/xmr.md §12) and
// signs it.
//
// # Validation
//
// Parse enforces every rule of docs/formats/xmr.md §4: magic, version 1 or 3,
// total length, child lengths, nesting depth 5 (the outer container is
// level 1), no duplicates except the "dup ok" types, fixed sizes and every
// layout the §5 table gives, the signature as the last object, the
// play-enabler container flags, the required objects, no uplink object in
// a domain-bound license, and the content keyType allowed by the version.
// Every failure wraps drm.ErrInvalidLicense.
//
// Unknown objects follow docs/formats/xmr.md §3: without MUST_UNDERSTAND they are
// kept and ignored; with it the license is rejected ([ErrUnknownObject]),
// unless the object or its parent carries ALLOW_EXTERNAL_PARSE, in which
// case it is kept and listed in [Policy].Unknown for the application to
// enforce. A known type under a parent the §5 table does not name is
// treated as unknown, so a misplaced must-understand restriction is
// rejected instead of being silently ignored.
//
// # Security considerations
//
// Parse does not verify the signature: the MAC key is the content
// integrity key CI, which only the TEE recovers (docs/formats/xmr.md §10). The
// client order is decrypt, split CI‖CK, [License.VerifySignature] with CI,
// and only then accept CK. The MAC covers license[0 : total−12−cbSig]
// (docs/formats/xmr.md §9); MACing the 12 signature header bytes as well is a known
// mistake and does not verify. [License.DeviceKey] is not checked to be on
// the curve: the client compares it with its own encryption key.
//
// # Compatibility
//
// The parent and flag columns of the §5 table and several body layouts are
// unverified. prsim follows them as written: 0x59 is treated as "dup ok"
// like 0x08 and 0x31; SECURE_STOP (0x5A) is expected in the global
// container and written as must-understand; SECURESTOP2 (0x5C), whose
// body is not public, has prsim's body (version u16 = 1 ‖ the RFC 3394 wrap
// of the SecureStop2 key under the content integrity key, docs/protocol.md
// §11), sits in the global container and is not must-understand, so a
// client without SecureStop2 ignores it; duplicates of unknown types
// are allowed; SETTINGS bits are not restricted by version; keyType 5
// (AES-CBC) is accepted in version 3 and the PlayReady 4.x client check is
// left to the caller. The builder writes one play-enabler container per
// enabler.
package xmr
