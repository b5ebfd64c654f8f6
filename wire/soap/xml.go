package soap

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/prsim/prsim/drm"
)

// Limits applied to every message before and while it is parsed. A license
// response with many licenses and revocation lists stays well below them.
const (
	// MaxMessageSize is the largest SOAP body, in bytes, the parsers accept.
	MaxMessageSize = 1 << 20
	maxElements    = 1 << 16
	maxDepth       = 64
)

// Namespaces (docs/formats/soap.md §1).
const (
	nsMessages = NSProtocols + "/messages"
	nsDSig     = "http://www.w3.org/2000/09/xmldsig#"
	nsXMLEnc   = "http://www.w3.org/2001/04/xmlenc#"
	nsSOAP11   = "http://schemas.xmlsoap.org/soap/envelope/"
	nsSOAP12   = "http://www.w3.org/2003/05/soap-envelope"
	nsXSI      = "http://www.w3.org/2001/XMLSchema-instance"
	nsXSD      = "http://www.w3.org/2001/XMLSchema"
)

// Algorithm identifiers (docs/formats/soap.md §2).
const (
	algC14N     = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
	algECDSA    = NSProtocols + "#ecdsa-sha256"
	algSHA256   = NSProtocols + "#sha256"
	algAES128   = "http://www.w3.org/2001/04/xmlenc#aes128-cbc"
	algECC256   = NSProtocols + "#ecc256"
	typeElement = "http://www.w3.org/2001/04/xmlenc#Element"
	signedID    = "SignedData"
)

const xmlDecl = `<?xml version="1.0" encoding="utf-8"?>`

func errf(code drm.Code, format string, args ...any) error {
	return fmt.Errorf("soap: "+format+": %w", append(args, code)...)
}

func formatErr(what string) error { return errf(drm.ErrSOAPXMLXMLFormat, "%s", what) }
func sigErr(what string) error    { return errf(drm.ErrXMLSigFormat, "%s", what) }

// node is one element of a parsed document with the byte offsets the
// exact-bytes signature rule needs (docs/formats/soap.md §4.5): start..end covers
// "<X …>…</X>", innerStart..innerEnd the content between the tags.
type node struct {
	name                             xml.Name
	attr                             []xml.Attr
	kids                             []*node
	text                             []byte // direct character data, unescaped
	start, innerStart, innerEnd, end int64
}

var bom = []byte("\xef\xbb\xbf")

// parseTree reads b into a node tree. It refuses DTDs (and so entity
// declarations), processing instructions other than a leading XML
// declaration, text outside the root, more than one root and oversized or
// over-deep documents. Errors never quote the input.
func parseTree(b []byte) (*node, error) {
	if len(b) > MaxMessageSize {
		return nil, formatErr("message larger than 1 MiB")
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	var (
		root  *node
		stack []*node
		count int
	)
	for {
		start := d.InputOffset()
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, formatErr("malformed XML")
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 && root != nil {
				return nil, formatErr("more than one root element")
			}
			count++
			if count > maxElements || len(stack) >= maxDepth {
				return nil, formatErr("document too large or too deep")
			}
			n := &node{name: t.Name, attr: t.Attr, start: start, innerStart: d.InputOffset()}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.kids = append(p.kids, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			n := stack[len(stack)-1]
			n.innerEnd, n.end = start, d.InputOffset()
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				if start == 0 {
					t = bytes.TrimPrefix(t, bom)
				}
				if len(bytes.TrimSpace(t)) != 0 {
					return nil, formatErr("text outside the root element")
				}
				continue
			}
			top := stack[len(stack)-1]
			top.text = append(top.text, t...)
		case xml.Comment:
		case xml.ProcInst:
			if t.Target != "xml" || root != nil || !(start == 0 || start == int64(len(bom)) && bytes.HasPrefix(b, bom)) {
				return nil, formatErr("unexpected processing instruction")
			}
		case xml.Directive:
			return nil, formatErr("DTDs and directives are not allowed")
		default:
			return nil, formatErr("unexpected XML token")
		}
	}
	if root == nil {
		return nil, formatErr("no root element")
	}
	return root, nil
}

// is reports whether n is space:local.
func (n *node) is(space, local string) bool {
	return n.name.Local == local && n.name.Space == space
}

// child returns the only child named local (any namespace), nil if there is
// none, and an error if there are several: duplicate elements would let a
// signed and an unsigned copy disagree.
func (n *node) child(local string) (*node, error) {
	var found *node
	for _, k := range n.kids {
		if k.name.Local == local {
			if found != nil {
				return nil, formatErr("duplicate " + local + " element")
			}
			found = k
		}
	}
	return found, nil
}

// must is child with a missing element reported as code.
func (n *node) must(local string, code drm.Code) (*node, error) {
	k, err := n.child(local)
	if err != nil {
		return nil, err
	}
	if k == nil {
		return nil, errf(code, "missing %s element", local)
	}
	return k, nil
}

// all returns the children named local.
func (n *node) all(local string) []*node {
	var out []*node
	for _, k := range n.kids {
		if k.name.Local == local {
			out = append(out, k)
		}
	}
	return out
}

