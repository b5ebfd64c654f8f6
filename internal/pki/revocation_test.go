package pki

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/wire/revocation"
)

func savedPKI(t *testing.T) (*PKI, string) {
	t.Helper()
	p := generate(t, 7)
	dir := filepath.Join(t.TempDir(), "pki")
	require.NoError(t, p.Save(dir))
	return p, dir
}

func TestInitListsAndLists(t *testing.T) {
	p, dir := savedPKI(t)
	require.NoError(t, p.InitLists(dir, now.Add(1500*time.Millisecond)))
	l, err := Lists(dir)
	require.NoError(t, err)
	require.Equal(t, uint32(1), l.RevInfo.RIV)
	require.True(t, now.Add(time.Second).Equal(l.RevInfo.Issued), "issued %v (whole seconds)", l.RevInfo.Issued)
	require.Equal(t, uint32(1), l.Runtime.Version)
	require.Empty(t, l.Runtime.Entries)
	require.Equal(t, uint32(1), l.App.Version)
	require.Equal(t, p.Root, l.Root)
	v, ok := l.Version(revocation.ListRevInfo2)
	require.True(t, ok)
	require.Equal(t, uint64(1), v)
	_, ok = l.Version(revocation.ListWMDRMNET)
	require.False(t, ok)
	require.Nil(t, l.Blob(revocation.ListWMDRMNET))
	require.Equal(t, l.RuntimeBlob, l.Blob(revocation.ListRuntime))
	ri, err := revocation.ParseRevInfo(l.Blob(revocation.ListRevInfo2))
	require.NoError(t, err)
	rv, _ := ri.Version(revocation.ListRuntime)
	require.Equal(t, uint64(1), rv)

	var st map[string]any
	b, err := os.ReadFile(filepath.Join(dir, "revocation.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &st))
	require.Equal(t, float64(1), st["riv"])
	require.Equal(t, []any{}, st["runtime"].(map[string]any)["entries"])
}

func TestListsCreatesForOldPKI(t *testing.T) {
	_, dir := savedPKI(t)
	mt := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	require.NoError(t, os.Chtimes(filepath.Join(dir, "root.pub"), mt, mt))
	l, err := Lists(dir)
	require.NoError(t, err)
	require.Equal(t, uint32(1), l.RevInfo.RIV)
	require.True(t, mt.Equal(l.RevInfo.Issued))
	for _, f := range []string{"revocation.json", "revinfo2.bin", "runtime.crl", "app.crl"} {
		require.FileExists(t, filepath.Join(dir, f))
	}
	again, err := Lists(dir)
	require.NoError(t, err)
	require.Equal(t, l.RevInfoBlob, again.RevInfoBlob)
}

func TestRevoke(t *testing.T) {
	p, dir := savedPKI(t)
	require.NoError(t, p.InitLists(dir, now))
	leaf := p.Models[2000].Chain.Leaf().Basic().Digest
	other := sha256.Sum256([]byte("another certificate"))

	v, riv, err := Revoke(dir, leaf, now.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, uint32(2), v)
	require.Equal(t, uint32(2), riv)

	v, riv, err = Revoke(dir, other, now.Add(2*time.Hour))
	require.NoError(t, err)
	require.Equal(t, uint32(3), v)
	require.Equal(t, uint32(3), riv)

	// Already listed: nothing changes.
	before, err := os.ReadFile(filepath.Join(dir, "revinfo2.bin"))
	require.NoError(t, err)
	v, riv, err = Revoke(dir, leaf, now.Add(3*time.Hour))
	require.NoError(t, err)
	require.Equal(t, uint32(3), v)
	require.Equal(t, uint32(3), riv)
	after, err := os.ReadFile(filepath.Join(dir, "revinfo2.bin"))
	require.NoError(t, err)
	require.Equal(t, before, after)

	l, err := Lists(dir)
	require.NoError(t, err)
	require.True(t, l.Runtime.Revoked(leaf))
	require.True(t, l.Runtime.Revoked(other))
	require.False(t, l.Runtime.Revoked(p.Models[150].Chain.Leaf().Basic().Digest))
	require.Equal(t, uint32(3), l.RevInfo.RIV)
	require.True(t, now.Add(2*time.Hour).Equal(l.RevInfo.Issued))
	rv, _ := l.RevInfo.Version(revocation.ListRuntime)
	require.Equal(t, uint64(3), rv)
	require.Equal(t, uint32(1), l.App.Version)
	_, err = l.Runtime.Verify([]ecc.Point{p.Root}, now)
	require.NoError(t, err)
}

func TestListsRefusesTamperedAndTorn(t *testing.T) {
	p, dir := savedPKI(t)
	require.NoError(t, p.InitLists(dir, now))
	orig, err := os.ReadFile(filepath.Join(dir, "runtime.crl"))
	require.NoError(t, err)

	bad := append([]byte(nil), orig...)
	bad[19] ^= 1 // the version's low byte: the signature no longer covers it
	require.NoError(t, os.WriteFile(filepath.Join(dir, "runtime.crl"), bad, 0o644))
	_, err = Lists(dir)
	require.ErrorIs(t, err, drm.ErrInvalidSignature)

	// A newer, correctly signed CRL the RevInfo does not name yet (a
	// revocation half written) is refused too.
	c := &revocation.CRL{ID: revocation.ListRuntime, Version: 2}
	blob, err := c.Sign(p.CRLSigner.Signer(), p.CRLSigner.Chain.Bytes())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "runtime.crl"), blob, 0o644))
	_, err = Lists(dir)
	require.ErrorIs(t, err, drm.ErrInvalidRevocationList)
	require.Contains(t, err.Error(), "retry")

	// Lists signed under another root do not load.
	q := generate(t, 8)
	require.NoError(t, q.InitLists(dir, now))
	_, err = Lists(dir)
	require.Error(t, err)
}

func TestParseDigest(t *testing.T) {
	d := sha256.Sum256([]byte("x"))
	for _, s := range []string{base64.StdEncoding.EncodeToString(d[:]), base64.RawURLEncoding.EncodeToString(d[:])} {
		got, err := ParseDigest(s)
		require.NoError(t, err)
		require.Equal(t, d, got)
	}
	_, err := ParseDigest(base64.StdEncoding.EncodeToString(d[:31]))
	require.Error(t, err)
	_, err = ParseDigest("not base64!")
	require.Error(t, err)
}
