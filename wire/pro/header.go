package pro

import (
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/prsim/prsim/wire/kid"
)

// Namespace is the XML namespace of the WRMHEADER element.
const Namespace = "http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader"

// MaxHeaderSize bounds the header input (UTF-16LE bytes for ParseHeader,
// UTF-8 bytes for ParseHeaderXML). The header spec recommends under 1 KB.
const MaxHeaderSize = MaxObjectSize

// WRMHEADER versions (header spec §3.3–§3.6).
const (
	Version40 = "4.0.0.0" // PlayReady 1.x+: DATA/KID, PROTECTINFO/{KEYLEN,ALGID}
	Version41 = "4.1.0.0" // PlayReady 2.x+: PROTECTINFO/KID (0 or 1), DECRYPTORSETUP
	Version42 = "4.2.0.0" // PlayReady 3.x+: PROTECTINFO/KIDS/KID (1 or more)
	Version43 = "4.3.0.0" // PlayReady 4.x+: optional ALGID, AESCBC, LICENSEREQUESTED
)

// Key algorithm identifiers (KID ALGID attribute, 4.0.0.0 ALGID element).
const (
	AlgAESCTR   = "AESCTR"
	AlgAESCBC   = "AESCBC" // 4.3.0.0 only; never has a checksum
	AlgCocktail = "COCKTAIL"
)

// DecryptorSetupOnDemand is the only value DECRYPTORSETUP may hold.
const DecryptorSetupOnDemand = "ONDEMAND"

// KeyInfo is one key of a header: a KID element in 4.1.0.0 and later, or the
// DATA/KID, DATA/CHECKSUM and PROTECTINFO/ALGID elements of 4.0.0.0.
type KeyInfo struct {
	// ID is the key identifier. On the wire it is the base64 of the
	// little-endian GUID layout (header spec §3; docs/formats/pro-header.md §5).
	ID kid.ID
	// AlgID is AlgAESCTR, AlgAESCBC, AlgCocktail, or "" (4.3.0.0 only).
	AlgID string
	// Checksum is the decoded CHECKSUM (8 bytes for AESCTR, 7 for
	// COCKTAIL), or nil if absent.
	Checksum []byte
}

// Header is a PlayReady Header (WRMHEADER), versions 4.0.0.0 to 4.3.0.0.
// String fields hold the element text with surrounding whitespace removed;
// "" means absent.
type Header struct {
	Version string // one of Version40 … Version43
	KIDs    []KeyInfo
	LAURL   string // LA_URL: absolute license acquisition URL
	LUIURL  string // LUI_URL: absolute non-silent acquisition page URL
	DSID    string // DS_ID: domain service ID (base64 GUID), kept as text
	// CustomAttributes is the raw inner XML of CUSTOMATTRIBUTES, kept
	// verbatim (whitespace, entity references and all).
	CustomAttributes string
	// CustomAttributesNoNamespace records an xmlns="" attribute on
	// CUSTOMATTRIBUTES, as in the header spec's syntax listings: it puts
	// the custom XML in no namespace. Only valid with CustomAttributes.
	CustomAttributesNoNamespace bool
	// DecryptorSetup is "" or DecryptorSetupOnDemand (4.1.0.0 and later).
	DecryptorSetup string
	// LicenseRequested is the 4.3.0.0 PROTECTINFO LICENSEREQUESTED attribute;
	// nil when absent (which means true).
	LicenseRequested *bool
}

// ParseHeader parses a WRMHEADER in UTF-16LE, the encoding of a PRO header
// record (no byte-order mark or NUL terminator is written, but a leading
// byte-order mark is accepted).
func ParseHeader(utf16le []byte) (*Header, error) {
	if len(utf16le) > MaxHeaderSize {
		return nil, malformed("header longer than %d bytes", MaxHeaderSize)
	}
	s, err := decodeUTF16LE(utf16le)
	if err != nil {
		return nil, err
	}
	return parseHeaderXML(s)
}

// ParseHeaderXML parses a WRMHEADER given as UTF-8 XML text.
func ParseHeaderXML(s string) (*Header, error) {
	if len(s) > MaxHeaderSize {
		return nil, malformed("header longer than %d bytes", MaxHeaderSize)
	}
	if !utf8.ValidString(s) {
		return nil, malformed("header is not valid UTF-8")
	}
	return parseHeaderXML(s)
}

