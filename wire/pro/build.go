package pro

import (
	"encoding/base64"
	"io"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// XML returns the header in canonical form (see the package doc): the
// syntax rules of header spec §3.2 and the element layout of h.Version. It
// fails with ErrUnsupportedVersion or ErrMalformed if h breaks the rules of
// its version (header spec §3.3–§3.6). For every header a parser returns,
// parsing XML's output gives an equal Header, and for canonical input XML
// reproduces the input exactly.
func (h *Header) XML() (string, error) {
	if err := h.validate(); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(`<WRMHEADER xmlns="` + Namespace + `" version="` + h.Version + `"><DATA>`)
	switch h.Version {
	case Version40:
		k := h.KIDs[0]
		keyLen, _ := keyLen40(k.AlgID)
		b.WriteString("<PROTECTINFO><KEYLEN>" + keyLen + "</KEYLEN><ALGID>" + k.AlgID + "</ALGID></PROTECTINFO>")
		b.WriteString("<KID>" + k.ID.Base64GUID() + "</KID>")
		if k.Checksum != nil {
			b.WriteString("<CHECKSUM>" + base64.StdEncoding.EncodeToString(k.Checksum) + "</CHECKSUM>")
		}
	case Version41:
		if len(h.KIDs) == 1 {
			b.WriteString("<PROTECTINFO>")
			writeKID(&b, h.KIDs[0])
			b.WriteString("</PROTECTINFO>")
		}
	default:
		if len(h.KIDs) > 0 || h.LicenseRequested != nil {
			b.WriteString("<PROTECTINFO")
			if h.LicenseRequested != nil {
				b.WriteString(` LICENSEREQUESTED="` + strconv.FormatBool(*h.LicenseRequested) + `"`)
			}
			b.WriteString(">")
			if len(h.KIDs) > 0 {
				b.WriteString("<KIDS>")
				for _, k := range h.KIDs {
					writeKID(&b, k)
				}
				b.WriteString("</KIDS>")
			}
			b.WriteString("</PROTECTINFO>")
		}
	}
	writeText(&b, "LA_URL", h.LAURL)
	writeText(&b, "LUI_URL", h.LUIURL)
	writeText(&b, "DS_ID", h.DSID)
	switch {
	case h.CustomAttributesNoNamespace:
		b.WriteString(`<CUSTOMATTRIBUTES xmlns="">` + h.CustomAttributes + "</CUSTOMATTRIBUTES>")
	case h.CustomAttributes != "":
		b.WriteString("<CUSTOMATTRIBUTES>" + h.CustomAttributes + "</CUSTOMATTRIBUTES>")
	}
	writeText(&b, "DECRYPTORSETUP", h.DecryptorSetup)
	b.WriteString("</DATA></WRMHEADER>")
	return b.String(), nil
}

// UTF16 returns XML() encoded as UTF-16LE without byte-order mark or
// terminator: the value of a PRO header record.
func (h *Header) UTF16() ([]byte, error) {
	s, err := h.XML()
	if err != nil {
		return nil, err
	}
	return encodeUTF16LE(s), nil
}

// writeKID writes a 4.1+ KID element; attributes in alphabetical order
// (header spec §3.2.5). Their values come from fixed alphabets (ALGID
// names, base64), so they need no escaping.
func writeKID(b *strings.Builder, k KeyInfo) {
	b.WriteString("<KID")
	if k.AlgID != "" {
		b.WriteString(` ALGID="` + k.AlgID + `"`)
	}
	if k.Checksum != nil {
		b.WriteString(` CHECKSUM="` + base64.StdEncoding.EncodeToString(k.Checksum) + `"`)
	}
	b.WriteString(` VALUE="` + k.ID.Base64GUID() + `"></KID>`)
}

// writeText writes <name>v</name> unless v is empty, escaping as canonical
// XML does for text nodes.
func writeText(b *strings.Builder, name, v string) {
	if v == "" {
		return
	}
	b.WriteString("<" + name + ">")
	for _, r := range v {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '\r':
			b.WriteString("&#xD;")
		default:
			b.WriteRune(r)
		}
	}
	b.WriteString("</" + name + ">")
}

