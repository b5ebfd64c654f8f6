package pki_test

import (
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/internal/pki"
)

func TestLoadMissingAndExists(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	_, err := pki.Load(dir)
	require.ErrorIs(t, err, fs.ErrNotExist)
	var nf *pki.NotFoundError
	require.True(t, errors.As(err, &nf))
	require.Equal(t, dir, nf.Dir)
	require.Contains(t, err.Error(), dir)

	ok, err := pki.Exists(dir)
	require.NoError(t, err)
	require.False(t, ok)

	p, err := pki.Generate(rand.Reader, time.Now())
	require.NoError(t, err)
	require.NoError(t, p.Save(dir))
	ok, err = pki.Exists(dir)
	require.NoError(t, err)
	require.True(t, ok)

	// Part of a PKI counts: Save would replace it.
	part := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(part, "model-2000.key"), nil, 0o600))
	ok, err = pki.Exists(part)
	require.NoError(t, err)
	require.True(t, ok)
}
