package ree_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/ree"
)

// FuzzHeadersFromMPD: manifests are untrusted input. Seeds: the generated
// test manifests in testdata and the committed corpus (one-byte-gt, text-gt
// and gt-in-title hung dash-mpd's XML decoder before ree checked manifests
// with encoding/xml and escaped '>' in text; see ree/hostile.go).
func FuzzHeadersFromMPD(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.mpd")
	corpus, _ := filepath.Glob("testdata/fuzz/FuzzHeadersFromMPD/*")
	if len(files) == 0 || len(corpus) == 0 {
		f.Fatal("no seeds: testdata/*.mpd and testdata/fuzz/FuzzHeadersFromMPD must be committed")
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		hs, err := ree.HeadersFromMPD(b)
		if err != nil {
			require.Nil(t, hs)
			// The parser watchdog firing means a loop the guards missed.
			require.NotContains(t, err.Error(), "did not finish")
			return
		}
		require.NotEmpty(t, hs)
		for _, h := range hs {
			_, err := h.XML() // every returned header must rebuild
			require.NoError(t, err)
		}
	})
}
