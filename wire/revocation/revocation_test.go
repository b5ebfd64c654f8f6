package revocation

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/wire/bcert"
	"github.com/prsim/prsim/wire/kid"
)

var update = flag.Bool("update", false, "rewrite the fuzz seeds under testdata/fuzz")

type keySigner struct{ k *ecdsa.PrivateKey }

func (s keySigner) Public() ecc.Point {
	p, err := ecc.PublicKey(&s.k.PublicKey)
	if err != nil {
		panic(err)
	}
	return p
}

func (s keySigner) SignDigest(d []byte) ([ecc.SignatureSize]byte, error) {
	return ecc.Sign(rand.Reader, s.k, d)
}

type testPKI struct {
	root     ecc.Point
	rootKey  *ecdsa.PrivateKey
	crlKey   *ecdsa.PrivateKey
	crlChain []byte // CRL_SIGNER → root
	devChain []byte // a non-CRL-signer leaf (ISSUER type) → root, same key usage
	devKey   *ecdsa.PrivateKey
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return k
}

func newPKI(t testing.TB) *testPKI {
	p := &testPKI{rootKey: newKey(t), crlKey: newKey(t), devKey: newKey(t)}
	rs := keySigner{p.rootKey}
	p.root = rs.Public()
	root, err := bcert.NewCert(&bcert.Template{SecurityLevel: 3000, Type: bcert.CertTypeIssuer,
		Keys: []bcert.Key{{Public: p.root, Usages: []uint32{bcert.KeyUsageIssuerAll, bcert.KeyUsageIssuerCRL}}}}, rs)
	require.NoError(t, err)
	rc := bcert.NewChain(root)
	leaf, err := bcert.NewCert(&bcert.Template{SecurityLevel: 3000, Type: bcert.CertTypeCRLSigner,
		Keys: []bcert.Key{{Public: keySigner{p.crlKey}.Public(), Usages: []uint32{bcert.KeyUsageSignCRL}}}}, rs)
	require.NoError(t, err)
	p.crlChain = rc.Prepend(leaf).Bytes()
	other, err := bcert.NewCert(&bcert.Template{SecurityLevel: 3000, Type: bcert.CertTypeDevice,
		Keys: []bcert.Key{{Public: keySigner{p.devKey}.Public(), Usages: []uint32{bcert.KeyUsageSignCRL}}}}, rs)
	require.NoError(t, err)
	p.devChain = rc.Prepend(other).Bytes()
	return p
}

var issued = time.Date(2026, 12, 1, 14, 0, 0, 123456700, time.UTC)

func sampleRevInfo() *RevInfo {
	return &RevInfo{RIV: 7, Issued: issued, Lists: []ListVersion{{ListRuntime, 5}, {ListApp, 1}}}
}

func sampleCRL(n int) *CRL {
	c := &CRL{ID: ListRuntime, Version: 5}
	for i := range n {
		var d [32]byte
		d[0], d[31] = byte(i), 0xAA
		c.Entries = append(c.Entries, d)
	}
	return c
}

func TestListIDs(t *testing.T) {
	// The base64 forms of the LE GUID bytes published with the list IDs
	// (docs/formats/revocation.md §1).
	for id, want := range map[kid.ID]string{
		ListRevInfo2: "Ef/RUojT3U6Ct2jqTCChbA==", ListRuntime: "ioydTlK2p0WXkWklprR5Hw==",
		ListApp: "gC4IKKPHsUCCVhnlttibJw==", ListWMDRMNET: "BOZ1zT1UnEqfCf5tJOi/kA==",
	} {
		require.Equal(t, want, id.Base64GUID(), ListName(id))
		require.NotEmpty(t, ListName(id))
	}
	require.Empty(t, ListName(kid.ID{}))
}

func TestRevInfoSignParseVerify(t *testing.T) {
	p := newPKI(t)
	r := sampleRevInfo()
	blob, err := r.Sign(keySigner{p.crlKey}, p.crlChain)
	require.NoError(t, err)
	require.Equal(t, "RLV2", string(blob[:4]))
	require.Equal(t, uint32(28+2*24), uint32(blob[4])<<24|uint32(blob[5])<<16|uint32(blob[6])<<8|uint32(blob[7]))

	got, err := ParseRevInfo(blob)
	require.NoError(t, err)
	require.Equal(t, blob, got.Bytes(), "byte-identical round trip")
	require.Equal(t, uint32(7), got.RIV)
	require.True(t, issued.Equal(got.Issued), "issued %v", got.Issued)
	require.Equal(t, r.Lists, got.Lists)
	v, ok := got.Version(ListRuntime)
	require.True(t, ok)
	require.Equal(t, uint64(5), v)

	root, err := got.Verify([]ecc.Point{p.root}, time.Time{})
	require.NoError(t, err)
	require.Equal(t, p.root, root)

	// Every byte of the signed part is covered.
	for i := 0; i < 28+2*24; i++ {
		bad := bytes.Clone(blob)
		bad[i] ^= 0x01
		br, err := ParseRevInfo(bad)
		if err != nil {
			require.ErrorIs(t, err, drm.ErrInvalidRevocationList)
			continue
		}
		_, err = br.Verify([]ecc.Point{p.root}, time.Time{})
		require.ErrorIs(t, err, drm.ErrInvalidSignature, "byte %d", i)
	}
	// Another root is not trusted.
	_, err = got.Verify([]ecc.Point{keySigner{p.devKey}.Public()}, time.Time{})
	require.Error(t, err)
	_, err = got.Verify(nil, time.Time{})
	require.Error(t, err)
}

