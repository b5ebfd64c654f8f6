package pro

import (
	"encoding/base64"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/wire/kid"
)

var update = flag.Bool("update", false, "rewrite golden files")

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got))
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func mustB64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// Content keys from docs/formats/pro-header.md §8 (test key seed).
var testKeys = map[string][]byte{
	"0IbHou/5s0yzM80yOkKEpQ==": mustHex("4edb7704cdbf03617f4800bd878a6df2"),
	"/qgG2xbs4k2SKCxx6bhWqw==": mustHex("3179923adf3c929892951e62f93a518a"),
	"q5HgCTj40kGeNVhTH9Gexw==": mustHex("9cb061164b7013eaefcc7d6d18424c2c"),
	"PV1LM/VEVk+kEOB8qqcWDg==": mustHex("ae8b0d6d853c83a74a744fb80dfc8191"),
	"AAAAEAAQABAQABAAAAAAAQ==": mustHex("3a2a1b68dd2bd9b2eeb25e84c4776668"),
}

// canonical lists the testdata headers written in canonical form: parse,
// build and compare bytes.
var canonical = []string{"header-4.0.xml", "header-4.1.xml", "header-4.2.xml", "header-4.2-customns.xml", "header-4.3.xml", "header-4.3-noalgid.xml", "header-4.3-licreq.xml"}

func TestCanonicalRoundTrip(t *testing.T) {
	for _, name := range canonical {
		t.Run(name, func(t *testing.T) {
			src := string(readFile(t, name))
			h, err := ParseHeaderXML(src)
			require.NoError(t, err)
			x, err := h.XML()
			require.NoError(t, err)
			require.Equal(t, src, x)

			// The same through UTF-16LE and a PRO.
			u, err := h.UTF16()
			require.NoError(t, err)
			require.Equal(t, encodeUTF16LE(src), u)
			h2, err := ParseHeader(u)
			require.NoError(t, err)
			require.Equal(t, h, h2)
			o, err := NewObject(h)
			require.NoError(t, err)
			o2, err := Parse(o.Bytes())
			require.NoError(t, err)
			require.Equal(t, o, o2)
			h3, err := o2.Header()
			require.NoError(t, err)
			require.Equal(t, h, h3)
		})
	}
}

// Spec vector: docs/formats/pro-header.md §8, WRMHEADER 4.2 string (header spec
// §3.4.2): two KIDs whose checksums verify with the test-seed keys, and the
// PRO built from the parsed header round-trips byte for byte.
func TestHeader42Spec(t *testing.T) {
	src := string(readFile(t, "header-4.2.xml"))
	h, err := ParseHeaderXML(src)
	require.NoError(t, err)
	require.Equal(t, Version42, h.Version)
	require.Len(t, h.KIDs, 2)
	require.Equal(t, "a2c786d0-f9ef-4cb3-b333-cd323a4284a5", h.KIDs[0].ID.String())
	require.Equal(t, "db06a8fe-ec16-4de2-9228-2c71e9b856ab", h.KIDs[1].ID.String())
	for _, k := range h.KIDs {
		require.Equal(t, AlgAESCTR, k.AlgID)
		key := testKeys[k.ID.Base64GUID()]
		require.True(t, k.VerifyChecksum(key))
		wrong := append([]byte(nil), key...)
		wrong[15] ^= 1
		require.False(t, k.VerifyChecksum(wrong))
	}
	require.Equal(t, "http://rm.contoso.com/rightsmanager.asmx", h.LAURL)
	require.Equal(t, "AH+03juKbUGbHl1V/QIwRA==", h.DSID)

	o, err := NewObject(h)
	require.NoError(t, err)
	b := o.Bytes()
	require.Len(t, b, 6+4+2*len(src))
	o2, err := Parse(b)
	require.NoError(t, err)
	require.Equal(t, b, o2.Bytes())
	h2, err := o2.Header()
	require.NoError(t, err)
	x, err := h2.XML()
	require.NoError(t, err)
	require.Equal(t, src, x)
}

