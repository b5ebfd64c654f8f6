package store

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestServerOrigins(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "store.db"))
	require.NoError(t, err)
	defer s.Close()
	none, err := s.ServerOrigins()
	require.NoError(t, err)
	require.Empty(t, none)
	require.NoError(t, s.PutServerCert("http://127.0.0.1:2", []byte("B")))
	require.NoError(t, s.PutServerCert("http://127.0.0.1:1", []byte("A")))
	got, err := s.ServerOrigins()
	require.NoError(t, err)
	require.Equal(t, []string{"http://127.0.0.1:1", "http://127.0.0.1:2"}, got)

	require.NoError(t, s.Close())
	_, err = s.ServerOrigins()
	require.ErrorIs(t, err, ErrClosed)
}
