package pro

import (
	"bytes"
	"encoding/binary"

	"github.com/prsim/prsim/wire/kid"
)

// SystemIDString is the PlayReady DRM system ID (docs/formats/pro-header.md §2), as
// used in `urn:uuid:` scheme URIs. Compare scheme URIs case-insensitively:
// upper-case forms exist in the wild (docs/formats/media.md §3).
const SystemIDString = "9a04f079-9840-4286-ab92-e65be0885f95"

// MaxPSSHSize bounds the `pssh` boxes ParsePSSH accepts: a maximal PRO plus
// room for a long version-1 KID list.
const MaxPSSHSize = 1 << 20

// SystemID returns the PlayReady system ID in the big-endian byte order
// written in `pssh` boxes. (Some Microsoft documents also print a
// little-endian GUID form; that form never appears in a `pssh` box.)
func SystemID() [16]byte {
	return [16]byte{0x9a, 0x04, 0xf0, 0x79, 0x98, 0x40, 0x42, 0x86,
		0xab, 0x92, 0xe6, 0x5b, 0xe0, 0x88, 0x5f, 0x95}
}

// PSSH is one CENC Protection System Specific Header box (ISO/IEC 23001-7
// §8.1). For PlayReady, Data holds a PRO (shaka-packager writes version 0);
// see [ParseHeaderData].
type PSSH struct {
	Version  uint8  // 0, or 1 with a KID list
	Flags    uint32 // 24 bits; 0 in practice
	SystemID [16]byte
	KIDs     []kid.ID // version 1 only; CENC (big-endian) byte order
	Data     []byte
}

// ParsePSSH decodes one complete `pssh` box, size and type included. The
// box size must equal len(b) (the 64-bit and to-end-of-file size forms are
// rejected), the version must be 0 or 1 and the data must end the box
// exactly. The result does not alias b.
func ParsePSSH(b []byte) (*PSSH, error) {
	if len(b) < 32 {
		return nil, malformed("pssh box shorter than 32 bytes")
	}
	if len(b) > MaxPSSHSize {
		return nil, malformed("pssh box longer than %d bytes", MaxPSSHSize)
	}
	if n := binary.BigEndian.Uint32(b); uint64(n) != uint64(len(b)) {
		return nil, malformed("pssh box size does not match the data")
	}
	if string(b[4:8]) != "pssh" {
		return nil, malformed("box type is not pssh")
	}
	p := &PSSH{Version: b[8], Flags: binary.BigEndian.Uint32(b[8:]) & 0xFFFFFF}
	if p.Version > 1 {
		return nil, malformed("pssh version %d", p.Version)
	}
	copy(p.SystemID[:], b[12:28])
	rest := b[28:]
	if p.Version == 1 {
		n := uint64(binary.BigEndian.Uint32(rest))
		rest = rest[4:]
		if n*kid.Size > uint64(len(rest)) {
			return nil, malformed("pssh KID count exceeds the box")
		}
		if n > 0 {
			p.KIDs = make([]kid.ID, n)
			for i := range p.KIDs {
				p.KIDs[i] = kid.ID(rest[:kid.Size])
				rest = rest[kid.Size:]
			}
		}
	}
	if len(rest) < 4 {
		return nil, malformed("pssh data size missing")
	}
	if n := binary.BigEndian.Uint32(rest); uint64(n) != uint64(len(rest)-4) {
		return nil, malformed("pssh data size does not match the box")
	}
	p.Data = bytes.Clone(rest[4:])
	return p, nil
}

// Bytes encodes the box. It returns nil if p cannot be encoded in a form
// ParsePSSH accepts: a version other than 0 or 1, flags wider than 24 bits,
// KIDs in a version 0 box, or more than MaxPSSHSize bytes.
func (p *PSSH) Bytes() []byte {
	if p.Version > 1 || p.Flags > 0xFFFFFF || (p.Version == 0 && len(p.KIDs) > 0) {
		return nil
	}
	n := 32 + len(p.Data)
	if p.Version == 1 {
		n += 4 + kid.Size*len(p.KIDs)
	}
	if n > MaxPSSHSize {
		return nil
	}
	b := make([]byte, 0, n)
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	b = append(b, "pssh"...)
	b = binary.BigEndian.AppendUint32(b, uint32(p.Version)<<24|p.Flags)
	b = append(b, p.SystemID[:]...)
	if p.Version == 1 {
		b = binary.BigEndian.AppendUint32(b, uint32(len(p.KIDs)))
		for _, id := range p.KIDs {
			b = append(b, id[:]...)
		}
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(p.Data)))
	return append(b, p.Data...)
}

// IsPlayReady reports whether the box belongs to the PlayReady system.
func (p *PSSH) IsPlayReady() bool { return p.SystemID == SystemID() }

// Header parses the PlayReady Header carried in a PlayReady box's data.
func (p *PSSH) Header() (*Header, error) {
	if !p.IsPlayReady() {
		return nil, malformed("pssh box is not for PlayReady")
	}
	return ParseHeaderData(p.Data)
}

// ParseHeaderData parses the PlayReady data of a `pssh` box or a DASH
// `mspr:pro` element (after base64 decoding). That is normally a PRO, but
// packagers also put a bare UTF-16LE WRMHEADER there (docs/formats/media.md §3), so
// data that starts with "<\x00" (or a UTF-16LE byte-order mark) and whose
// first four bytes are not its own length is parsed as a header.
func ParseHeaderData(b []byte) (*Header, error) {
	isPRO := len(b) >= 4 && uint64(binary.LittleEndian.Uint32(b)) == uint64(len(b))
	bareXML := len(b) >= 2 && (b[0] == '<' && b[1] == 0 || b[0] == 0xFF && b[1] == 0xFE)
	if bareXML && !isPRO {
		return ParseHeader(b)
	}
	o, err := Parse(b)
	if err != nil {
		return nil, err
	}
	return o.Header()
}
