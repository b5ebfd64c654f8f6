package pro

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Sizes and record types of the PlayReady Object (header spec §2).
const (
	// MaxObjectSize bounds the PRO input Parse accepts. The header spec
	// says a PRO should not exceed 15 KB; 64 KiB leaves room for an
	// Embedded License Store next to a large header.
	MaxObjectSize = 64 << 10

	// RecordHeader is the record type of a PlayReady Header (WRMHEADER XML
	// in UTF-16LE).
	RecordHeader uint16 = 0x0001
	// RecordELS is the record type of an Embedded License Store, whose
	// format is not public; it is carried as opaque bytes.
	RecordELS uint16 = 0x0003
)

// Errors. Every parse or build failure wraps exactly one of them.
var (
	// ErrMalformed reports bytes or a header value that break the PRO,
	// pssh or WRMHEADER rules.
	ErrMalformed = errors.New("pro: malformed PlayReady data")
	// ErrUnsupportedVersion reports a WRMHEADER version this package does
	// not know, in particular one newer than 4.3.0.0 (header spec §3.3.3:
	// a client must fail on a newer version).
	ErrUnsupportedVersion = errors.New("pro: unsupported PlayReady Header version")
)

func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, a...)...)
}

// Record is one PlayReady Object record: a type and its raw value.
type Record struct {
	Type  uint16
	Value []byte
}

// Object is a PlayReady Object (header spec §2): records in order, all
// fields little-endian on the wire.
type Object struct {
	Records []Record
}

// Parse decodes a PlayReady Object. The length field must equal len(b), the
// records must fill the object exactly and a header record must have an even
// length. Unknown record types are kept. The result does not alias b.
func Parse(b []byte) (*Object, error) {
	if len(b) < 6 {
		return nil, malformed("object shorter than 6 bytes")
	}
	if len(b) > MaxObjectSize {
		return nil, malformed("object longer than %d bytes", MaxObjectSize)
	}
	if n := binary.LittleEndian.Uint32(b); uint64(n) != uint64(len(b)) {
		return nil, malformed("object length field does not match the data")
	}
	count := int(binary.LittleEndian.Uint16(b[4:]))
	rest := b[6:]
	recs := make([]Record, 0, min(count, len(rest)/4))
	for i := 0; i < count; i++ {
		if len(rest) < 4 {
			return nil, malformed("record %d truncated", i)
		}
		t := binary.LittleEndian.Uint16(rest)
		n := int(binary.LittleEndian.Uint16(rest[2:]))
		if n > len(rest)-4 {
			return nil, malformed("record %d length exceeds the object", i)
		}
		if t == RecordHeader && n%2 != 0 {
			return nil, malformed("record %d: odd UTF-16 length", i)
		}
		recs = append(recs, Record{Type: t, Value: bytes.Clone(rest[4 : 4+n])})
		rest = rest[4+n:]
	}
	if len(rest) != 0 {
		return nil, malformed("%d bytes after the last record", len(rest))
	}
	return &Object{Records: recs}, nil
}

// size returns the encoded size, or -1 if o cannot be encoded in a form
// Parse accepts.
func (o *Object) size() int {
	if len(o.Records) > math.MaxUint16 {
		return -1
	}
	n := 6
	for _, r := range o.Records {
		if len(r.Value) > math.MaxUint16 || (r.Type == RecordHeader && len(r.Value)%2 != 0) {
			return -1
		}
		n += 4 + len(r.Value)
		if n > MaxObjectSize {
			return -1
		}
	}
	return n
}

// Bytes encodes the object. It returns nil if o cannot be encoded in a form
// Parse accepts (a record value over 65535 bytes, an odd-length header
// record, or more than MaxObjectSize bytes in all).
func (o *Object) Bytes() []byte {
	n := o.size()
	if n < 0 {
		return nil
	}
	b := make([]byte, 0, n)
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(o.Records)))
	for _, r := range o.Records {
		b = binary.LittleEndian.AppendUint16(b, r.Type)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(r.Value)))
		b = append(b, r.Value...)
	}
	return b
}

// Header parses the first PlayReady Header record.
func (o *Object) Header() (*Header, error) {
	for _, r := range o.Records {
		if r.Type == RecordHeader {
			return ParseHeader(r.Value)
		}
	}
	return nil, malformed("object has no PlayReady Header record")
}

// NewObject returns an object with one PlayReady Header record holding
// h.UTF16(), and no Embedded License Store: the form for manifests and
// `pssh` boxes (header spec §4 recommends no ELS in a Smooth manifest).
func NewObject(h *Header) (*Object, error) {
	u, err := h.UTF16()
	if err != nil {
		return nil, err
	}
	o := &Object{Records: []Record{{Type: RecordHeader, Value: u}}}
	if o.size() < 0 {
		return nil, malformed("header of %d bytes does not fit in a record", len(u))
	}
	return o, nil
}
