package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/pki"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/pro"
)

// The revocation flags are checked before the server starts.
func TestServerRevocationFlagsRejected(t *testing.T) {
	dir := t.TempDir()
	pkiDir := filepath.Join(dir, "pki")
	require.Equal(t, ExitOK, Main(context.Background(), []string{"pki", "init", "--dir", pkiDir}, io.Discard, io.Discard))
	for _, c := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"--revocation-reload", "0s"}, "--revocation-reload 0s: want a positive duration of at most 168h (a week)", ExitUsage},
		{[]string{"--revocation-reload", "169h"}, "--revocation-reload 169h0m0s", ExitUsage},
		{[]string{"--rev-allow", filepath.Join(dir, "missing.xml")}, "allow list: open", ExitUsage},
	} {
		var stderr bytes.Buffer
		args := append([]string{"server", "--pki", pkiDir, "--data", filepath.Join(dir, "data")}, c.args...)
		code := Main(context.Background(), args, io.Discard, &stderr)
		require.Equal(t, c.code, code, stderr.String())
		require.Contains(t, stderr.String(), c.want)
	}
}

// End to end: a device is served; the authority revokes it (pki.Revoke, as
// prsim pki revoke does); at the next reload the server refuses it with
// DRM_E_DEVCERT_REVOKED; its model's digest in the --rev-allow file makes
// the server serve it again. --revocation-reload 1ms reloads before every
// request: nothing waits for it.
func TestServerRevocationEndToEnd(t *testing.T) {
	dir := t.TempDir()
	pkiDir, devDir := filepath.Join(dir, "pki"), filepath.Join(dir, "dev")
	require.Equal(t, ExitOK, Main(context.Background(), []string{"pki", "init", "--dir", pkiDir}, io.Discard, io.Discard))
	var out bytes.Buffer
	require.Equal(t, ExitOK, Main(context.Background(), []string{"device", "new", "--pki", pkiDir, "--dir", devDir, "--sl", "3000", "--tpm", "soft"},
		&out, &out), out.String())
	allow := filepath.Join(dir, "allow.xml")
	writeAllowFile(t, allow)
	base, stderr := runServer(t, pkiDir, filepath.Join(dir, "data"), "--rev-allow", allow, "--revocation-reload", "1ms", "--log-format", "json")
	require.Contains(t, stderr.String(), `"msg":"revocation lists loaded","riv":1,"lists":"revinfo2=1 app=1 runtime=1","allowed":0`)

	h := &pro.Header{Version: "4.2.0.0", KIDs: []pro.KeyInfo{{ID: kid.MustParse("40000000-4000-4000-4000-400000000001"), AlgID: "AESCTR"}}}
	x, err := h.XML()
	require.NoError(t, err)
	header := filepath.Join(dir, "header.xml")
	require.NoError(t, os.WriteFile(header, []byte(x), 0o600))
	acquire := func() (int, string) {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), []string{"license", "acquire", "--dev", devDir, "--header", header,
			"--url", base + "/rightsmanager.asmx", "--json"}, &out, &errOut)
		return code, out.String() + errOut.String()
	}
	code, msg := acquire()
	require.Equal(t, ExitOK, code, msg)
	// The response brought the lists the challenge advertised as absent.
	status := func() (st struct {
		RIV   uint32
		Lists []struct {
			ID, Name string
			Version  uint64
		}
	}) {
		var out bytes.Buffer
		require.Equal(t, ExitOK, Main(context.Background(), []string{"revocation", "status", "--dev", devDir, "--json"}, &out, io.Discard))
		require.NoError(t, json.Unmarshal(out.Bytes(), &st))
		return st
	}
	st := status()
	require.EqualValues(t, 1, st.RIV)
	require.Len(t, st.Lists, 4)

	out.Reset()
	require.Equal(t, ExitOK, Main(context.Background(), []string{"device", "info", "--dir", devDir, "--json"}, &out, io.Discard))
	var info struct{ Digest string }
	require.NoError(t, json.Unmarshal(out.Bytes(), &info))
	leaf, err := hex.DecodeString(info.Digest)
	require.NoError(t, err)
	_, riv, err := pki.Revoke(pkiDir, [32]byte(leaf), time.Now())
	require.NoError(t, err)
	require.Equal(t, uint32(2), riv)

	code, msg = acquire()
	require.Equal(t, ExitDRM, code, msg)
	require.Contains(t, msg, drm.ErrDevCertRevoked.String())
	require.Contains(t, msg, "the leaf certificate (digest "+base64.StdEncoding.EncodeToString(leaf)+")")

	p, err := pki.Load(pkiDir)
	require.NoError(t, err)
	m, err := p.Model(3000)
	require.NoError(t, err)
	model := m.Chain.Leaf().Basic().Digest
	writeAllowFile(t, allow, model)
	code, msg = acquire()
	require.Equal(t, ExitOK, code, msg)
	require.Contains(t, stderr.String(), `"msg":"revocation reload","what":"allow list","outcome":"updated","allowed":1`)
	// Served again, with the newer lists: the device moved to RIV 2.
	st = status()
	require.EqualValues(t, 2, st.RIV)
	for _, l := range st.Lists {
		if l.Name == "runtime" {
			require.EqualValues(t, 2, l.Version)
		}
	}
}

func writeAllowFile(t *testing.T, path string, ds ...[32]byte) {
	t.Helper()
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<RevAllowInfo>\n  <AllowList>\n")
	for _, d := range ds {
		b.WriteString("    <CertificateHash>" + base64.StdEncoding.EncodeToString(d[:]) + "</CertificateHash>\n")
	}
	b.WriteString("  </AllowList>\n</RevAllowInfo>\n")
	require.NoError(t, os.WriteFile(path+".tmp", []byte(b.String()), 0o600))
	require.NoError(t, os.Rename(path+".tmp", path))
}