func TestCRLSignParseVerify(t *testing.T) {
	p := newPKI(t)
	for _, n := range []int{0, 1, 3} {
		c := sampleCRL(n)
		blob, err := c.Sign(keySigner{p.crlKey}, p.crlChain)
		require.NoError(t, err)
		require.Equal(t, ListRuntime.GUID(), [16]byte(blob[:16]))
		got, err := ParseCRL(blob)
		require.NoError(t, err)
		require.Equal(t, blob, got.Bytes())
		require.Len(t, got.Entries, n)
		for i := range c.Entries {
			require.Equal(t, c.Entries[i], got.Entries[i])
		}
		require.Equal(t, uint32(5), got.Version)
		root, err := got.Verify([]ecc.Point{p.root}, time.Time{})
		require.NoError(t, err)
		require.Equal(t, p.root, root)
		if n > 0 {
			require.True(t, got.Revoked(c.Entries[n-1]))
			bad := bytes.Clone(blob)
			bad[24] ^= 1 // first entry
			bc, err := ParseCRL(bad)
			require.NoError(t, err)
			_, err = bc.Verify([]ecc.Point{p.root}, time.Time{})
			require.ErrorIs(t, err, drm.ErrInvalidSignature)
		}
		require.False(t, got.Revoked([32]byte{1}))
	}
}

func TestSignRefusesWrongSigner(t *testing.T) {
	p := newPKI(t)
	// A key that is not the chain leaf's.
	_, err := sampleCRL(1).Sign(keySigner{p.devKey}, p.crlChain)
	require.ErrorIs(t, err, drm.ErrInvalidRevocationList)
	// A leaf that is not a CRL_SIGNER, even with a SIGN_CRL key.
	_, err = sampleRevInfo().Sign(keySigner{p.devKey}, p.devChain)
	require.ErrorIs(t, err, drm.ErrBCertInvalidCertType)
	_, err = (&RevInfo{Issued: time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC)}).Sign(keySigner{p.crlKey}, p.crlChain)
	require.ErrorIs(t, err, drm.ErrInvalidRevocationList)
}

func TestVerifyRefusesNonCRLSigner(t *testing.T) {
	p := newPKI(t)
	// Forge: a list signed by a device leaf key, carrying the device chain.
	c := sampleCRL(1)
	c.Chain = p.devChain
	d := c.signedPart()
	sig, err := signRaw(p.devKey, d)
	require.NoError(t, err)
	c.Signature = sig
	got, err := ParseCRL(c.Bytes())
	require.NoError(t, err)
	_, err = got.Verify([]ecc.Point{p.root}, time.Time{})
	require.ErrorIs(t, err, drm.ErrBCertInvalidCertType)
	code, ok := drm.CodeOf(err)
	require.True(t, ok)
	require.Equal(t, drm.ErrBCertInvalidCertType, code)
}