func decodeUTF16LE(b []byte) (string, error) {
	if len(b)%2 != 0 {
		return "", malformed("odd UTF-16 length")
	}
	if len(b) >= 2 && b[0] == 0xFF && b[1] == 0xFE {
		b = b[2:]
	}
	var sb strings.Builder
	sb.Grow(len(b) / 2)
	for i := 0; i < len(b); i += 2 {
		c := rune(b[i]) | rune(b[i+1])<<8
		switch {
		case utf16.IsSurrogate(c):
			if c >= 0xDC00 || i+3 >= len(b) {
				return "", malformed("unpaired UTF-16 surrogate")
			}
			r := utf16.DecodeRune(c, rune(b[i+2])|rune(b[i+3])<<8)
			if r == utf8.RuneError {
				return "", malformed("unpaired UTF-16 surrogate")
			}
			sb.WriteRune(r)
			i += 2
		default:
			sb.WriteRune(c)
		}
	}
	return sb.String(), nil
}

func encodeUTF16LE(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i] = byte(c)
		b[2*i+1] = byte(c >> 8)
	}
	return b
}

// newDecoder returns a strict, namespace-aware decoder over s.
func newDecoder(s string) *xml.Decoder {
	d := xml.NewDecoder(strings.NewReader(s))
	d.Strict = true
	// The text is already decoded: a declaration naming UTF-16 (the
	// record encoding) describes the bytes it came from, not s.
	d.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		switch strings.ToLower(label) {
		case "utf-16", "utf-16le", "utf-8":
			return in, nil
		}
		return nil, malformed("unsupported XML encoding declaration")
	}
	return d
}

// xmlParser walks the token stream of one header.
type xmlParser struct {
	d   *xml.Decoder
	src string
	ns  string // namespace of the root element: Namespace or ""
}

// next returns the next token; directives (DOCTYPE, entity declarations)
// are rejected and decoder errors are replaced by ones that quote no input.
func (p *xmlParser) next() (xml.Token, error) {
	tok, err := p.d.Token()
	if err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		var se *xml.SyntaxError
		if errors.As(err, &se) {
			return nil, malformed("XML syntax error on line %d", se.Line)
		}
		if errors.Is(err, ErrMalformed) {
			return nil, err
		}
		return nil, malformed("XML error")
	}
	if _, ok := tok.(xml.Directive); ok {
		return nil, malformed("XML directives (DOCTYPE, entities) are not allowed")
	}
	return tok, nil
}

// nextIn is next inside an element, where EOF is an error.
func (p *xmlParser) nextIn() (xml.Token, error) {
	tok, err := p.next()
	if err == io.EOF {
		return nil, malformed("unexpected end of header")
	}
	return tok, err
}

// is reports whether se is the PlayReady element named local. Elements in
// no namespace count too: the spec's own syntax writes
// <CUSTOMATTRIBUTES xmlns="">, which puts that element in no namespace,
// and PlayReady's parsers ignore namespaces.
func (p *xmlParser) is(se xml.StartElement, local string) bool {
	return p.known(se) && se.Name.Local == local
}

// known reports whether se is in the PlayReady namespace or in none.
func (p *xmlParser) known(se xml.StartElement) bool {
	return se.Name.Space == p.ns || se.Name.Space == ""
}

// skip consumes the rest of an element whose start tag was just read.
func (p *xmlParser) skip() error {
	for depth := 0; ; {
		tok, err := p.nextIn()
		if err != nil {
			return err
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			if depth == 0 {
				return nil
			}
			depth--
		}
	}
}

// text reads the character data of a text-only element, trimmed.
func (p *xmlParser) text(name string) (string, error) {
	var sb strings.Builder
	for {
		tok, err := p.nextIn()
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.CharData:
			sb.Write(t)
		case xml.StartElement:
			return "", malformed("element inside %s", name)
		case xml.EndElement:
			return strings.TrimSpace(sb.String()), nil
		}
	}
}

// inner returns the raw source text between the start tag just read and
// its matching end tag.
func (p *xmlParser) inner() (string, error) {
	start := p.d.InputOffset()
	for depth := 0; ; {
		before := p.d.InputOffset()
		tok, err := p.nextIn()
		if err != nil {
			return "", err
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			if depth == 0 {
				return p.src[start:before], nil
			}
			depth--
		}
	}
}

// attr returns the value of the unqualified attribute local.
func attr(se xml.StartElement, local string) (v string, ok bool, err error) {
	for _, a := range se.Attr {
		if a.Name.Space == "" && a.Name.Local == local {
			if ok {
				return "", false, malformed("duplicate %s attribute", local)
			}
			v, ok = a.Value, true
		}
	}
	return v, ok, nil
}

func parseHeaderXML(s string) (*Header, error) {
	p := &xmlParser{d: newDecoder(s), src: s}
	var h *Header
	for {
		tok, err := p.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if h != nil {
				return nil, malformed("more than one root element")
			}
			if h, err = p.root(t); err != nil {
				return nil, err
			}
		case xml.CharData:
			if len(strings.TrimSpace(string(t))) != 0 {
				return nil, malformed("text outside the root element")
			}
		}
	}
	if h == nil {
		return nil, malformed("no WRMHEADER element")
	}
	if err := h.validate(); err != nil {
		return nil, err
	}
	return h, nil
}

