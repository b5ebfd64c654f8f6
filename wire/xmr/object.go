package xmr

import "encoding/binary"

// Object is one XMR object (docs/formats/xmr.md §3): u16 flags, u16 type, u32
// length (header included), then the body. Parse keeps every object,
// known or not, so that [License.Bytes] re-encodes byte-identically.
//
// A container has Children (possibly empty, never nil) and a nil Body; a
// leaf has a Body (possibly empty) and nil Children. An empty container and
// an empty leaf encode to the same 8 bytes.
type Object struct {
	Flags    uint16
	Type     uint16
	Body     []byte    // leaf body (nil for containers)
	Children []*Object // containers only (flag CONTAINER, or a known container type)
}

// NewLeaf returns a leaf object.
func NewLeaf(flags, typ uint16, body []byte) *Object {
	if body == nil {
		body = []byte{}
	}
	return &Object{Flags: flags, Type: typ, Body: body}
}

// NewContainer returns a container object.
func NewContainer(flags, typ uint16, children ...*Object) *Object {
	if children == nil {
		children = []*Object{}
	}
	return &Object{Flags: flags, Type: typ, Children: children}
}

// IsContainer reports whether o holds children rather than a body.
func (o *Object) IsContainer() bool { return o.Children != nil }

// Len returns the encoded length including the 8-byte header, the value
// of the wire length field.
func (o *Object) Len() int {
	n := ObjectHeaderSize + len(o.Body)
	for _, c := range o.Children {
		n += c.Len()
	}
	return n
}

// Bytes returns the encoding of o (a fresh slice).
func (o *Object) Bytes() []byte { return o.appendTo(make([]byte, 0, o.Len())) }

func (o *Object) appendTo(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, o.Flags)
	b = binary.BigEndian.AppendUint16(b, o.Type)
	b = binary.BigEndian.AppendUint32(b, uint32(o.Len()))
	b = append(b, o.Body...)
	for _, c := range o.Children {
		b = c.appendTo(b)
	}
	return b
}

// Child returns the first child of type t, or nil.
func (o *Object) Child(t uint16) *Object {
	if o == nil {
		return nil
	}
	for _, c := range o.Children {
		if c.Type == t {
			return c
		}
	}
	return nil
}

// ChildrenOf returns every child of type t, in order.
func (o *Object) ChildrenOf(t uint16) []*Object {
	if o == nil {
		return nil
	}
	var out []*Object
	for _, c := range o.Children {
		if c.Type == t {
			out = append(out, c)
		}
	}
	return out
}
