package securestop

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/cmac"
	"github.com/prsim/prsim/wire/kid"
)

// ErrMalformed reports records or an acknowledgement that break the layout
// of docs/protocol.md §11. Parse errors also wrap a drm code:
// drm.ErrSecureStopSessionCorrupt for records,
// drm.ErrSecureStopInvalidResponse for an acknowledgement.
var ErrMalformed = errors.New("securestop: malformed secure-stop data")

// Record versions.
const (
	Version1 = 1 // SecureStop1: no MAC
	Version2 = 2 // SecureStop2: AES-CMAC under the license's SecureStop2 key
)

// Limits (docs/protocol.md §11).
const (
	MaxKIDs    = 16  // KIDs per record
	MaxRecords = 100 // records per list: the TEE keeps at most 100 sessions
	MACSize    = cmac.Size
)

const (
	recordMagic   = "PRSS"
	recordFixed   = 55 // magic 4, version 1, flags 1, session 16, publisher 16, start 8, update 8, KID count 1
	flagStopped   = 0x01
	maxRecordSize = recordFixed + MaxKIDs*kid.Size + MACSize
)

// Record is one secure-stop session report (docs/protocol.md §11).
type Record struct {
	Version   uint8    // 1 SecureStop1, 2 SecureStop2 (MAC set)
	Session   [16]byte // session ID the TEE drew at play start
	Publisher [16]byte // the license's SECURE_STOP ID (0x5A)
	KIDs      []kid.ID // 1..16
	Start     int64    // Unix seconds, play start
	Update    int64    // Unix seconds, last update, = the stop time once Stopped
	Stopped   bool
	MAC       [16]byte // v2: AES-CMAC (internal/cmac) under the license's SecureStop2 key over SignedBytes()
}

// SignedBytes returns the encoding of everything but the MAC: the bytes a
// SecureStop2 MAC covers. Layout (big-endian):
//
//	off  size  field
//	0    4     magic "PRSS"
//	4    1     version (1 or 2)
//	5    1     flags: bit 0 = stopped, others 0
//	6    16    session ID
//	22   16    publisher ID (the license's SECURE_STOP ID)
//	38   8     start, Unix seconds (int64)
//	46   8     update, Unix seconds (int64)
//	54   1     KID count n, 1..16
//	55   16·n  KIDs, CENC (big-endian UUID) byte order
func (r *Record) SignedBytes() []byte {
	b := make([]byte, 0, recordFixed+len(r.KIDs)*kid.Size+MACSize)
	b = append(b, recordMagic...)
	var flags byte
	if r.Stopped {
		flags |= flagStopped
	}
	b = append(b, r.Version, flags)
	b = append(b, r.Session[:]...)
	b = append(b, r.Publisher[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Start))
	b = binary.BigEndian.AppendUint64(b, uint64(r.Update))
	b = append(b, byte(len(r.KIDs)))
	for _, id := range r.KIDs {
		b = append(b, id[:]...)
	}
	return b
}

// Bytes returns SignedBytes ‖ MAC for a Version 2 record and SignedBytes
// alone otherwise.
func (r *Record) Bytes() []byte {
	b := r.SignedBytes()
	if r.Version == Version2 {
		b = append(b, r.MAC[:]...)
	}
	return b
}

// SignSS2 sets Version to 2 and MAC to the AES-CMAC of SignedBytes under
// key, the license's SecureStop2 key (which must be kept secret).
func (r *Record) SignSS2(key [16]byte) {
	r.Version = Version2
	// A 16-byte key cannot fail AES key setup.
	r.MAC, _ = cmac.Sum(key[:], r.SignedBytes())
}

// VerifySS2 reports whether r is a Version 2 record whose MAC is valid
// under key; the comparison is constant-time.
func (r *Record) VerifySS2(key [16]byte) bool {
	return r.Version == Version2 && cmac.Verify(key[:], r.SignedBytes(), r.MAC[:])
}

// validate checks what the layout can express.
func (r *Record) validate() error {
	if r.Version != Version1 && r.Version != Version2 {
		return fmt.Errorf("record version %d (want 1 or 2)", r.Version)
	}
	if len(r.KIDs) == 0 || len(r.KIDs) > MaxKIDs {
		return fmt.Errorf("record has %d KIDs (want 1..%d)", len(r.KIDs), MaxKIDs)
	}
	return nil
}

