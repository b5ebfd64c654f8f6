package xmr

import (
	"encoding/binary"
	"errors"
)

// value is one decoded field of a body.
type value struct {
	field
	u uint64 // kU16, kU32; the count for list kinds
	b []byte // kGUID, kRaw16, kVar16, kRest; the list bytes for list kinds (aliasing the body)
}

var errLayout = errors.New("xmr: body does not match its layout")

// decodeLayout checks body against layout and returns the fields. The body
// must be consumed exactly, unless the last field is kRest. Every length is
// checked before use, so a hostile body can only produce an error.
func decodeLayout(layout []field, body []byte) ([]value, error) {
	out := make([]value, 0, len(layout))
	rest := body
	need := func(n int) ([]byte, error) {
		if n < 0 || len(rest) < n {
			return nil, errLayout
		}
		p := rest[:n]
		rest = rest[n:]
		return p, nil
	}
	for _, f := range layout {
		v := value{field: f}
		switch f.kind {
		case kU16:
			p, err := need(2)
			if err != nil {
				return nil, err
			}
			v.u = uint64(binary.BigEndian.Uint16(p))
		case kU32:
			p, err := need(4)
			if err != nil {
				return nil, err
			}
			v.u = uint64(binary.BigEndian.Uint32(p))
		case kGUID, kRaw16:
			p, err := need(guidSize)
			if err != nil {
				return nil, err
			}
			v.b = p
		case kVar16:
			p, err := need(2)
			if err != nil {
				return nil, err
			}
			n := int(binary.BigEndian.Uint16(p))
			if v.b, err = need(n); err != nil {
				return nil, err
			}
			v.u = uint64(n)
		case kRest:
			v.b = rest
			rest = rest[len(rest):]
		case kGUIDList32, kU32List16, kAuxKeys:
			var n, stride int
			switch f.kind {
			case kGUIDList32:
				p, err := need(4)
				if err != nil {
					return nil, err
				}
				c := binary.BigEndian.Uint32(p)
				if uint64(c) > uint64(len(rest))/guidSize {
					return nil, errLayout
				}
				n, stride = int(c), guidSize
			case kU32List16:
				p, err := need(2)
				if err != nil {
					return nil, err
				}
				n, stride = int(binary.BigEndian.Uint16(p)), 4
			default:
				p, err := need(2)
				if err != nil {
					return nil, err
				}
				n, stride = int(binary.BigEndian.Uint16(p)), 4+16
			}
			p, err := need(n * stride)
			if err != nil {
				return nil, err
			}
			v.u, v.b = uint64(n), p
		default:
			return nil, errLayout
		}
		out = append(out, v)
	}
	if len(rest) != 0 {
		return nil, errLayout
	}
	return out, nil
}

// decodeObject decodes a leaf of a known type; ok is false when the type has
// no layout (opaque body) or the body does not match.
func decodeObject(o *Object) ([]value, bool) {
	if o == nil {
		return nil, false
	}
	ti, found := lookup(o.Type)
	if !found || ti.container || ti.layout == nil || o.IsContainer() {
		return nil, false
	}
	v, err := decodeLayout(ti.layout, o.Body)
	return v, err == nil
}
