package licsrv

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// The allow file is operator configuration, but it is read again on every
// reload from a path anyone with write access may replace: it is bounded
// and parsed strictly like untrusted input.
const (
	maxRevAllowBytes   = 1 << 20
	maxRevAllowEntries = 10000
)

// loadRevAllow reads the RevAllowInfo file at path.
func loadRevAllow(path string) (map[[32]byte]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("allow list: %w", err)
	}
	defer func() { _ = f.Close() }()
	b, err := io.ReadAll(io.LimitReader(f, maxRevAllowBytes+1))
	if err != nil {
		return nil, fmt.Errorf("allow list %s: %w", quote(path), err)
	}
	if len(b) > maxRevAllowBytes {
		return nil, fmt.Errorf("allow list %s: larger than %d bytes", quote(path), maxRevAllowBytes)
	}
	ds, err := parseRevAllow(b)
	if err != nil {
		return nil, fmt.Errorf("allow list %s: %w", quote(path), err)
	}
	set := make(map[[32]byte]bool, len(ds))
	for _, d := range ds {
		set[d] = true
	}
	return set, nil
}

// parseRevAllow reads a RevAllowInfo document, the Server SDK's allow list
// (docs/formats/revocation.md §6):
//
//	<RevAllowInfo><AllowList><CertificateHash>B64</CertificateHash>…</AllowList></RevAllowInfo>
//
// each CertificateHash the base64 SHA-256 digest of a revoked model or
// company certificate the operator serves anyway. Any other element, text
// outside a hash, a DOCTYPE or a hash that is not 32 bytes is an error: a
// misread allow list would silently serve (or refuse) the wrong devices.
// Errors name the element or entry number, never the file's bytes.
func parseRevAllow(b []byte) ([][32]byte, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	var (
		path []string // open element names
		text strings.Builder
		out  [][32]byte
		root bool
	)
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("not well-formed XML (line %d)", line(d))
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := t.Name.Local
			want := [...]string{"RevAllowInfo", "AllowList", "CertificateHash"}
			if len(path) >= len(want) || name != want[len(path)] || (len(path) == 0 && root) {
				return nil, fmt.Errorf("unexpected element %s (line %d); want RevAllowInfo/AllowList/CertificateHash", quote(name), line(d))
			}
			root = true
			path = append(path, name)
			text.Reset()
		case xml.EndElement:
			if len(path) == 3 {
				if len(out) == maxRevAllowEntries {
					return nil, fmt.Errorf("more than %d CertificateHash entries", maxRevAllowEntries)
				}
				h, err := base64.StdEncoding.DecodeString(strings.TrimSpace(text.String()))
				if err != nil || len(h) != 32 {
					return nil, fmt.Errorf("CertificateHash %d (line %d) is not the base64 of a 32-byte SHA-256 digest", len(out)+1, line(d))
				}
				out = append(out, [32]byte(h))
			}
			path = path[:len(path)-1]
		case xml.CharData:
			if len(path) == 3 {
				if text.Len()+len(t) > 128 {
					return nil, fmt.Errorf("CertificateHash %d (line %d) is too long", len(out)+1, line(d))
				}
				text.Write(t)
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, fmt.Errorf("unexpected text (line %d)", line(d))
			}
		case xml.Directive:
			return nil, fmt.Errorf("unexpected directive (line %d): DOCTYPE and entities are not allowed", line(d))
		}
	}
	if !root {
		return nil, errors.New("no RevAllowInfo element")
	}
	return out, nil
}

func line(d *xml.Decoder) int {
	l, _ := d.InputPos()
	return l
}