// Spec vector: header spec §3.6.1 sample PRO (docs/formats/pro-header.md §1): 860
// bytes, one 850-byte header record, v4.0 header with KID
// q5HgCTj40kGeNVhTH9Gexw==, CHECKSUM w+OZVr8vzrQ=.
func TestSamplePRO(t *testing.T) {
	b := readFile(t, "header-spec-3.6.1.pro")
	require.Len(t, b, 860)
	require.True(t, strings.HasPrefix(base64.StdEncoding.EncodeToString(b), "XAMAAAEAAQBSAzwAVwBS"))
	require.Equal(t, mustHex("5c030000010001005203"), b[:10])
	o, err := Parse(b)
	require.NoError(t, err)
	require.Len(t, o.Records, 1)
	require.Equal(t, RecordHeader, o.Records[0].Type)
	require.Len(t, o.Records[0].Value, 850)
	require.Equal(t, b, o.Bytes())

	h, err := o.Header()
	require.NoError(t, err)
	require.Equal(t, Version40, h.Version)
	require.Len(t, h.KIDs, 1)
	k := h.KIDs[0]
	require.Equal(t, "09e091ab-f838-41d2-9e35-58531fd19ec7", k.ID.String())
	require.Equal(t, AlgAESCTR, k.AlgID)
	require.Equal(t, mustB64("w+OZVr8vzrQ="), k.Checksum)
	require.True(t, k.VerifyChecksum(testKeys["q5HgCTj40kGeNVhTH9Gexw=="]))
	require.Equal(t, "https://profficialsite.keydelivery.mediaservices.windows.net/PlayReady/", h.LAURL)
	require.Equal(t, "<IIS_DRM_VERSION>8.0.1705.19</IIS_DRM_VERSION>", h.CustomAttributes)

	// Rebuilt from the parsed value, and from scratch.
	o2, err := NewObject(h)
	require.NoError(t, err)
	require.Equal(t, b, o2.Bytes())
	fresh := &Header{
		Version:          Version40,
		KIDs:             []KeyInfo{{ID: kid.MustParse("q5HgCTj40kGeNVhTH9Gexw=="), AlgID: AlgAESCTR, Checksum: mustB64("w+OZVr8vzrQ=")}},
		LAURL:            "https://profficialsite.keydelivery.mediaservices.windows.net/PlayReady/",
		CustomAttributes: "<IIS_DRM_VERSION>8.0.1705.19</IIS_DRM_VERSION>",
	}
	o3, err := NewObject(fresh)
	require.NoError(t, err)
	require.Equal(t, b, o3.Bytes())

	hd, err := ParseHeaderData(b)
	require.NoError(t, err)
	require.Equal(t, h, hd)
	hd, err = ParseHeaderData(o.Records[0].Value) // bare WRMHEADER
	require.NoError(t, err)
	require.Equal(t, h, hd)
}

func TestHeader43(t *testing.T) {
	h, err := ParseHeaderXML(string(readFile(t, "header-4.3-licreq.xml")))
	require.NoError(t, err)
	require.Equal(t, Version43, h.Version)
	require.NotNil(t, h.LicenseRequested)
	require.False(t, *h.LicenseRequested)
	require.Len(t, h.KIDs, 1)
	require.Equal(t, AlgAESCBC, h.KIDs[0].AlgID)
	require.Nil(t, h.KIDs[0].Checksum)
	require.True(t, h.KIDs[0].VerifyChecksum(testKeys["PV1LM/VEVk+kEOB8qqcWDg=="]))
	require.Equal(t, "http://127.0.0.1:8080/rightsmanager.asmx?cfg=(persist:false)&x=1", h.LAURL)
	require.Equal(t, `<MyNode BarAttribute="Bar" FooAttribute="Foo"></MyNode>`, h.CustomAttributes)
	require.Equal(t, DecryptorSetupOnDemand, h.DecryptorSetup)

	h, err = ParseHeaderXML(string(readFile(t, "header-4.3-noalgid.xml")))
	require.NoError(t, err)
	require.Equal(t, "", h.KIDs[0].AlgID)
	require.Nil(t, h.LicenseRequested)

	// LICENSEREQUESTED without KIDs still writes PROTECTINFO.
	yes := true
	x, err := (&Header{Version: Version43, LicenseRequested: &yes}).XML()
	require.NoError(t, err)
	require.Equal(t, `<WRMHEADER xmlns="`+Namespace+`" version="4.3.0.0"><DATA><PROTECTINFO LICENSEREQUESTED="true"></PROTECTINFO></DATA></WRMHEADER>`, x)
	h, err = ParseHeaderXML(x)
	require.NoError(t, err)
	require.Equal(t, &yes, h.LicenseRequested)
}