func TestParseErrors(t *testing.T) {
	p := newPKI(t)
	ri, err := sampleRevInfo().Sign(keySigner{p.crlKey}, p.crlChain)
	require.NoError(t, err)
	crl, err := sampleCRL(2).Sign(keySigner{p.crlKey}, p.crlChain)
	require.NoError(t, err)
	mut := func(b []byte, f func([]byte) []byte) []byte { return f(bytes.Clone(b)) }
	for name, b := range map[string][]byte{
		"empty":           nil,
		"rlvi":            mut(ri, func(b []byte) []byte { copy(b, "RLVI"); return b }),
		"magic":           mut(ri, func(b []byte) []byte { b[0] = 'X'; return b }),
		"format":          mut(ri, func(b []byte) []byte { b[8] = 1; return b }),
		"reserved":        mut(ri, func(b []byte) []byte { b[10] = 1; return b }),
		"cbSigned":        mut(ri, func(b []byte) []byte { b[7]++; return b }),
		"records overrun": mut(ri, func(b []byte) []byte { b[24] = 0xFF; return b }),
		"sig type":        mut(ri, func(b []byte) []byte { b[76] = 1; return b }),
		"sig len":         mut(ri, func(b []byte) []byte { b[78] = 63; return b }),
		"no chain":        ri[:76+67],
		"truncated":       ri[:60],
	} {
		_, err := ParseRevInfo(b)
		require.ErrorIs(t, err, drm.ErrInvalidRevocationList, name)
		require.NotContains(t, err.Error(), "%!", name)
	}
	for name, b := range map[string][]byte{
		"empty":           crl[:10],
		"entries overrun": mut(crl, func(b []byte) []byte { b[20] = 0x10; return b }),
		"sig type":        mut(crl, func(b []byte) []byte { b[24+64] = 3; return b }),
		"no chain":        crl[:24+64+67],
	} {
		_, err := ParseCRL(b)
		require.ErrorIs(t, err, drm.ErrInvalidRevocationList, name)
	}
	// A chain with trailing bytes does not verify.
	c, err := ParseCRL(append(bytes.Clone(crl), 0))
	require.NoError(t, err)
	_, err = c.Verify([]ecc.Point{p.root}, time.Time{})
	require.ErrorIs(t, err, drm.ErrBCertInvalidChainLength)
}

func TestWMDRMNETRoundTrip(t *testing.T) {
	w := &WMDRMNET{Version: 9, Entries: [][20]byte{{1}, {2}}, Chain: []byte("<c/>"), SigType: 1, Signature: bytes.Repeat([]byte{7}, 128)}
	b := w.Bytes()
	got, err := ParseWMDRMNET(b)
	require.NoError(t, err)
	require.Equal(t, w, got)
	require.Equal(t, b, got.Bytes())
	_, err = ParseWMDRMNET(b[:len(b)-1])
	require.ErrorIs(t, err, drm.ErrInvalidRevocationList)
	_, err = ParseWMDRMNET(append(bytes.Clone(b), 0))
	require.ErrorIs(t, err, drm.ErrInvalidRevocationList)
}

func TestFiletime(t *testing.T) {
	for _, tm := range []time.Time{issued, time.Unix(0, 0).UTC(), time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC)} {
		ft, ok := toFiletime(tm)
		require.True(t, ok)
		require.True(t, tm.Equal(fromFiletime(ft)))
	}
	ft, ok := toFiletime(time.Unix(0, 0))
	require.True(t, ok)
	require.Equal(t, uint64(filetimeUnixOffset), ft)
	for _, ft := range []uint64{0, 1, ^uint64(0), ^uint64(0) - 12345} {
		back, ok := toFiletime(fromFiletime(ft))
		require.True(t, ok, "%d", ft)
		require.Equal(t, ft, back)
	}
	_, ok = toFiletime(time.Unix(0, 1))
	require.False(t, ok)
}

// TestWriteSeeds keeps the committed fuzz seeds valid blobs of the current
// layout (run with -update to rewrite them).
func TestWriteSeeds(t *testing.T) {
	if !*update {
		for _, n := range []string{"FuzzParseRevInfo", "FuzzParseCRL", "FuzzParseWMDRMNET"} {
			e, err := os.ReadDir(filepath.Join("testdata", "fuzz", n))
			require.NoError(t, err)
			require.NotEmpty(t, e, n)
		}
		return
	}
	p := newPKI(t)
	ri, err := sampleRevInfo().Sign(keySigner{p.crlKey}, p.crlChain)
	require.NoError(t, err)
	crl, err := sampleCRL(2).Sign(keySigner{p.crlKey}, p.crlChain)
	require.NoError(t, err)
	w := (&WMDRMNET{Version: 1, Entries: [][20]byte{{1}}, Chain: []byte("x"), SigType: 1, Signature: []byte{1, 2}}).Bytes()
	for name, b := range map[string][]byte{"FuzzParseRevInfo": ri, "FuzzParseCRL": crl, "FuzzParseWMDRMNET": w} {
		dir := filepath.Join("testdata", "fuzz", name)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "valid"), []byte("go test fuzz v1\n[]byte("+quote(b)+")\n"), 0o644))
	}
}

func quote(b []byte) string {
	var s bytes.Buffer
	s.WriteByte('"')
	for _, c := range b {
		s.WriteString(`\x`)
		s.WriteByte("0123456789abcdef"[c>>4])
		s.WriteByte("0123456789abcdef"[c&15])
	}
	s.WriteByte('"')
	return s.String()
}

// signRaw signs data with k, bypassing Sign's signer checks (a forger).
func signRaw(k *ecdsa.PrivateKey, data []byte) ([ecc.SignatureSize]byte, error) {
	d := sha256.Sum256(data)
	return keySigner{k}.SignDigest(d[:])
}
