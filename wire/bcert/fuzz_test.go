package bcert

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/stretchr/testify/require"
)

// seedCount returns how many committed corpus files testdata/fuzz/name holds;
// the go tool loads them itself, this only guards against an empty corpus.
func seedCount(f *testing.F, name string) int {
	entries, err := os.ReadDir(filepath.Join("testdata", "fuzz", name))
	if err != nil {
		return 0
	}
	return len(entries)
}

func goldenBytes(f *testing.F) []byte {
	b, err := os.ReadFile(goldenChain)
	if err != nil {
		f.Fatalf("reading golden chain: %v", err)
	}
	return b
}

// exercise runs the read-only API on a parsed certificate: nothing may panic.
func exercise(c *Cert) {
	_ = c.Basic()
	_ = c.Keys()
	_, _ = c.KeyWithUsage(KeyUsageSign)
	_ = c.Features()
	_, _ = c.Manufacturer()
	_, _ = c.Device()
	_, _ = c.ServerWarningDays()
	_, _ = c.SecurityVersion()
	_, _, _ = c.SignatureInfo()
	_ = c.Dump()
}

func FuzzParseChain(f *testing.F) {
	n := seedCount(f, "FuzzParseChain")
	gold := goldenBytes(f)
	f.Add(gold)
	if n == 0 || len(gold) == 0 {
		f.Fatal("no seeds for FuzzParseChain")
	}
	root := ecc.Point(gold[len(gold)-64:]) // the golden root's own key closes the chain
	f.Fuzz(func(t *testing.T, b []byte) {
		ch, err := ParseChain(b)
		if err != nil {
			require.Nil(t, ch)
			_, ok := drm.CodeOf(err)
			require.True(t, ok, "parse errors carry a drm code")
			return
		}
		out := ch.Bytes()
		require.Equal(t, b, out)
		again, err := ParseChain(out)
		require.NoError(t, err)
		require.Equal(t, out, again.Bytes())
		for _, c := range ch.Certs {
			exercise(c)
		}
		_ = ch.Dump()
		_ = ch.Verify(VerifyOptions{Roots: []ecc.Point{root}, CurrentTime: verifyTime})
	})
}

func FuzzParseCert(f *testing.F) {
	n := seedCount(f, "FuzzParseCert")
	ch, err := ParseChain(goldenBytes(f))
	if err != nil {
		f.Fatalf("golden chain: %v", err)
	}
	for _, c := range ch.Certs {
		f.Add(c.Bytes())
	}
	if n == 0 || len(ch.Certs) == 0 {
		f.Fatal("no seeds for FuzzParseCert")
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCert(b)
		if err != nil {
			require.Nil(t, c)
			_, ok := drm.CodeOf(err)
			require.True(t, ok, "parse errors carry a drm code")
			return
		}
		out := c.Bytes()
		require.Equal(t, b, out)
		again, err := ParseCert(out)
		require.NoError(t, err)
		require.Equal(t, out, again.Bytes())
		exercise(c)
	})
}