// CUSTOMATTRIBUTES content is kept verbatim, and an xmlns="" on the element
// (header spec syntax listings) is kept as CustomAttributesNoNamespace even
// though it puts CUSTOMATTRIBUTES itself in no namespace.
func TestCustomAttributes(t *testing.T) {
	h, err := ParseHeaderXML(string(readFile(t, "header-4.2-customns.xml")))
	require.NoError(t, err)
	require.True(t, h.CustomAttributesNoNamespace)
	require.Equal(t, `<mm:Publisher xmlns:mm="urn:schema-musicmogul-com"><mm:Author>Elvis Presley</mm:Author><mm:CreationDate>2007/08/21:12:00:00</mm:CreationDate></mm:Publisher>`, h.CustomAttributes)

	// Server-SDK style: another element order, CHECKSUM last, xmlns="".
	sdk := `<WRMHEADER xmlns="` + Namespace + `" version="4.0.0.0"><DATA><PROTECTINFO><KEYLEN>16</KEYLEN><ALGID>AESCTR</ALGID></PROTECTINFO>` +
		`<KID>q5HgCTj40kGeNVhTH9Gexw==</KID><DS_ID>AH+03juKbUGbHl1V/QIwRA==</DS_ID><CUSTOMATTRIBUTES xmlns=""><ref>42</ref></CUSTOMATTRIBUTES>` +
		`<CHECKSUM>w+OZVr8vzrQ=</CHECKSUM></DATA></WRMHEADER>`
	h, err = ParseHeaderXML(sdk)
	require.NoError(t, err)
	require.True(t, h.CustomAttributesNoNamespace)
	require.Equal(t, "<ref>42</ref>", h.CustomAttributes)
	require.Equal(t, mustB64("w+OZVr8vzrQ="), h.KIDs[0].Checksum)
	x, err := h.XML()
	require.NoError(t, err)
	require.Equal(t, `<WRMHEADER xmlns="`+Namespace+`" version="4.0.0.0"><DATA><PROTECTINFO><KEYLEN>16</KEYLEN><ALGID>AESCTR</ALGID></PROTECTINFO>`+
		`<KID>q5HgCTj40kGeNVhTH9Gexw==</KID><CHECKSUM>w+OZVr8vzrQ=</CHECKSUM><DS_ID>AH+03juKbUGbHl1V/QIwRA==</DS_ID>`+
		`<CUSTOMATTRIBUTES xmlns=""><ref>42</ref></CUSTOMATTRIBUTES></DATA></WRMHEADER>`, x)

	// Mixed content, comments, CDATA, entity references and self-closing
	// tags inside CUSTOMATTRIBUTES survive byte for byte.
	inner := " text&amp;<a x='1'>b<!-- c --><![CDATA[<d>]]><e/></a>tail "
	src := `<WRMHEADER xmlns="` + Namespace + `" version="4.2.0.0"><DATA><CUSTOMATTRIBUTES>` + inner + `</CUSTOMATTRIBUTES></DATA></WRMHEADER>`
	h, err = ParseHeaderXML(src)
	require.NoError(t, err)
	require.Equal(t, inner, h.CustomAttributes)
	require.False(t, h.CustomAttributesNoNamespace)
	x, err = h.XML()
	require.NoError(t, err)
	require.Equal(t, src, x)

	// Self-closing and empty CUSTOMATTRIBUTES are absent.
	for _, s := range []string{`<CUSTOMATTRIBUTES xmlns=""/>`, `<CUSTOMATTRIBUTES xmlns=""> </CUSTOMATTRIBUTES>`} {
		h, err = ParseHeaderXML(`<WRMHEADER xmlns="` + Namespace + `" version="4.2.0.0"><DATA>` + s + `</DATA></WRMHEADER>`)
		require.NoError(t, err)
		require.Empty(t, h.CustomAttributes)
		require.False(t, h.CustomAttributesNoNamespace)
	}
}