// attrValue returns the unqualified attribute local, if present.
func (n *node) attrValue(local string) (string, bool) {
	for _, a := range n.attr {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// path walks a chain of required children.
func (n *node) path(code drm.Code, locals ...string) (*node, error) {
	cur := n
	for _, l := range locals {
		k, err := cur.must(l, code)
		if err != nil {
			return nil, err
		}
		cur = k
	}
	return cur, nil
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\r' || r == '\n' }

func trimXMLSpace(b []byte) string {
	return strings.TrimFunc(string(b), isSpace)
}

// decodeB64 decodes the base64 text of n (surrounding whitespace ignored;
// line breaks inside are ignored by encoding/base64). Empty text gives nil.
func decodeB64(n *node) ([]byte, error) {
	s := trimXMLSpace(n.text)
	if s == "" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("soap: bad base64")
	}
	return b, nil
}

// decodeFixed decodes base64 text of exactly size bytes.
func decodeFixed(n *node, size int, code drm.Code) ([]byte, error) {
	b, err := decodeB64(n)
	if err != nil || len(b) != size {
		return nil, errf(code, "%s is not base64 of %d bytes", n.name.Local, size)
	}
	return b, nil
}

func decodeUint(n *node, code drm.Code) (uint64, error) {
	v, err := strconv.ParseUint(trimXMLSpace(n.text), 10, 64)
	if err != nil {
		return 0, errf(code, "%s is not a decimal number", n.name.Local)
	}
	return v, nil
}

// checkEnvelope returns the first element of soap:Body (SOAP 1.1 or 1.2).
func checkEnvelope(root *node) (*node, error) {
	ns := root.name.Space
	if root.name.Local != "Envelope" || (ns != nsSOAP11 && ns != nsSOAP12) {
		return nil, formatErr("root is not a SOAP envelope")
	}
	var body *node
	for _, k := range root.kids {
		if k.is(ns, "Body") {
			if body != nil {
				return nil, formatErr("duplicate SOAP body")
			}
			body = k
		}
	}
	if body == nil || len(body.kids) == 0 {
		return nil, formatErr("missing SOAP body")
	}
	return body.kids[0], nil
}

// signedPart descends from an operation element through wrapper to the
// message element (messages namespace) and its signed child (protocols
// namespace, the element whose exact bytes are digested), the common shape
// of challenges and responses (docs/formats/soap.md §2, §5).
func signedPart(op *node, wrapper, message, signed string) (msg, part *node, err error) {
	msg, err = op.path(drm.ErrSOAPXMLXMLFormat, wrapper, message)
	if err != nil {
		return nil, nil, err
	}
	if !msg.is(nsMessages, message) {
		return nil, nil, formatErr(message + " is not in the messages namespace")
	}
	part, err = msg.must(signed, drm.ErrSOAPXMLXMLFormat)
	if err != nil {
		return nil, nil, err
	}
	if !part.is(NSProtocols, signed) {
		return nil, nil, formatErr(signed + " is not in the protocols namespace")
	}
	return msg, part, nil
}

// ParseEnvelopeAction returns the local name of the first element inside
// soap:Body (AcquireLicense, AcknowledgeLicense, Fault, …) so that a server
// can dispatch before parsing the message itself.
func ParseEnvelopeAction(body []byte) (string, error) {
	root, err := parseTree(body)
	if err != nil {
		return "", err
	}
	op, err := checkEnvelope(root)
	if err != nil {
		return "", err
	}
	return op.name.Local, nil
}

// checkFragment accepts exactly one element with only whitespace or
// comments around it and no processing instructions or DTDs: the shape of a
// WRMHEADER embedded as raw XML (docs/formats/soap.md §2).
func checkFragment(s string) error {
	if len(s) > MaxMessageSize {
		return formatErr("content header too large")
	}
	d := xml.NewDecoder(strings.NewReader(s))
	d.Strict = true
	depth, roots := 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return formatErr("content header is not well-formed XML")
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
			if depth > maxDepth {
				return formatErr("content header too deep")
			}
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(bytes.TrimFunc(t, isSpace)) != 0 {
				return formatErr("content header has text outside its element")
			}
		case xml.Comment:
		default:
			return formatErr("content header has a processing instruction or DTD")
		}
	}
	if roots != 1 {
		return formatErr("content header must hold exactly one element")
	}
	return nil
}

// validText reports whether s can be carried as XML character data
// unchanged (valid UTF-8, XML 1.0 Char production).
func validText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !isXMLChar(r) {
			return false
		}
	}
	return true
}

func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// isName reports whether s is a plain XML name usable as an element name
// without namespace prefix (ASCII letters, digits, '_', '-', '.').
func isName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c == '_':
		case i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return !strings.HasPrefix(strings.ToLower(s), "xml")
}

// writer writes XML by hand so that the emitted bytes are exactly the bytes
// signed (no re-serialisation by an XML library).
type writer struct{ bytes.Buffer }

// open writes <name a1="v1" …>; attrs are name/value pairs.
func (w *writer) open(name string, attrs ...string) {
	w.WriteByte('<')
	w.WriteString(name)
	for i := 0; i+1 < len(attrs); i += 2 {
		w.WriteByte(' ')
		w.WriteString(attrs[i])
		w.WriteString(`="`)
		w.escape(attrs[i+1])
		w.WriteByte('"')
	}
	w.WriteByte('>')
}

func (w *writer) close(name string) {
	w.WriteString("</")
	w.WriteString(name)
	w.WriteByte('>')
}

// empty writes <name …></name>: explicit end tags, as in the MS sample.
func (w *writer) empty(name string, attrs ...string) {
	w.open(name, attrs...)
	w.close(name)
}

func (w *writer) escape(s string) {
	_ = xml.EscapeText(&w.Buffer, []byte(s)) // bytes.Buffer writes never fail
}

// elem writes <name>escaped text</name>.
func (w *writer) elem(name, text string) {
	w.open(name)
	w.escape(text)
	w.close(name)
}

func (w *writer) b64(name string, b []byte) {
	w.open(name)
	w.WriteString(base64.StdEncoding.EncodeToString(b))
	w.close(name)
}
