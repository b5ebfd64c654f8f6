package store

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/wire/kid"
)

func TestLicensesRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := Open(path)
	require.NoError(t, err)
	a := License{KID: kid.MustParse("10000000-1000-1000-1000-100000000001"), LID: [16]byte{1}, Stored: time.Unix(1700000000, 5).UTC(), XMR: []byte("XMR\x00one")}
	b := License{KID: kid.MustParse("20000000-1000-1000-1000-100000000001"), LID: [16]byte{2}, Stored: time.Unix(1700000001, 0).UTC(), XMR: []byte("XMR\x00two")}
	require.NoError(t, s.PutLicense(b))
	require.NoError(t, s.PutLicense(a))
	require.NoError(t, s.PutServerCert("http://127.0.0.1:1", []byte("CHAI")))
	require.NoError(t, s.Close())

	s, err = Open(path)
	require.NoError(t, err)
	defer s.Close()
	all, err := s.Licenses()
	require.NoError(t, err)
	require.Equal(t, []License{a, b}, all)
	one, err := s.LicensesFor(b.KID)
	require.NoError(t, err)
	require.Equal(t, []License{b}, one)
	cert, err := s.ServerCert("http://127.0.0.1:1")
	require.NoError(t, err)
	require.Equal(t, []byte("CHAI"), cert)
	none, err := s.ServerCert("http://other")
	require.NoError(t, err)
	require.Nil(t, none)

	require.NoError(t, s.DeleteLicense(a.KID, a.LID))
	all, err = s.Licenses()
	require.NoError(t, err)
	require.Equal(t, []License{b}, all)
}

func TestDecodeRejects(t *testing.T) {
	for _, b := range [][]byte{nil, {1}, bytes.Repeat([]byte{2}, 50)} {
		l, err := decodeLicense(b)
		require.ErrorIs(t, err, ErrCorrupt)
		require.Nil(t, l)
	}
}

func FuzzDecodeLicense(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/fuzz/FuzzDecodeLicense/*")
	if len(seeds) == 0 {
		f.Fatal("no committed seeds under testdata/fuzz/FuzzDecodeLicense")
	}
	l := License{KID: kid.ID{9}, LID: [16]byte{8}, Stored: time.Unix(1, 0).UTC(), XMR: []byte("XMR\x00")}
	f.Add(l.encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := decodeLicense(b)
		if err != nil {
			require.Nil(t, l)
			return
		}
		require.Equal(t, b, l.encode())
	})
}