func TestHeader41(t *testing.T) {
	h, err := ParseHeaderXML(string(readFile(t, "header-4.1.xml")))
	require.NoError(t, err)
	require.Equal(t, &Header{
		Version:          Version41,
		KIDs:             []KeyInfo{{ID: kid.MustParse("09e091ab-f838-41d2-9e35-58531fd19ec7"), AlgID: AlgAESCTR, Checksum: mustB64("w+OZVr8vzrQ=")}},
		LAURL:            "https://profficialsite.keydelivery.mediaservices.windows.net/PlayReady/",
		LUIURL:           "https://example.com/lui",
		DSID:             "AH+03juKbUGbHl1V/QIwRA==",
		CustomAttributes: "<IIS_DRM_VERSION>8.0.1705.19</IIS_DRM_VERSION>",
		DecryptorSetup:   DecryptorSetupOnDemand,
	}, h)
}

// The spec's indented printing, with a declaration, comments, a
// self-closing KID and an unknown element, parses to the canonical header.
func TestTolerant(t *testing.T) {
	h, err := ParseHeaderXML(string(readFile(t, "header-4.2-indented.xml")))
	require.NoError(t, err)
	want, err := ParseHeaderXML(string(readFile(t, "header-4.2.xml")))
	require.NoError(t, err)
	require.Equal(t, want, h)

	for name, s := range map[string]string{
		"no namespace":       `<WRMHEADER version="4.2.0.0"><DATA><LA_URL>http://a/</LA_URL></DATA></WRMHEADER>`,
		"prefixed":           `<p:WRMHEADER xmlns:p="` + Namespace + `" version="4.2.0.0"><p:DATA><p:LA_URL>http://a/</p:LA_URL></p:DATA></p:WRMHEADER>`,
		"unknown attrs":      `<WRMHEADER xmlns="` + Namespace + `" version="4.2.0.0" extra="1"><DATA x="y"><LA_URL>http://a/</LA_URL><KID>ignored in 4.2</KID></DATA></WRMHEADER>`,
		"empty optional":     `<WRMHEADER xmlns="` + Namespace + `" version="4.2.0.0"><DATA><LA_URL>http://a/</LA_URL><LUI_URL></LUI_URL><CUSTOMATTRIBUTES> </CUSTOMATTRIBUTES></DATA></WRMHEADER>`,
		"other-ns element":   `<WRMHEADER xmlns="` + Namespace + `" version="4.2.0.0"><DATA><LA_URL>http://a/</LA_URL><LA_URL xmlns="urn:other">x</LA_URL></DATA></WRMHEADER>`,
		"utf-16 declaration": `<?xml version="1.0" encoding="utf-16"?><WRMHEADER xmlns="` + Namespace + `" version="4.2.0.0"><DATA><LA_URL>http://a/</LA_URL></DATA></WRMHEADER>`,
		"trailing comment":   `<WRMHEADER xmlns="` + Namespace + `" version="4.2.0.0"><DATA><LA_URL>http://a/</LA_URL></DATA></WRMHEADER><!-- x -->` + "\n",
	} {
		h, err := ParseHeaderXML(s)
		require.NoError(t, err, name)
		require.Equal(t, "http://a/", h.LAURL, name)
		require.Empty(t, h.LUIURL, name)
		require.Empty(t, h.CustomAttributes, name)
	}

	// A UTF-16LE byte-order mark is accepted.
	src := readFile(t, "header-4.0.xml")
	h, err = ParseHeader(append([]byte{0xFF, 0xFE}, encodeUTF16LE(string(src))...))
	require.NoError(t, err)
	require.Equal(t, Version40, h.Version)
	// DECRYPTORSETUP is unknown in 4.0.0.0, so skipped there.
	h, err = ParseHeaderXML(strings.Replace(string(src), "</DATA>", "<DECRYPTORSETUP>x</DECRYPTORSETUP></DATA>", 1))
	require.NoError(t, err)
	require.Empty(t, h.DecryptorSetup)
}

