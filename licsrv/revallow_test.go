package licsrv

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// sampleRevAllow is the Server SDK documentation's example (the seed
// document of issue 10), kept as printed there: an upper-case ENCODING
// attribute and hashes whose case the page lost (they still decode to 32
// bytes).
const sampleRevAllow = `<?xml version="1.0" ENCODING="utf-8"?>
   <RevAllowInfo>
      <AllowList>
         <CertificateHash>2C4OCYBGE3XZ3ODIUVUWD0SVLWH4W1NX9EA5DMJZ/PK=</CertificateHash>
         <CertificateHash>9OHU9A1KAJYI9BUWQWAVXBOO7R4XS+GG8HV0ESDBTNW=</CertificateHash>
      </AllowList>
   </RevAllowInfo>
`

func TestParseRevAllow(t *testing.T) {
	ds, err := parseRevAllow([]byte(sampleRevAllow))
	require.NoError(t, err)
	require.Len(t, ds, 2)
	for i, s := range []string{"2C4OCYBGE3XZ3ODIUVUWD0SVLWH4W1NX9EA5DMJZ/PK=", "9OHU9A1KAJYI9BUWQWAVXBOO7R4XS+GG8HV0ESDBTNW="} {
		want, err := base64.StdEncoding.DecodeString(s)
		require.NoError(t, err)
		require.Equal(t, want, ds[i][:])
	}

	ds, err = parseRevAllow([]byte("<RevAllowInfo/>"))
	require.NoError(t, err)
	require.Empty(t, ds, "an empty allow list allows nothing")
	ds, err = parseRevAllow([]byte("<RevAllowInfo><AllowList/><AllowList><CertificateHash>" + strings.Repeat("A", 43) + "=</CertificateHash></AllowList><!-- c --></RevAllowInfo>"))
	require.NoError(t, err)
	require.Equal(t, [][32]byte{{}}, ds)

	hash := "<CertificateHash>" + strings.Repeat("A", 43) + "=</CertificateHash>"
	for _, c := range []struct{ doc, want string }{
		{"", "no RevAllowInfo element"},
		{"<?xml version=\"1.0\"?>", "no RevAllowInfo element"},
		{"<RevAllowInfo>", "not well-formed XML"},
		{"<Allow/>", `unexpected element "Allow" (line 1)`},
		{"<RevAllowInfo/><RevAllowInfo/>", `unexpected element "RevAllowInfo"`},
		{"<RevAllowInfo>" + hash + "</RevAllowInfo>", `unexpected element "CertificateHash"`},
		{"<RevAllowInfo><AllowList><CertificateHash><x/></CertificateHash></AllowList></RevAllowInfo>", `unexpected element "x"`},
		{"<RevAllowInfo>\n<AllowList>text</AllowList></RevAllowInfo>", "unexpected text (line 2)"},
		{"<!DOCTYPE x [<!ENTITY e \"AAAA\">]><RevAllowInfo/>", "DOCTYPE and entities are not allowed"},
		{"<RevAllowInfo><AllowList>" + hash + "<CertificateHash>AAAA</CertificateHash></AllowList></RevAllowInfo>",
			"CertificateHash 2 (line 1) is not the base64 of a 32-byte SHA-256 digest"},
		{"<RevAllowInfo><AllowList><CertificateHash>not base64!</CertificateHash></AllowList></RevAllowInfo>", "CertificateHash 1"},
		{"<RevAllowInfo><AllowList><CertificateHash>" + strings.Repeat("A", 200) + "</CertificateHash></AllowList></RevAllowInfo>", "is too long"},
	} {
		ds, err := parseRevAllow([]byte(c.doc))
		require.ErrorContains(t, err, c.want, "%q", c.doc)
		require.Nil(t, ds)
		require.NotContains(t, err.Error(), "not base64!", "errors never echo the file")
	}

	var b strings.Builder
	b.WriteString("<RevAllowInfo><AllowList>")
	for range maxRevAllowEntries + 1 {
		b.WriteString(hash)
	}
	b.WriteString("</AllowList></RevAllowInfo>")
	_, err = parseRevAllow([]byte(b.String()))
	require.ErrorContains(t, err, "more than 10000 CertificateHash entries")
}

func TestLoadRevAllow(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "allow.xml")
	require.NoError(t, os.WriteFile(p, []byte(sampleRevAllow), 0o600))
	set, err := loadRevAllow(p)
	require.NoError(t, err)
	require.Len(t, set, 2)

	big := filepath.Join(dir, "big.xml")
	require.NoError(t, os.WriteFile(big, []byte("<RevAllowInfo>"+strings.Repeat(" ", maxRevAllowBytes)+"</RevAllowInfo>"), 0o600))
	_, err = loadRevAllow(big)
	require.ErrorContains(t, err, "larger than 1048576 bytes")
	_, err = loadRevAllow(filepath.Join(dir, "missing.xml"))
	require.ErrorContains(t, err, "allow list: open")
}

// FuzzParseRevAllow: the allow file is re-read on every reload from a path
// others may write; no input may panic, and an accepted one yields only
// 32-byte digests from well-formed CertificateHash elements.
func FuzzParseRevAllow(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/fuzz/FuzzParseRevAllow/*")
	if len(seeds) == 0 {
		f.Fatal("no committed seeds under testdata/fuzz/FuzzParseRevAllow")
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ds, err := parseRevAllow(b)
		if err != nil {
			require.Nil(t, ds)
			require.LessOrEqual(t, len(err.Error()), 200)
			return
		}
		require.LessOrEqual(t, len(ds), maxRevAllowEntries)
		require.Contains(t, string(b), "RevAllowInfo")
		if len(ds) > 0 {
			require.Contains(t, string(b), "CertificateHash")
		}
	})
}
