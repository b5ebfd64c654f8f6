package xmr

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Dump returns a human-readable listing of the license: header, every
// object with its flags and length, and the decoded fields of every known
// object (opaque bodies as hex). It prints only what is on the wire; the
// content key is there encrypted, so the dump holds no secret.
func (l *License) Dump() string {
	var sb strings.Builder
	b := l.Bytes()
	fmt.Fprintf(&sb, "XMR license version %d, %d bytes\n", l.Version, len(b))
	fmt.Fprintf(&sb, "rights ID: %s\n", hex.EncodeToString(l.RightsID[:]))
	if l.Outer != nil {
		dumpObject(&sb, l.Outer, typeRoot, 0)
	}
	if s := l.SignedBytes(); s != nil {
		fmt.Fprintf(&sb, "signed range: [0, %d)\n", len(s))
	}
	return sb.String()
}

func flagNames(f uint16) string {
	var n []string
	for _, x := range []struct {
		bit  uint16
		name string
	}{{FlagMustUnderstand, "M"}, {FlagContainer, "C"}, {FlagAllowExternalParse, "E"}, {FlagBestEffort, "B"}, {FlagHasSecureState, "S"}} {
		if f&x.bit != 0 {
			n = append(n, x.name)
		}
	}
	if rest := f &^ 0x1F; rest != 0 {
		n = append(n, fmt.Sprintf("0x%04x", rest))
	}
	if len(n) == 0 {
		return "-"
	}
	return strings.Join(n, "|")
}

func dumpObject(sb *strings.Builder, o *Object, parent uint16, depth int) {
	ind := strings.Repeat("  ", depth)
	ti, ok := known(parent, o.Type)
	name := ti.name
	switch {
	case name == "":
		name = defaultUnknownName
	case !ok:
		name += " (unexpected here, kept as unknown)"
	}
	fmt.Fprintf(sb, "%s0x%04x %s flags=0x%04x(%s) length=%d\n", ind, o.Type, name, o.Flags, flagNames(o.Flags), o.Len())
	if o.IsContainer() {
		for _, c := range o.Children {
			dumpObject(sb, c, o.Type, depth+1)
		}
		return
	}
	ind += "  "
	var vals []value
	if ok && ti.layout != nil {
		vals, ok = decodeObject(o)
	} else {
		ok = false
	}
	if !ok {
		if len(o.Body) > 0 {
			fmt.Fprintf(sb, "%sbody: %s\n", ind, hex.EncodeToString(o.Body))
		}
		return
	}
	for _, v := range vals {
		fmt.Fprintf(sb, "%s%s: %s\n", ind, v.name, formatValue(o.Type, v))
	}
}

func hexOrEmpty(b []byte) string {
	if len(b) == 0 {
		return "(empty)"
	}
	return hex.EncodeToString(b)
}

func formatValue(t uint16, v value) string {
	switch v.kind {
	case kU16, kU32:
		s := fmt.Sprintf("%d (0x%x)", v.u, v.u)
		if note := annotate(t, v); note != "" {
			s += " " + note
		}
		return s
	case kGUID:
		return guidOf(v.b).String()
	case kRaw16, kVar16, kRest:
		return hexOrEmpty(v.b)
	case kGUIDList32:
		ids := guidList(v.b)
		parts := make([]string, len(ids))
		for i, id := range ids {
			parts[i] = id.String()
		}
		return fmt.Sprintf("%d [%s]", v.u, strings.Join(parts, ", "))
	case kU32List16:
		var parts []string
		for i := 0; i+4 <= len(v.b); i += 4 {
			parts = append(parts, fmt.Sprint(binary.BigEndian.Uint32(v.b[i:])))
		}
		return fmt.Sprintf("%d [%s]", v.u, strings.Join(parts, ", "))
	case kAuxKeys:
		var parts []string
		for i := 0; i+20 <= len(v.b); i += 20 {
			parts = append(parts, fmt.Sprintf("%d:%s", binary.BigEndian.Uint32(v.b[i:]), hex.EncodeToString(v.b[i+4:i+20])))
		}
		return fmt.Sprintf("%d [%s]", v.u, strings.Join(parts, ", "))
	}
	return "?"
}

var (
	keyTypeNames    = map[uint64]string{1: "AES-128-CTR", 2: "RC4", 3: "AES-128-ECB", 4: "COCKTAIL", 5: "AES-128-CBC", 6: "KEYEXCHANGE"}
	cipherTypeNames = map[uint64]string{1: "RSA-1024", 2: "CHAINED_LICENSE", 3: "ECC-256", 4: "ECC-256-KZ", 5: "TEE_TRANSIENT", 6: "ECC-256-VIA-SYMMETRIC"}
	sigTypeNames    = map[uint64]string{1: "AES-128-OMAC1", 2: "HMAC-SHA256"}
	checksumNames   = map[uint64]string{0: "XMRV1", 1: "AES-OMAC1"}
)

func annotate(t uint16, v value) string {
	name := func(m map[uint64]string) string {
		if s, ok := m[v.u]; ok {
			return s
		}
		return ""
	}
	switch {
	case t == TypeContentKey && v.name == "keyType":
		return name(keyTypeNames)
	case t == TypeContentKey && v.name == "cipherType":
		return name(cipherTypeNames)
	case t == TypeSignature && v.name == "sigType":
		return name(sigTypeNames)
	case t == TypeECCDeviceKey && v.name == "curve" && v.u == uint64(CurveP256):
		return "P-256"
	case t == TypeUplinkKID2 && v.name == "checksumType":
		return name(checksumNames)
	case t == TypeExpiration && v.name == "endDate" && v.u == uint64(ExpirationUnlimited):
		return "unlimited"
	case t == TypeExpiration && v.name == "beginDate" && v.u == 0:
		return "none"
	case v.name == "date" || v.name == "beginDate" || v.name == "endDate":
		return time.Unix(int64(v.u), 0).UTC().Format(time.RFC3339)
	}
	return ""
}