func TestRejects(t *testing.T) {
	v40 := string(readFile(t, "header-4.0.xml"))
	v42 := string(readFile(t, "header-4.2.xml"))
	v43 := string(readFile(t, "header-4.3.xml"))
	ns := `<WRMHEADER xmlns="` + Namespace + `" version=`
	for name, tc := range map[string]struct {
		s    string
		want error
	}{
		"newer version":     {strings.Replace(v42, "4.2.0.0", "4.4.0.0", 1), ErrUnsupportedVersion},
		"version 5":         {strings.Replace(v42, "4.2.0.0", "5.0.0.0", 1), ErrUnsupportedVersion},
		"bad version":       {strings.Replace(v42, "4.2.0.0", "4.2", 1), ErrMalformed},
		"no version":        {strings.Replace(v42, ` version="4.2.0.0"`, "", 1), ErrMalformed},
		"doctype":           {`<!DOCTYPE WRMHEADER [<!ENTITY x "y">]>` + v42, ErrMalformed},
		"unknown entity":    {strings.Replace(v42, "rightsmanager", "&x;", 1), ErrMalformed},
		"wrong root":        {`<WRMHEADERX version="4.2.0.0"></WRMHEADERX>`, ErrMalformed},
		"wrong root ns":     {`<WRMHEADER xmlns="urn:x" version="4.2.0.0"></WRMHEADER>`, ErrMalformed},
		"lower-case names":  {strings.Replace(v42, "VALUE=", "value=", 1), ErrMalformed},
		"two roots":         {v42 + v42, ErrMalformed},
		"text outside":      {v42 + "x", ErrMalformed},
		"truncated":         {v42[:len(v42)-3], ErrMalformed},
		"empty":             {"", ErrMalformed},
		"dup LA_URL":        {strings.Replace(v42, "<DS_ID>", "<LA_URL>http://b/</LA_URL><DS_ID>", 1), ErrMalformed},
		"dup DATA":          {strings.Replace(v42, "</WRMHEADER>", "<DATA></DATA></WRMHEADER>", 1), ErrMalformed},
		"dup KIDS":          {strings.Replace(v42, "</PROTECTINFO>", "<KIDS></KIDS></PROTECTINFO>", 1), ErrMalformed},
		"empty KIDS":        {ns + `"4.2.0.0"><DATA><PROTECTINFO><KIDS></KIDS></PROTECTINFO></DATA></WRMHEADER>`, ErrMalformed},
		"short KID":         {strings.Replace(v42, "0IbHou/5s0yzM80yOkKEpQ==", "0IbHou/5s0yzM80yOkKE", 1), ErrMalformed},
		"non-canonical b64": {strings.Replace(v42, "0IbHou/5s0yzM80yOkKEpQ==", "0IbHou/5s0yzM80yOkKEpR==", 1), ErrMalformed},
		"KID without VALUE": {strings.Replace(v42, ` VALUE="0IbHou/5s0yzM80yOkKEpQ=="`, "", 1), ErrMalformed},
		"dup attribute":     {strings.Replace(v42, `ALGID="AESCTR"`, `ALGID="AESCTR" ALGID="AESCTR"`, 1), ErrMalformed},
		"42 no ALGID":       {strings.Replace(v42, `ALGID="AESCTR" `, "", 1), ErrMalformed},
		"42 AESCBC":         {strings.Replace(strings.Replace(v42, `ALGID="AESCTR" CHECKSUM="xNvWVxoWk04="`, `ALGID="AESCBC"`, 1), `ALGID="AESCTR" CHECKSUM="GnKaQIRacPU="`, `ALGID="AESCBC"`, 1), ErrMalformed},
		"unknown ALGID":     {strings.Replace(v42, `ALGID="AESCTR"`, `ALGID="AESECB"`, 1), ErrMalformed},
		"checksum length":   {strings.Replace(v42, "xNvWVxoWk04=", "xNvWVxoW", 1), ErrMalformed},
		"43 mixed ALGID":    {strings.Replace(v43, `ALGID="AESCBC" VALUE="tuh`, `ALGID="AESCTR" VALUE="tuh`, 1), ErrMalformed},
		"43 ALGID missing":  {strings.Replace(v43, `ALGID="AESCBC" VALUE="tuh`, `VALUE="tuh`, 1), ErrMalformed},
		"43 AESCBC sum":     {strings.Replace(v43, `ALGID="AESCBC" VALUE="PV1`, `ALGID="AESCBC" CHECKSUM="xNvWVxoWk04=" VALUE="PV1`, 1), ErrMalformed},
		"43 LICREQ bad":     {strings.Replace(v43, "<PROTECTINFO>", `<PROTECTINFO LICENSEREQUESTED="yes">`, 1), ErrMalformed},
		"relative LA_URL":   {strings.Replace(v42, "http://rm.contoso.com/rightsmanager.asmx", "/rightsmanager.asmx", 1), ErrMalformed},
		"element in LA_URL": {strings.Replace(v42, "</LA_URL>", "<x></x></LA_URL>", 1), ErrMalformed},
		"DECRYPTORSETUP":    {strings.Replace(v42, "</DATA>", "<DECRYPTORSETUP>ALWAYS</DECRYPTORSETUP></DATA>", 1), ErrMalformed},
		"40 no KID":         {strings.Replace(v40, "<KID>q5HgCTj40kGeNVhTH9Gexw==</KID>", "", 1), ErrMalformed},
		"40 no PROTECTINFO": {strings.Replace(v40, "<PROTECTINFO><KEYLEN>16</KEYLEN><ALGID>AESCTR</ALGID></PROTECTINFO>", "", 1), ErrMalformed},
		"40 no KEYLEN":      {strings.Replace(v40, "<KEYLEN>16</KEYLEN>", "", 1), ErrMalformed},
		"40 KEYLEN 7":       {strings.Replace(v40, "<KEYLEN>16</KEYLEN>", "<KEYLEN>7</KEYLEN>", 1), ErrMalformed},
		"40 dup ALGID":      {strings.Replace(v40, "</PROTECTINFO>", "<ALGID>AESCTR</ALGID></PROTECTINFO>", 1), ErrMalformed},
		"40 no DATA":        {ns + `"4.0.0.0"></WRMHEADER>`, ErrMalformed},
		"40 dup KID":        {strings.Replace(v40, "<CHECKSUM>", "<KID>q5HgCTj40kGeNVhTH9Gexw==</KID><CHECKSUM>", 1), ErrMalformed},
		"41 two KIDs":       {ns + `"4.1.0.0"><DATA><PROTECTINFO><KID ALGID="AESCTR" VALUE="q5HgCTj40kGeNVhTH9Gexw=="></KID><KID ALGID="AESCTR" VALUE="q5HgCTj40kGeNVhTH9Gexw=="></KID></PROTECTINFO></DATA></WRMHEADER>`, ErrMalformed},
		"custom unbalanced": {strings.Replace(v40, "<CUSTOMATTRIBUTES>", "<CUSTOMATTRIBUTES><a>", 1), ErrMalformed},
		"invalid UTF-8":     {strings.Replace(v42, "rm.contoso", "rm.\xffcontoso", 1), ErrMalformed},
	} {
		t.Run(name, func(t *testing.T) {
			h, err := ParseHeaderXML(tc.s)
			require.ErrorIs(t, err, tc.want)
			require.Nil(t, h)
			if tc.s != "" && utf8Valid(tc.s) {
				h, err = ParseHeader(encodeUTF16LE(tc.s))
				require.ErrorIs(t, err, tc.want)
				require.Nil(t, h)
			}
		})
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func TestErrorsDoNotEchoInput(t *testing.T) {
	secret := "SECRETVALUE"
	for _, s := range []string{
		`<WRMHEADER xmlns="` + Namespace + `" version="4.2.0.0"><DATA><LA_URL>` + secret + `</LA_URL></DATA></WRMHEADER>`,
		`<WRMHEADER xmlns="` + Namespace + `" version="4.2.0.0"><DATA><` + secret + `></DATA></WRMHEADER>`,
		`<WRMHEADER xmlns="` + Namespace + `" version="` + secret + `"></WRMHEADER>`,
		`<WRMHEADER xmlns="` + Namespace + `" version="4.2.0.0"><DATA><PROTECTINFO><KIDS><KID ALGID="` + secret + `" VALUE="q5HgCTj40kGeNVhTH9Gexw=="></KID></KIDS></PROTECTINFO></DATA></WRMHEADER>`,
	} {
		_, err := ParseHeaderXML(s)
		require.Error(t, err)
		require.NotContains(t, err.Error(), secret)
	}
}

func TestUTF16Errors(t *testing.T) {
	for name, b := range map[string][]byte{
		"odd length":     {'<', 0, 'W'},
		"lone high":      {0x00, 0xD8, '<', 0},
		"lone low":       {0x00, 0xDC, '<', 0},
		"truncated pair": {'<', 0, 0x00, 0xD8},
		"NUL terminator": append(encodeUTF16LE(string(readFile(t, "header-4.2.xml"))), 0, 0),
		"too large":      make([]byte, MaxHeaderSize+2),
	} {
		h, err := ParseHeader(b)
		require.ErrorIs(t, err, ErrMalformed, name)
		require.Nil(t, h, name)
	}
	// A valid surrogate pair survives the round trip.
	s := strings.Replace(string(readFile(t, "header-4.0.xml")), "8.0.1705.19", "\U0001F600", 1)
	h, err := ParseHeader(encodeUTF16LE(s))
	require.NoError(t, err)
	require.Equal(t, "<IIS_DRM_VERSION>\U0001F600</IIS_DRM_VERSION>", h.CustomAttributes)
	u, err := h.UTF16()
	require.NoError(t, err)
	require.Equal(t, encodeUTF16LE(s), u)
}

func TestBuildRejects(t *testing.T) {
	id := kid.MustParse("q5HgCTj40kGeNVhTH9Gexw==")
	ctr := KeyInfo{ID: id, AlgID: AlgAESCTR}
	no := false
	for name, tc := range map[string]struct {
		h    Header
		want error
	}{
		"version 4.4":          {Header{Version: "4.4.0.0"}, ErrUnsupportedVersion},
		"no version":           {Header{}, ErrMalformed},
		"40 no KID":            {Header{Version: Version40}, ErrMalformed},
		"40 two KIDs":          {Header{Version: Version40, KIDs: []KeyInfo{ctr, ctr}}, ErrMalformed},
		"40 DECRYPTORSETUP":    {Header{Version: Version40, KIDs: []KeyInfo{ctr}, DecryptorSetup: "ONDEMAND"}, ErrMalformed},
		"41 two KIDs":          {Header{Version: Version41, KIDs: []KeyInfo{ctr, ctr}}, ErrMalformed},
		"42 AESCBC":            {Header{Version: Version42, KIDs: []KeyInfo{{ID: id, AlgID: AlgAESCBC}}}, ErrMalformed},
		"42 LICENSEREQUESTED":  {Header{Version: Version42, LicenseRequested: &no}, ErrMalformed},
		"43 AESCBC checksum":   {Header{Version: Version43, KIDs: []KeyInfo{{ID: id, AlgID: AlgAESCBC, Checksum: make([]byte, 8)}}}, ErrMalformed},
		"43 mixed":             {Header{Version: Version43, KIDs: []KeyInfo{ctr, {ID: id}}}, ErrMalformed},
		"empty checksum":       {Header{Version: Version42, KIDs: []KeyInfo{{ID: id, AlgID: AlgAESCTR, Checksum: []byte{}}}}, ErrMalformed},
		"cocktail checksum 8":  {Header{Version: Version42, KIDs: []KeyInfo{{ID: id, AlgID: AlgCocktail, Checksum: make([]byte, 8)}}}, ErrMalformed},
		"LA_URL spaces":        {Header{Version: Version42, LAURL: " http://a/"}, ErrMalformed},
		"LA_URL relative":      {Header{Version: Version42, LAURL: "a/b"}, ErrMalformed},
		"DS_ID control":        {Header{Version: Version42, DSID: "a\x01b"}, ErrMalformed},
		"DS_ID bad UTF-8":      {Header{Version: Version42, DSID: "a\xffb"}, ErrMalformed},
		"custom escapes":       {Header{Version: Version42, CustomAttributes: "</CUSTOMATTRIBUTES><LA_URL>x</LA_URL><CUSTOMATTRIBUTES>"}, ErrMalformed},
		"custom unclosed":      {Header{Version: Version42, CustomAttributes: "<a>"}, ErrMalformed},
		"custom whitespace":    {Header{Version: Version42, CustomAttributes: "  "}, ErrMalformed},
		"custom doctype":       {Header{Version: Version42, CustomAttributes: "<!DOCTYPE x><a></a>"}, ErrMalformed},
		"no-namespace alone":   {Header{Version: Version42, CustomAttributesNoNamespace: true}, ErrMalformed},
		"DECRYPTORSETUP value": {Header{Version: Version43, DecryptorSetup: "LATER"}, ErrMalformed},
	} {
		h := tc.h
		x, err := h.XML()
		require.ErrorIs(t, err, tc.want, name)
		require.Empty(t, x, name)
		u, err := h.UTF16()
		require.ErrorIs(t, err, tc.want, name)
		require.Nil(t, u, name)
		o, err := NewObject(&h)
		require.ErrorIs(t, err, tc.want, name)
		require.Nil(t, o, name)
	}
}

func TestBuildEscapes(t *testing.T) {
	h := &Header{
		Version: Version42,
		LAURL:   "https://a.example/x?a=1&b=<2>",
		DSID:    "line1\r\nline2\ttab",
	}
	x, err := h.XML()
	require.NoError(t, err)
	require.Contains(t, x, "<LA_URL>https://a.example/x?a=1&amp;b=&lt;2&gt;</LA_URL>")
	require.Contains(t, x, "<DS_ID>line1&#xD;\nline2\ttab</DS_ID>")
	h2, err := ParseHeaderXML(x)
	require.NoError(t, err)
	require.Equal(t, h, h2)
	require.Equal(t, `<WRMHEADER xmlns="`+Namespace+`" version="4.2.0.0"><DATA><LA_URL>https://a.example/x?a=1&amp;b=&lt;2&gt;</LA_URL><DS_ID>line1&#xD;
line2	tab</DS_ID></DATA></WRMHEADER>`, x)
}

// A COCKTAIL key in every version that allows it.
func TestCocktail(t *testing.T) {
	id := kid.MustParse("q5HgCTj40kGeNVhTH9Gexw==")
	key := mustHex("01020304050607")
	sum, err := Checksum(AlgCocktail, id, key)
	require.NoError(t, err)
	for _, v := range []string{Version40, Version41, Version42, Version43} {
		h := &Header{Version: v, KIDs: []KeyInfo{{ID: id, AlgID: AlgCocktail, Checksum: sum}}}
		x, err := h.XML()
		require.NoError(t, err, v)
		if v == Version40 {
			require.Contains(t, x, "<PROTECTINFO><KEYLEN>7</KEYLEN><ALGID>COCKTAIL</ALGID></PROTECTINFO>")
		}
		h2, err := ParseHeaderXML(x)
		require.NoError(t, err, v)
		require.Equal(t, h, h2, v)
		require.True(t, h2.KIDs[0].VerifyChecksum(key))
	}
}

// dump renders a header for the human-readable golden file.
func dump(h *Header) string {
	var b strings.Builder
	fmt.Fprintf(&b, "version: %s\n", h.Version)
	for i, k := range h.KIDs {
		fmt.Fprintf(&b, "kid[%d]: %s value=%s algid=%q checksum=%q\n", i, k.ID, k.ID.Base64GUID(), k.AlgID, b64s(k.Checksum))
	}
	for _, f := range [][2]string{{"la_url", h.LAURL}, {"lui_url", h.LUIURL}, {"ds_id", h.DSID}, {"customattributes", h.CustomAttributes}, {"decryptorsetup", h.DecryptorSetup}} {
		if f[1] != "" {
			fmt.Fprintf(&b, "%s: %q\n", f[0], f[1])
		}
	}
	if h.LicenseRequested != nil {
		fmt.Fprintf(&b, "licenserequested: %t\n", *h.LicenseRequested)
	}
	if h.CustomAttributesNoNamespace {
		b.WriteString("customattributes_no_namespace: true\n")
	}
	return b.String()
}

func b64s(b []byte) string {
	if b == nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(b)
}

func TestParsedGolden(t *testing.T) {
	names, err := filepath.Glob("testdata/*.xml")
	require.NoError(t, err)
	require.NotEmpty(t, names)
	sort.Strings(names)
	var out strings.Builder
	for _, path := range names {
		h, err := ParseHeaderXML(string(readFile(t, filepath.Base(path))))
		require.NoError(t, err, path)
		fmt.Fprintf(&out, "== %s\n%s\n", filepath.Base(path), dump(h))
	}
	golden(t, "headers.golden", []byte(out.String()))
}