// EncodeRecords encodes 1..MaxRecords valid records, each with distinct
// sessions, as u16 count ‖ (u16 length ‖ Record.Bytes)…. It returns nil
// for an empty, too long or invalid list, which the challenge builder
// refuses: an encoding ParseRecords would reject is never produced.
func EncodeRecords(rs []Record) []byte {
	if len(rs) == 0 || len(rs) > MaxRecords {
		return nil
	}
	seen := make(map[[16]byte]bool, len(rs))
	b := binary.BigEndian.AppendUint16(nil, uint16(len(rs)))
	for i := range rs {
		if rs[i].validate() != nil || seen[rs[i].Session] {
			return nil
		}
		seen[rs[i].Session] = true
		rb := rs[i].Bytes()
		b = binary.BigEndian.AppendUint16(b, uint16(len(rb)))
		b = append(b, rb...)
	}
	return b
}

func corrupt(format string, a ...any) error {
	return fmt.Errorf("securestop: records: "+format+": %w: %w", append(a, ErrMalformed, drm.ErrSecureStopSessionCorrupt)...)
}

// ParseRecords decodes the encoding of EncodeRecords strictly: 1..MaxRecords
// records, each of the exact length its version and KID count give, known
// flags only, no duplicate session. Every failure wraps ErrMalformed and
// drm.ErrSecureStopSessionCorrupt. MACs are not checked here (the server
// knows the keys: [Record.VerifySS2]).
func ParseRecords(b []byte) ([]Record, error) {
	if len(b) < 2 {
		return nil, corrupt("too short")
	}
	n := int(binary.BigEndian.Uint16(b))
	if n == 0 || n > MaxRecords {
		return nil, corrupt("%d records (want 1..%d)", n, MaxRecords)
	}
	b = b[2:]
	rs := make([]Record, 0, n)
	seen := make(map[[16]byte]bool, n)
	for i := range n {
		if len(b) < 2 {
			return nil, corrupt("record %d: truncated length", i)
		}
		l := int(binary.BigEndian.Uint16(b))
		if l > len(b)-2 {
			return nil, corrupt("record %d: length exceeds the data", i)
		}
		r, err := parseRecord(b[2 : 2+l])
		if err != nil {
			return nil, corrupt("record %d: %s", i, err)
		}
		if seen[r.Session] {
			return nil, corrupt("record %d: duplicate session", i)
		}
		seen[r.Session] = true
		rs = append(rs, r)
		b = b[2+l:]
	}
	if len(b) != 0 {
		return nil, corrupt("trailing bytes")
	}
	return rs, nil
}

// parseRecord decodes one record; its error text is a fixed description.
func parseRecord(b []byte) (Record, error) {
	var r Record
	if len(b) < recordFixed || len(b) > maxRecordSize {
		return r, errors.New("bad length")
	}
	if string(b[:4]) != recordMagic {
		return r, errors.New("bad magic")
	}
	r.Version = b[4]
	if r.Version != Version1 && r.Version != Version2 {
		return r, errors.New("unknown version")
	}
	if b[5]&^flagStopped != 0 {
		return r, errors.New("unknown flags")
	}
	r.Stopped = b[5]&flagStopped != 0
	r.Session = [16]byte(b[6:22])
	r.Publisher = [16]byte(b[22:38])
	r.Start = int64(binary.BigEndian.Uint64(b[38:]))
	r.Update = int64(binary.BigEndian.Uint64(b[46:]))
	k := int(b[54])
	if k == 0 || k > MaxKIDs {
		return r, errors.New("KID count out of range")
	}
	want := recordFixed + k*kid.Size
	if r.Version == Version2 {
		want += MACSize
	}
	if len(b) != want {
		return r, errors.New("length does not match the version and KID count")
	}
	r.KIDs = make([]kid.ID, k)
	for i := range r.KIDs {
		r.KIDs[i] = kid.ID(b[recordFixed+i*kid.Size:])
	}
	if r.Version == Version2 {
		r.MAC = [16]byte(b[want-MACSize:])
	}
	return r, nil
}