// checkVersion classifies a version attribute: known, unsupported (a
// well-formed version this package does not know, including any newer than
// 4.3.0.0), or malformed.
func checkVersion(v string) error {
	switch v {
	case Version40, Version41, Version42, Version43:
		return nil
	}
	parts := strings.Split(v, ".")
	if len(parts) != 4 {
		return malformed("version is not of the form a.b.c.d")
	}
	for _, s := range parts {
		if len(s) == 0 || len(s) > 5 || strings.Trim(s, "0123456789") != "" {
			return malformed("version is not of the form a.b.c.d")
		}
	}
	return ErrUnsupportedVersion
}

func (p *xmlParser) root(se xml.StartElement) (*Header, error) {
	if se.Name.Local != "WRMHEADER" || (se.Name.Space != Namespace && se.Name.Space != "") {
		return nil, malformed("root element is not WRMHEADER")
	}
	p.ns = se.Name.Space
	ver, ok, err := attr(se, "version")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, malformed("WRMHEADER has no version attribute")
	}
	if err := checkVersion(ver); err != nil {
		return nil, err
	}
	h := &Header{Version: ver}
	seenData := false
	for {
		tok, err := p.nextIn()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if !p.is(t, "DATA") {
				if err := p.skip(); err != nil {
					return nil, err
				}
				continue
			}
			if seenData {
				return nil, malformed("duplicate DATA")
			}
			seenData = true
			if err := p.data(h); err != nil {
				return nil, err
			}
		case xml.EndElement:
			if !seenData && ver == Version40 {
				return nil, malformed("4.0.0.0 header without DATA")
			}
			return h, nil
		}
	}
}

// v40 holds the 4.0.0.0 key elements, which sit in two places.
type v40 struct {
	algID, keyLen, kid, checksum string
}

func (p *xmlParser) data(h *Header) error {
	var seen [8]bool // indexed like dataChildren
	var old v40
	is40 := h.Version == Version40
	for {
		tok, err := p.nextIn()
		if err != nil {
			return err
		}
		var se xml.StartElement
		switch t := tok.(type) {
		case xml.EndElement:
			if is40 {
				return h.assemble40(seen[0], seen[1], old)
			}
			return nil
		case xml.StartElement:
			se = t
		default:
			continue
		}
		i := -1
		if p.known(se) {
			i = dataChild(se.Name.Local, is40)
		}
		if i < 0 {
			if err := p.skip(); err != nil {
				return err
			}
			continue
		}
		name := dataChildren[i]
		if seen[i] {
			return malformed("duplicate %s", name)
		}
		seen[i] = true
		switch name {
		case "PROTECTINFO":
			err = p.protectInfo(h, se, &old)
		case "KID":
			old.kid, err = p.text(name)
		case "CHECKSUM":
			old.checksum, err = p.text(name)
		case "LA_URL":
			h.LAURL, err = p.text(name)
		case "LUI_URL":
			h.LUIURL, err = p.text(name)
		case "DS_ID":
			h.DSID, err = p.text(name)
		case "CUSTOMATTRIBUTES":
			ns, hasNS, aerr := attr(se, "xmlns")
			if aerr != nil {
				return aerr
			}
			h.CustomAttributes, err = p.inner()
			if strings.TrimSpace(h.CustomAttributes) == "" {
				h.CustomAttributes = ""
			}
			h.CustomAttributesNoNamespace = hasNS && ns == "" && h.CustomAttributes != ""
		case "DECRYPTORSETUP":
			h.DecryptorSetup, err = p.text(name)
		}
		if err != nil {
			return err
		}
	}
}

// dataChildren are the known children of DATA, in canonical order.
var dataChildren = [...]string{"PROTECTINFO", "KID", "CHECKSUM", "LA_URL", "LUI_URL", "DS_ID", "CUSTOMATTRIBUTES", "DECRYPTORSETUP"}

// dataChild returns the index of a known DATA child, or -1. KID and
// CHECKSUM live in DATA only in 4.0.0.0; DECRYPTORSETUP exists from 4.1.0.0.
func dataChild(local string, is40 bool) int {
	switch local {
	case "KID", "CHECKSUM":
		if !is40 {
			return -1
		}
	case "DECRYPTORSETUP":
		if is40 {
			return -1
		}
	}
	for i, n := range dataChildren {
		if n == local {
			return i
		}
	}
	return -1
}