// validate applies the rules of h.Version. Parsers run it too, so every
// parsed header can be built.
func (h *Header) validate() error {
	if err := checkVersion(h.Version); err != nil {
		return err
	}
	switch h.Version {
	case Version40:
		if len(h.KIDs) != 1 {
			return malformed("a 4.0.0.0 header has exactly one KID")
		}
	case Version41:
		if len(h.KIDs) > 1 {
			return malformed("a 4.1.0.0 header has at most one KID")
		}
	}
	for _, k := range h.KIDs {
		if err := k.validate(h.Version); err != nil {
			return err
		}
		// Header spec §3.3.1: if any KID has an ALGID, all do, with the
		// same value.
		if h.Version == Version43 && k.AlgID != h.KIDs[0].AlgID {
			return malformed("4.3.0.0 KIDs must share one ALGID")
		}
	}
	if h.LicenseRequested != nil && h.Version != Version43 {
		return malformed("LICENSEREQUESTED needs version 4.3.0.0")
	}
	if h.DecryptorSetup != "" {
		if h.Version == Version40 {
			return malformed("DECRYPTORSETUP needs version 4.1.0.0 or later")
		}
		if h.DecryptorSetup != DecryptorSetupOnDemand {
			return malformed("DECRYPTORSETUP must be ONDEMAND")
		}
	}
	for _, f := range [...]struct{ name, v string }{{"LA_URL", h.LAURL}, {"LUI_URL", h.LUIURL}} {
		if f.v == "" {
			continue
		}
		if err := checkText(f.name, f.v); err != nil {
			return err
		}
		if u, err := url.Parse(f.v); err != nil || !u.IsAbs() {
			return malformed("%s is not an absolute URL", f.name)
		}
	}
	if err := checkText("DS_ID", h.DSID); err != nil {
		return err
	}
	if h.CustomAttributesNoNamespace && h.CustomAttributes == "" {
		return malformed("CustomAttributesNoNamespace without CustomAttributes")
	}
	if h.CustomAttributes != "" {
		return checkInner(h.CustomAttributes)
	}
	return nil
}

func (k KeyInfo) validate(version string) error {
	switch k.AlgID {
	case AlgAESCTR, AlgCocktail:
	case AlgAESCBC:
		if version != Version43 {
			return malformed("ALGID AESCBC needs version 4.3.0.0")
		}
		if k.Checksum != nil {
			return malformed("an AESCBC key has no CHECKSUM")
		}
	case "":
		if version != Version43 {
			return malformed("KID without ALGID needs version 4.3.0.0")
		}
	default:
		return malformed("unknown ALGID")
	}
	if k.Checksum != nil && len(k.Checksum) != checksumLen(k.AlgID) {
		return malformed("CHECKSUM has the wrong length")
	}
	return nil
}

// checkText requires valid UTF-8 made of XML characters, with no
// surrounding whitespace (parsers trim it, so it would not round-trip).
func checkText(name, s string) error {
	if !utf8.ValidString(s) || strings.TrimSpace(s) != s {
		return malformed("%s has invalid text", name)
	}
	for _, r := range s {
		if !isXMLChar(r) {
			return malformed("%s has invalid text", name)
		}
	}
	return nil
}

// isXMLChar is the Char production of XML 1.0.
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D || r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// checkInner requires s to be well-formed XML content: balanced elements,
// no directives, not closing its container, not only whitespace.
func checkInner(s string) error {
	if !utf8.ValidString(s) || strings.TrimSpace(s) == "" {
		return malformed("CUSTOMATTRIBUTES has invalid content")
	}
	p := &xmlParser{d: newDecoder("<c>" + s + "</c>")}
	if _, err := p.next(); err != nil {
		return malformed("CUSTOMATTRIBUTES has invalid content")
	}
	if err := p.skip(); err != nil { // up to the </c> that matches <c>
		return err
	}
	if _, err := p.next(); err != io.EOF {
		return malformed("CUSTOMATTRIBUTES content is not balanced")
	}
	return nil
}
