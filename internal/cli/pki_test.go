package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/internal/pki"
	"github.com/prsim/prsim/wire/revocation"
	"github.com/prsim/prsim/wire/soap"
)

// run runs prsim in-process and returns its exit code and stdout.
func runPrsim(t *testing.T, args ...string) (int, []byte) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(context.Background(), args, &out, &errOut)
	return code, out.Bytes()
}

func TestPKIRevokeAndCRL(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pkiDir := filepath.Join(dir, "pki")
	code, _ := runPrsim(t, "pki", "init", "--dir", pkiDir)
	require.Equal(t, ExitOK, code)
	for _, f := range []string{"revocation.json", "revinfo2.bin", "runtime.crl", "app.crl"} {
		require.FileExists(t, filepath.Join(pkiDir, f), "pki init writes the initial lists")
	}
	p, err := pki.Load(pkiDir)
	require.NoError(t, err)

	var crl pkiCRLJSON
	code, out := runPrsim(t, "pki", "crl", "--pki", pkiDir, "--json")
	require.Equal(t, ExitOK, code, string(out))
	require.NoError(t, json.Unmarshal(out, &crl))
	require.Equal(t, uint32(1), crl.RIV, "pki init writes RIV 1")
	require.Len(t, crl.Lists, 3)
	require.Equal(t, "runtime", crl.Lists[1].Name)
	require.Equal(t, uint64(1), crl.Lists[1].Version)
	require.Empty(t, crl.Lists[1].Entries)
	require.Equal(t, hex.EncodeToString(p.Root[:]), crl.RootKey)

	// A fake device directory: only tee.chain is read.
	devDir := filepath.Join(dir, "dev")
	require.NoError(t, os.MkdirAll(devDir, 0o700))
	devChain := p.Models[150].Chain.Bytes() // its leaf stands in for a device leaf
	dj, err := json.Marshal(map[string]any{"tee": map[string]any{"chain": devChain, "sign_key": "c2VjcmV0"}})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(devDir, "device.json"), dj, 0o600))
	other := sha256.Sum256([]byte("some certificate"))

	for i, args := range [][]string{
		{"--model", "sl2000"},
		{"--device", devDir},
		{"--cert-digest", base64.StdEncoding.EncodeToString(other[:])},
	} {
		var r pkiRevokeJSON
		code, out := runPrsim(t, append([]string{"pki", "revoke", "--pki", pkiDir, "--json"}, args...)...)
		require.Equal(t, ExitOK, code, string(out))
		require.NoError(t, json.Unmarshal(out, &r))
		require.Equal(t, pkiRevokeJSON{CRLVersion: uint32(i + 2), RIV: uint32(i + 2)}, r)
		var raw map[string]any
		require.NoError(t, json.Unmarshal(out, &raw))
		require.Len(t, raw, 2, "exactly crl_version and riv")
	}

	code, out = runPrsim(t, "pki", "crl", "--pki", pkiDir, "--json")
	require.Equal(t, ExitOK, code)
	require.NoError(t, json.Unmarshal(out, &crl))
	require.Equal(t, uint32(4), crl.RIV)
	d2000 := p.Models[2000].Chain.Leaf().Basic().Digest
	d150 := p.Models[150].Chain.Leaf().Basic().Digest
	require.Equal(t, []string{b64(d2000[:]), b64(d150[:]), b64(other[:])}, crl.Lists[1].Entries)
	for _, l := range crl.Lists {
		require.True(t, l.SignatureValid, l.Name)
		require.True(t, l.Trusted, l.Name)
		require.Equal(t, crl.RootKey, *l.RootKey)
	}
	require.Equal(t, "Ef/RUojT3U6Ct2jqTCChbA==", crl.Lists[0].IDBase64)
	require.Equal(t, []listRefJSON{listRef(revocation.ListRuntime, 4), listRef(revocation.ListApp, 1)}, crl.Lists[0].Lists)

	// Usage errors.
	for _, args := range [][]string{
		{"pki", "revoke", "--pki", pkiDir},
		{"pki", "revoke", "--pki", pkiDir, "--model", "sl2000", "--cert-digest", b64(other[:])},
		{"pki", "revoke", "--pki", pkiDir, "--model", "2000"},
		{"pki", "revoke", "--pki", pkiDir, "--cert-digest", "c2hvcnQ="},
		{"pki", "revoke", "--pki", pkiDir, "--device", filepath.Join(dir, "none")},
	} {
		code, _ := runPrsim(t, args...)
		require.NotEqual(t, ExitOK, code, args)
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func TestInspectRevocation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pkiDir := filepath.Join(dir, "pki")
	code, _ := runPrsim(t, "pki", "init", "--dir", pkiDir)
	require.Equal(t, ExitOK, code)
	other := sha256.Sum256([]byte("x"))
	code, _ = runPrsim(t, "pki", "revoke", "--pki", pkiDir, "--cert-digest", b64(other[:]))
	require.Equal(t, ExitOK, code)
	root := filepath.Join(pkiDir, "root.pub")

	var j revListJSON
	code, out := runPrsim(t, "inspect", "crl", filepath.Join(pkiDir, "runtime.crl"), "--root", root, "--json")
	require.Equal(t, ExitOK, code, string(out))
	require.NoError(t, json.Unmarshal(out, &j))
	require.Equal(t, "crl", j.Kind)
	require.Equal(t, uint64(2), j.Version)
	require.Equal(t, []string{b64(other[:])}, j.Entries)
	require.True(t, j.SignatureValid)
	require.True(t, j.Trusted)

	code, out = runPrsim(t, "inspect", "revinfo", filepath.Join(pkiDir, "revinfo2.bin"), "--json")
	require.Equal(t, ExitOK, code, string(out))
	require.NoError(t, json.Unmarshal(out, &j))
	require.Equal(t, uint32(2), *j.RIV)
	require.True(t, j.SignatureValid)
	require.False(t, j.Trusted, "no --root: checked against the chain's own root")

	// A list from another PKI does not verify against this root.
	other2 := filepath.Join(dir, "pki2")
	code, _ = runPrsim(t, "pki", "init", "--dir", other2)
	require.Equal(t, ExitOK, code)
	code, out = runPrsim(t, "inspect", "crl", filepath.Join(other2, "runtime.crl"), "--root", root, "--json")
	require.Equal(t, ExitOK, code)
	require.NoError(t, json.Unmarshal(out, &j))
	require.False(t, j.SignatureValid)
	require.False(t, j.Trusted)
	require.NotNil(t, j.SignatureError)

	// Tampered entry: parses, does not verify.
	blob, err := os.ReadFile(filepath.Join(pkiDir, "runtime.crl"))
	require.NoError(t, err)
	blob[30] ^= 1
	bad := filepath.Join(dir, "bad.crl")
	require.NoError(t, os.WriteFile(bad, blob, 0o644))
	code, out = runPrsim(t, "inspect", "crl", bad, "--json")
	require.Equal(t, ExitOK, code)
	require.NoError(t, json.Unmarshal(out, &j))
	require.False(t, j.SignatureValid)
	require.Contains(t, *j.SignatureError, "DRM_E_INVALID_SIGNATURE")

	// Not a list at all.
	code, _ = runPrsim(t, "inspect", "revinfo", bad, "--json")
	require.NotEqual(t, ExitOK, code)

	// A response carrying the lists.
	p, err := pki.Load(pkiDir)
	require.NoError(t, err)
	l, err := pki.Lists(pkiDir)
	require.NoError(t, err)
	resp, err := soap.BuildResponse(&soap.Response{SigningChain: p.Server.Chain.Bytes(), RevInfo: []soap.Revocation{
		{ListID: revocation.ListRevInfo2.GUID(), Data: l.RevInfoBlob},
		{ListID: revocation.ListRuntime.GUID(), Data: l.RuntimeBlob},
		{ListID: revocation.ListApp.GUID(), Data: l.RuntimeBlob}, // delivered under the wrong ID
		{ListID: revocation.ListWMDRMNET.GUID(), Data: []byte{1, 2, 3}},
	}}, pki.KeySigner{Key: p.Server.SignKey})
	require.NoError(t, err)
	rf := filepath.Join(dir, "resp.xml")
	require.NoError(t, os.WriteFile(rf, resp, 0o644))
	var rj responseJSON
	code, out = runPrsim(t, "inspect", "response", rf, "--root", root, "--json")
	require.Equal(t, ExitOK, code, string(out))
	require.NoError(t, json.Unmarshal(out, &rj))
	require.Len(t, rj.Revocation, 4)
	require.Equal(t, "revinfo2", rj.Revocation[0].Kind)
	require.Equal(t, uint64(2), rj.Revocation[0].Version)
	require.True(t, rj.Revocation[0].Trusted)
	require.Equal(t, "runtime", rj.Revocation[1].Name)
	require.True(t, rj.Revocation[1].SignatureValid)
	require.False(t, rj.Revocation[2].SignatureValid, "a runtime CRL under the app ListID")
	require.Equal(t, "wmdrmnet", rj.Revocation[3].Kind)
	require.False(t, rj.Revocation[3].SignatureValid)
}

// TestLocalFilesBounded: files named on the command line are read with a
// bound, so /dev/zero (or any huge file) is refused instead of filling
// memory; a device.json that is not a regular file is refused, not read.
func TestLocalFilesBounded(t *testing.T) {
	t.Parallel()
	_, err := inspectRoots("/dev/zero")
	require.Error(t, err)
	require.True(t, errors.As(err, new(usageError)))
	require.ErrorContains(t, err, "input too large")

	_, err = readInput(nil, "/dev/zero")
	require.ErrorContains(t, err, "input too large")

	dev := t.TempDir()
	require.NoError(t, os.Symlink("/dev/zero", filepath.Join(dev, "device.json")))
	_, err = deviceLeafDigest(dev)
	require.ErrorContains(t, err, "not a regular file")
}
