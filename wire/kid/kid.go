// Package kid is the PlayReady / CENC key identifier and its two byte
// orders.
//
// An [ID] holds the bytes in CENC (big-endian UUID) order: the order of tenc
// default_KID, pssh v1 KID lists and the printed UUID. PlayReady headers,
// XMR CONTENT_KEY objects and the cfg= base64 form use the Windows
// little-endian GUID layout instead (PlayReady Header spec; docs/formats/pro-header.md
// §5): Data1, Data2 and Data3 byte-reversed, the last 8 bytes unchanged. Use
// [FromGUID] and [ID.GUID] to cross between them.
package kid

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Size is the length of a key identifier in bytes.
const Size = 16

// ID is a key identifier in CENC (big-endian UUID) byte order.
type ID [Size]byte

// ErrFormat is returned when a KID string or byte slice has the wrong form.
var ErrFormat = errors.New("kid: malformed key identifier")

// swap converts between UUID and LE-GUID layouts (the conversion is its own inverse).
func swap(b [Size]byte) [Size]byte {
	return [Size]byte{b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6],
		b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]}
}

// FromGUID returns the ID whose little-endian GUID layout is b.
func FromGUID(b []byte) (ID, error) {
	if len(b) != Size {
		return ID{}, ErrFormat
	}
	return ID(swap([Size]byte(b))), nil
}

// FromBytes returns the ID whose CENC (big-endian) bytes are b.
func FromBytes(b []byte) (ID, error) {
	if len(b) != Size {
		return ID{}, ErrFormat
	}
	return ID(b), nil
}

// GUID returns the little-endian GUID layout used in WRMHEADER and XMR.
func (id ID) GUID() [Size]byte { return swap(id) }

// Base64GUID returns the base64 of the GUID layout: the WRMHEADER KID VALUE form.
func (id ID) Base64GUID() string {
	g := id.GUID()
	return base64.StdEncoding.EncodeToString(g[:])
}

// String returns the lower-case UUID, e.g. "a2c786d0-f9ef-4cb3-b333-cd323a4284a5".
func (id ID) String() string {
	h := hex.EncodeToString(id[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// Hex returns the 32 lower-case hex digits of the CENC bytes.
func (id ID) Hex() string { return hex.EncodeToString(id[:]) }

// IsZero reports whether every byte is zero.
func (id ID) IsZero() bool { return id == ID{} }

// MarshalText implements encoding.TextMarshaler (the UUID form).
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler (any form Parse accepts).
func (id *ID) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// Parse reads a KID written as a UUID / registry GUID (with or without
// dashes or braces, any case; CENC order) or as the base64 of the LE GUID
// bytes (the WRMHEADER VALUE and cfg= form).
func Parse(s string) (ID, error) {
	t := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "{"), "}")
	if len(t) == 36 && t[8] == '-' && t[13] == '-' && t[18] == '-' && t[23] == '-' {
		t = strings.ReplaceAll(t, "-", "")
	}
	if len(t) == 32 {
		b, err := hex.DecodeString(t)
		if err == nil {
			return ID(b), nil
		}
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == Size {
		return FromGUID(b)
	}
	return ID{}, ErrFormat
}

// MustParse is Parse for constants in tests and examples; it panics on error.
func MustParse(s string) ID {
	id, err := Parse(s)
	if err != nil {
		panic(fmt.Sprintf("kid: MustParse: %v", err))
	}
	return id
}
