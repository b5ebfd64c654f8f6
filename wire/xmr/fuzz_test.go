package xmr

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/prsim/prsim/drm"
	"github.com/stretchr/testify/require"
)

const corpusDir = "testdata/fuzz/FuzzParse"

// corpusSeeds are small edge cases committed under testdata/fuzz/FuzzParse
// (rewritten with -update). The larger licenses come from testdata/*.xmr.
func corpusSeeds(t testing.TB) map[string][]byte {
	hdr := append([]byte(magic), 0, 0, 0, 3)
	hdr = append(hdr, make([]byte, 16)...)
	mod := func(f func(*License)) []byte {
		l := mustParse(t, build(t, minimalTemplate(t)))
		f(l)
		return l.Bytes()
	}
	return map[string][]byte{
		"header-only":  hdr,
		"empty-outer":  cat(hdr, []byte{0, 3, 0, 1, 0, 0, 0, 8}),
		"depth-5":      mod(addGlobal(nest(3))),
		"unknown-e":    mod(addGlobal(NewContainer(flagsCE, 0x7F10, NewLeaf(FlagMustUnderstand, 0x7F11, []byte{1})))),
		"unknown-skip": mod(addPlayback(NewLeaf(0, 0x7F12, []byte{1, 2, 3}))),
		"v1-minenv": mod(both(setVersion(1), func(l *License) { remove(find(l, TypeGlobalPolicyContainer), TypeSecurityLevel) },
			addGlobal(minEnv(150, 7, 9)))),
		"securestop2": func() []byte {
			tp := minimalTemplate(t)
			tp.SecureStopID, tp.SecureStop2Key = &[16]byte{0x5a}, &[16]byte{0x5c}
			return build(t, tp)
		}(),
		"hmac-sig": mod(func(l *License) {
			l.Outer.Children[len(l.Outer.Children)-1].Body = cat(be16(2), be16(32), make([]byte, 32))
		}),
	}
}

func TestFuzzCorpus(t *testing.T) {
	for name, b := range corpusSeeds(t) {
		path := filepath.Join(corpusDir, name)
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(b)))
		if *update {
			require.NoError(t, os.MkdirAll(corpusDir, 0o755))
			require.NoError(t, os.WriteFile(path, []byte(want), 0o644))
		}
		got, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, want, string(got), "rerun with -update if the change is intended")
	}
}

// FuzzParse checks that Parse never panics, returns nil on error, and that
// a parsed license re-encodes to the same bytes and parses again. Seeds:
// testdata/*.xmr (added here) and testdata/fuzz/FuzzParse (loaded by go
// test).
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/*.xmr")
	if err != nil {
		f.Fatal(err)
	}
	corpus, err := filepath.Glob(filepath.Join(corpusDir, "*"))
	if err != nil {
		f.Fatal(err)
	}
	if len(files) == 0 || len(corpus) == 0 {
		f.Fatal("no fuzz seeds found in testdata/*.xmr or " + corpusDir)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	ci := bytes.Repeat([]byte{1}, 16)
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := Parse(b)
		if err != nil {
			require.Nil(t, l)
			require.ErrorIs(t, err, drm.ErrInvalidLicense)
		} else {
			out := l.Bytes()
			require.Equal(t, b, out)
			l2, err := Parse(out)
			require.NoError(t, err)
			require.Equal(t, out, l2.Bytes())
			_ = l.Dump()
			_ = l.Policy()
			_ = l.KeyMaterial()
			_, _ = l.DeviceKey()
			_ = l.Persistent()
			ck, err := l.ContentKey()
			require.NoError(t, err)
			require.NotNil(t, ck)
			require.NotNil(t, l.SignedBytes())
			require.Error(t, l.VerifySignature(ci))
		}
		_ = Sign(bytes.Clone(b), ci)
	})
}
