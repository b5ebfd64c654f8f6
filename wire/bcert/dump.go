package bcert

import (
	"fmt"
	"strings"
	"time"
)

// Dump returns a human-readable description of the chain, one field per
// line, for debugging and golden tests. Strings are quoted, so control bytes
// in a hostile certificate cannot garble a terminal.
func (c *Chain) Dump() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "CHAI version %d, flags 0x%08X, %d certificates, %d bytes\n",
		c.Version, c.Flags, len(c.Certs), len(c.Bytes()))
	for i, ct := range c.Certs {
		fmt.Fprintf(&sb, "certificate %d:\n", i)
		ct.dump(&sb, "  ")
	}
	return sb.String()
}

// Dump returns a human-readable description of the certificate.
func (c *Cert) Dump() string {
	var sb strings.Builder
	c.dump(&sb, "")
	return sb.String()
}

func name(m map[uint32]string, v uint32) string {
	if n, ok := m[v]; ok {
		return fmt.Sprintf("%s (0x%X)", n, v)
	}
	return fmt.Sprintf("0x%X", v)
}

func (c *Cert) dump(sb *strings.Builder, in string) {
	b, signed := c.encode(nil)
	fmt.Fprintf(sb, "%sCERT version %d, %d bytes, %d signed\n", in, c.Version, len(b), signed)
	for _, o := range c.Objects {
		tn := tagNames[o.Tag]
		if tn == "" {
			tn = "UNKNOWN"
		}
		fmt.Fprintf(sb, "%s%s (tag 0x%04X, flags 0x%04X, %d bytes)\n", in, tn, o.Tag, o.Flags, ObjectHeaderSize+len(o.Body))
		dumpBody(sb, in+"  ", o)
	}
}

func dumpBody(sb *strings.Builder, in string, o Object) {
	line := func(k, f string, a ...any) { fmt.Fprintf(sb, "%s%-16s "+f+"\n", append([]any{in, k + ":"}, a...)...) }
	switch o.Tag {
	case TagBasic:
		b, ok := decodeBasic(o.Body)
		if !ok {
			break
		}
		line("cert id", "%x", b.CertID)
		line("security level", "%d", b.SecurityLevel)
		line("flags", "0x%08X", b.Flags)
		line("type", "%s", name(certTypeNames, b.Type))
		line("digest", "%x", b.Digest)
		if b.Expiration == ExpirationNever {
			line("expiration", "never")
		} else {
			line("expiration", "%s (%d)", time.Unix(int64(b.Expiration), 0).UTC().Format(time.RFC3339), b.Expiration)
		}
		line("client id", "%x", b.ClientID)
		return
	case TagDevice, TagServer, TagSecurityVersion, TagSecurityVersion2, TagPC, TagSilverlight:
		labels := map[uint16][]string{
			TagDevice:           {"max license", "max header", "max chain depth"},
			TagServer:           {"warning days"},
			TagSecurityVersion:  {"version", "platform"},
			TagSecurityVersion2: {"version", "platform"},
			TagPC:               {"version"},
			TagSilverlight:      {"version", "platform"},
		}[o.Tag]
		if len(o.Body) != 4*len(labels) {
			break
		}
		for i, l := range labels {
			line(l, "%d", be32(o.Body[4*i:]))
		}
		return
	case TagFeature:
		fs, err := decodeFeatures(o.Body)
		if err != nil {
			break
		}
		names := []string{"none"}
		for i, f := range fs {
			if i == 0 {
				names = names[:0]
			}
			names = append(names, name(featureNames, f))
		}
		line("features", "%s", strings.Join(names, ", "))
		return
	case TagKey:
		keys, err := decodeKeys(o.Body)
		if err != nil {
			break
		}
		for i, k := range keys {
			us := []string{"none"}
			for j, u := range k.Usages {
				if j == 0 {
					us = us[:0]
				}
				us = append(us, name(usageNames, u))
			}
			line(fmt.Sprintf("key %d", i), "type %d, %d bits, flags 0x%08X", k.Type, k.Length, k.Flags)
			line("  public", "%x", k.Public)
			line("  usages", "%s", strings.Join(us, ", "))
		}
		return
	case TagManufacturer:
		m, err := decodeManufacturer(o.Body)
		if err != nil {
			break
		}
		line("flags", "0x%08X", m.Flags)
		line("manufacturer", "%q", m.Name)
		line("model name", "%q", m.Model)
		line("model number", "%q", m.Number)
		return
	case TagSignature:
		sig, issuer, err := decodeSignature(o.Body)
		if err != nil {
			break
		}
		line("type", "ECDSA-P256-SHA256")
		line("signature", "%x", sig)
		line("issuer key", "%x", issuer)
		return
	}
	line("payload", "%x", o.Body)
}