func (h *Header) assemble40(protectInfo, haveKID bool, old v40) error {
	if !protectInfo {
		return malformed("4.0.0.0 header without PROTECTINFO")
	}
	if old.algID == "" || old.keyLen == "" {
		return malformed("4.0.0.0 PROTECTINFO needs KEYLEN and ALGID")
	}
	want, ok := keyLen40(old.algID)
	if !ok {
		return malformed("4.0.0.0 ALGID must be AESCTR or COCKTAIL")
	}
	if old.keyLen != want {
		return malformed("4.0.0.0 KEYLEN does not match ALGID")
	}
	if !haveKID {
		return malformed("4.0.0.0 header without KID")
	}
	k := KeyInfo{AlgID: old.algID}
	var err error
	if k.ID, err = decodeKID(old.kid); err != nil {
		return err
	}
	if old.checksum != "" {
		if k.Checksum, err = decodeChecksum(old.checksum); err != nil {
			return err
		}
	}
	h.KIDs = []KeyInfo{k}
	return nil
}

func (p *xmlParser) protectInfo(h *Header, se xml.StartElement, old *v40) error {
	if h.Version == Version43 {
		v, ok, err := attr(se, "LICENSEREQUESTED")
		if err != nil {
			return err
		}
		if ok {
			b, err := parseXSBoolean(strings.TrimSpace(v))
			if err != nil {
				return err
			}
			h.LicenseRequested = &b
		}
	}
	seenKIDs := false
	for {
		tok, err := p.nextIn()
		if err != nil {
			return err
		}
		var c xml.StartElement
		switch t := tok.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			c = t
		default:
			continue
		}
		switch {
		case h.Version == Version40 && p.is(c, "ALGID"):
			if old.algID != "" {
				return malformed("duplicate ALGID")
			}
			if old.algID, err = p.text("ALGID"); err == nil && old.algID == "" {
				err = malformed("empty ALGID")
			}
		case h.Version == Version40 && p.is(c, "KEYLEN"):
			if old.keyLen != "" {
				return malformed("duplicate KEYLEN")
			}
			if old.keyLen, err = p.text("KEYLEN"); err == nil && old.keyLen == "" {
				err = malformed("empty KEYLEN")
			}
		case h.Version == Version41 && p.is(c, "KID"):
			if len(h.KIDs) > 0 {
				return malformed("more than one KID in a 4.1.0.0 header")
			}
			err = p.keyInfo(h, c)
		case (h.Version == Version42 || h.Version == Version43) && p.is(c, "KIDS"):
			if seenKIDs {
				return malformed("duplicate KIDS")
			}
			seenKIDs = true
			err = p.kids(h)
		default:
			err = p.skip()
		}
		if err != nil {
			return err
		}
	}
}

// parseXSBoolean accepts the xs:boolean lexical forms.
func parseXSBoolean(s string) (bool, error) {
	switch s {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, malformed("LICENSEREQUESTED is not a boolean")
}

// keyLen40 is the KEYLEN a 4.0.0.0 header gives for an ALGID.
func keyLen40(algID string) (string, bool) {
	switch algID {
	case AlgAESCTR:
		return "16", true
	case AlgCocktail:
		return "7", true
	}
	return "", false
}

func (p *xmlParser) kids(h *Header) error {
	n := 0
	for {
		tok, err := p.nextIn()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			if n == 0 {
				return malformed("KIDS without KID")
			}
			return nil
		case xml.StartElement:
			if p.is(t, "KID") {
				n++
				err = p.keyInfo(h, t)
			} else {
				err = p.skip()
			}
			if err != nil {
				return err
			}
		}
	}
}

// keyInfo reads a 4.1+ KID element: attributes ALGID, CHECKSUM, VALUE.
// Its content must be empty per the spec; any content is ignored.
func (p *xmlParser) keyInfo(h *Header, se xml.StartElement) error {
	value, ok, err := attr(se, "VALUE")
	if err != nil {
		return err
	}
	if !ok {
		return malformed("KID without VALUE")
	}
	var k KeyInfo
	if k.ID, err = decodeKID(value); err != nil {
		return err
	}
	if k.AlgID, _, err = attr(se, "ALGID"); err != nil {
		return err
	}
	sum, ok, err := attr(se, "CHECKSUM")
	if err != nil {
		return err
	}
	if ok {
		if k.Checksum, err = decodeChecksum(sum); err != nil {
			return err
		}
	}
	h.KIDs = append(h.KIDs, k)
	return p.skip()
}

// b64 is strict so that every accepted value re-encodes to the same text.
var b64 = base64.StdEncoding.Strict()

func decodeKID(s string) (kid.ID, error) {
	b, err := b64.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != kid.Size {
		return kid.ID{}, malformed("KID is not the base64 of 16 bytes")
	}
	return kid.FromGUID(b)
}

func decodeChecksum(s string) ([]byte, error) {
	b, err := b64.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, malformed("CHECKSUM is not base64")
	}
	return b, nil
}
