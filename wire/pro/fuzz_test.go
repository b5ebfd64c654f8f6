package pro

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// seed adds the committed corpus check and the testdata files matching
// globs; it fails the fuzz test if either source is empty, so a moved file
// cannot silently leave a target unseeded.
func seed(f *testing.F, target string, conv func([]byte) [][]byte, globs ...string) {
	f.Helper()
	corpus, err := filepath.Glob(filepath.Join("testdata", "fuzz", target, "*"))
	if err != nil || len(corpus) == 0 {
		f.Fatalf("no committed seeds under testdata/fuzz/%s", target)
	}
	n := 0
	for _, g := range globs {
		files, err := filepath.Glob(filepath.Join("testdata", g))
		if err != nil {
			f.Fatal(err)
		}
		for _, path := range files {
			b, err := os.ReadFile(path)
			if err != nil {
				f.Fatal(err)
			}
			for _, s := range conv(b) {
				f.Add(s)
				n++
			}
		}
	}
	if n == 0 {
		f.Fatalf("no testdata seeds for %s", target)
	}
}

func same(b []byte) [][]byte { return [][]byte{b} }

// psshData yields a pssh file and, if it parses, its data (a PRO).
func psshData(b []byte) [][]byte {
	out := [][]byte{b}
	if p, err := ParsePSSH(b); err == nil {
		out = append(out, p.Data)
	}
	return out
}

func FuzzParse(f *testing.F) {
	seed(f, "FuzzParse", psshData, "*.pro", "*.pssh", "pssh-*.golden")
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := Parse(b)
		if err != nil {
			require.Nil(t, o)
			return
		}
		out := o.Bytes()
		require.Equal(t, b, out)
		o2, err := Parse(out)
		require.NoError(t, err)
		require.Equal(t, o, o2)
		h, err := o.Header()
		checkHeader(t, h, err)
	})
}

func FuzzParsePSSH(f *testing.F) {
	seed(f, "FuzzParsePSSH", same, "*.pssh", "pssh-*.golden")
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePSSH(b)
		if err != nil {
			require.Nil(t, p)
			return
		}
		out := p.Bytes()
		require.Equal(t, b, out)
		p2, err := ParsePSSH(out)
		require.NoError(t, err)
		require.Equal(t, p, p2)
		h, err := ParseHeaderData(p.Data)
		checkHeader(t, h, err)
	})
}

// FuzzParseHeader feeds the input to every header entry point: as UTF-8
// XML, as UTF-16LE, and as pssh/mspr:pro data.
func FuzzParseHeader(f *testing.F) {
	seed(f, "FuzzParseHeader", func(b []byte) [][]byte {
		return [][]byte{b, encodeUTF16LE(string(b))}
	}, "*.xml")
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeaderXML(string(b))
		checkHeader(t, h, err)
		if err == nil {
			// Byte identity for canonical input: if building
			// reproduces the input, so does parse → build of that.
			x, _ := h.XML()
			if x == string(b) {
				u, err := h.UTF16()
				require.NoError(t, err)
				require.Equal(t, encodeUTF16LE(x), u)
			}
		}
		h, err = ParseHeader(b)
		checkHeader(t, h, err)
		h, err = ParseHeaderData(b)
		checkHeader(t, h, err)
	})
}

// checkHeader asserts the header contract: nil on error; otherwise the
// header builds, the built XML parses to an equal header and builds to the
// same text again (the canonical form is a fixed point), and the UTF-16LE
// form does the same.
func checkHeader(t *testing.T, h *Header, err error) {
	t.Helper()
	if err != nil {
		require.Nil(t, h)
		return
	}
	x, err := h.XML()
	require.NoError(t, err)
	h2, err := ParseHeaderXML(x)
	require.NoError(t, err)
	require.Equal(t, h, h2)
	x2, err := h2.XML()
	require.NoError(t, err)
	require.Equal(t, x, x2)
	u, err := h.UTF16()
	require.NoError(t, err)
	h3, err := ParseHeader(u)
	require.NoError(t, err)
	require.Equal(t, h, h3)
}

// TestHeaderMutations is a deterministic complement to FuzzParseHeader,
// whose byte-level mutator rarely produces well-formed XML: it deletes,
// duplicates and moves every markup piece of each testdata header and
// requires the header contract (checkHeader) for every result.
func TestHeaderMutations(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.xml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	n, ok := 0, 0
	for _, path := range files {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		src := string(b)
		var pieces []string // split before every '<'
		for i, start := 0, 0; i <= len(src); i++ {
			if i == len(src) || (src[i] == '<' && i > start) {
				pieces = append(pieces, src[start:i])
				start = i
			}
		}
		join := func(p []string) string { return strings.Join(p, "") }
		for i := range pieces {
			variants := []string{
				join(append(append([]string{}, pieces[:i]...), pieces[i+1:]...)),                         // delete
				join(append(append(append([]string{}, pieces[:i+1]...), pieces[i]), pieces[i+1:]...)),    // duplicate
				join(append(append([]string{}, pieces[:i]...), append([]string{" "}, pieces[i:]...)...)), // whitespace
			}
			for j := range pieces {
				if j != i { // move piece i before piece j
					rest := append(append([]string{}, pieces[:i]...), pieces[i+1:]...)
					k := j
					if j > i {
						k--
					}
					variants = append(variants, join(append(append(append([]string{}, rest[:k]...), pieces[i]), rest[k:]...)))
				}
			}
			for _, v := range variants {
				n++
				h, err := ParseHeaderXML(v)
				checkHeader(t, h, err)
				if err == nil {
					ok++
				}
			}
		}
	}
	t.Logf("%d variants, %d accepted", n, ok)
	require.NotZero(t, ok)
}
