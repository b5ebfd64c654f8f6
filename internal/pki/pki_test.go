package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/wire/bcert"
	"github.com/stretchr/testify/require"
)

var now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// seeded returns a deterministic reader (never use one outside tests).
func seeded(seed byte) io.Reader {
	var s [32]byte
	s[0] = seed
	return rand.NewChaCha8(s)
}

func generate(t *testing.T, seed byte) *PKI {
	t.Helper()
	p, err := Generate(seeded(seed), now)
	require.NoError(t, err)
	return p
}

func requireSamePKI(t *testing.T, a, b *PKI) {
	t.Helper()
	require.Equal(t, a.Root, b.Root)
	require.Equal(t, a.RootIssuer.Chain.Bytes(), b.RootIssuer.Chain.Bytes())
	require.True(t, a.RootIssuer.Key.Equal(b.RootIssuer.Key))
	require.Len(t, b.Models, len(a.Models))
	for sl, m := range a.Models {
		require.Contains(t, b.Models, sl)
		require.Equal(t, m.Chain.Bytes(), b.Models[sl].Chain.Bytes())
		require.True(t, m.Key.Equal(b.Models[sl].Key))
	}
	require.Equal(t, a.Server.Chain.Bytes(), b.Server.Chain.Bytes())
	require.True(t, a.Server.SignKey.Equal(b.Server.SignKey))
	require.True(t, a.Server.EncKey.Equal(b.Server.EncKey))
	require.Equal(t, a.CRLSigner.Chain.Bytes(), b.CRLSigner.Chain.Bytes())
	require.True(t, a.CRLSigner.Key.Equal(b.CRLSigner.Key))
}

func TestGenerateShape(t *testing.T) {
	p := generate(t, 1)
	roots := []ecc.Point{p.Root}
	verify := func(c *bcert.Chain, leafType uint32) {
		t.Helper()
		require.NoError(t, c.Verify(bcert.VerifyOptions{Roots: roots, CurrentTime: now, LeafType: leafType}))
		// Never expires (package doc).
		require.NoError(t, c.Verify(bcert.VerifyOptions{Roots: roots, CurrentTime: time.Unix(1<<32-2, 0), LeafType: leafType}))
	}

	root := p.RootIssuer.Chain
	require.Len(t, root.Certs, 1)
	verify(root, bcert.CertTypeIssuer)
	rb := root.Leaf().Basic()
	require.Equal(t, uint32(3000), rb.SecurityLevel)
	require.Equal(t, uint32(bcert.CertTypeIssuer), rb.Type)
	_, issuer, err := root.Leaf().SignatureInfo()
	require.NoError(t, err)
	require.Equal(t, p.Root, issuer, "root is self-signed")
	k, ok := root.Leaf().KeyWithUsage(bcert.KeyUsageIssuerDevice)
	require.True(t, ok)
	require.Equal(t, p.Root, k)

	require.Len(t, p.Models, 3)
	for _, sl := range []uint32{150, 2000, 3000} {
		m, err := p.Model(sl)
		require.NoError(t, err)
		require.Len(t, m.Chain.Certs, 2)
		verify(m.Chain, bcert.CertTypeIssuer)
		leaf := m.Chain.Leaf()
		require.Equal(t, sl, leaf.Basic().SecurityLevel)
		mf, ok := leaf.Manufacturer()
		require.True(t, ok)
		require.Equal(t, "prsim", mf.Name)
		require.Equal(t, "prsim-sl"+itoa(sl), mf.Model)
		require.Equal(t, itoa(sl), mf.Number)
		k, ok := leaf.KeyWithUsage(bcert.KeyUsageIssuerDevice)
		require.True(t, ok)
		require.Equal(t, KeySigner{Key: m.Key}.Public(), k)
		// BASIC digest = SHA-256 of the certificate key (docs/formats/bcert.md §6).
		require.Equal(t, sha256.Sum256(k[:]), leaf.Basic().Digest)
	}
	_, err = p.Model(999)
	require.Error(t, err)

	srv := p.Server.Chain
	verify(srv, bcert.CertTypeServer)
	sk, ok := srv.Leaf().KeyWithUsage(bcert.KeyUsageSignResponse)
	require.True(t, ok)
	require.Equal(t, KeySigner{Key: p.Server.SignKey}.Public(), sk)
	ek, ok := srv.Leaf().KeyWithUsage(bcert.KeyUsageEncryptKey)
	require.True(t, ok)
	require.Equal(t, KeySigner{Key: p.Server.EncKey}.Public(), ek)
	days, ok := srv.Leaf().ServerWarningDays()
	require.True(t, ok)
	require.Equal(t, uint32(ServerWarningDays), days)

	crl := p.CRLSigner.Chain
	verify(crl, bcert.CertTypeCRLSigner)
	ck, ok := crl.Leaf().KeyWithUsage(bcert.KeyUsageSignCRL)
	require.True(t, ok)
	require.Equal(t, KeySigner{Key: p.CRLSigner.Key}.Public(), ck)

	// Chains of this PKI do not verify under another root.
	other := generate(t, 2)
	require.NotEqual(t, p.Root, other.Root)
	err = p.Server.Chain.Verify(bcert.VerifyOptions{Roots: []ecc.Point{other.Root}, CurrentTime: now})
	require.ErrorIs(t, err, drm.ErrBCertIssuerKeyKeyInfoMismatch)
}

func itoa(v uint32) string { return strconv.FormatUint(uint64(v), 10) }

func TestGenerateDeterministic(t *testing.T) {
	a, b := generate(t, 7), generate(t, 7)
	requireSamePKI(t, a, b)
}

func TestGenerateShortRandom(t *testing.T) {
	for _, n := range []int64{0, 31, 40, 200} {
		p, err := Generate(io.LimitReader(seeded(1), n), now)
		require.Error(t, err)
		require.Nil(t, p)
	}
}

func TestGenerateKey(t *testing.T) {
	k1, err := GenerateKey(seeded(3))
	require.NoError(t, err)
	k2, err := GenerateKey(seeded(3))
	require.NoError(t, err)
	require.True(t, k1.Equal(k2))
	// Scalars ≥ n are rejected, not reduced.
	k, err := GenerateKey(bytes.NewReader(bytes.Repeat([]byte{0xFF}, 64*32)))
	require.Error(t, err)
	require.Nil(t, k)
}

func TestKeySigner(t *testing.T) {
	k, err := GenerateKey(seeded(4))
	require.NoError(t, err)
	digest := sha256.Sum256([]byte("msg"))
	s := KeySigner{Key: k}
	a, err := s.SignDigest(digest[:])
	require.NoError(t, err)
	b, err := s.SignDigest(digest[:])
	require.NoError(t, err)
	require.Equal(t, a, b, "nil Rand signs deterministically (RFC 6979)")
	require.True(t, ecc.Verify(s.Public(), digest[:], a[:]))

	r := KeySigner{Key: k, Rand: seeded(5)}
	c, err := r.SignDigest(digest[:])
	require.NoError(t, err)
	require.True(t, ecc.Verify(r.Public(), digest[:], c[:]))

	var none KeySigner
	require.Equal(t, ecc.Point{}, none.Public())
	_, err = none.SignDigest(digest[:])
	require.Error(t, err)
}

func TestIssueDevice(t *testing.T) {
	p := generate(t, 1)
	m, err := p.Model(2000)
	require.NoError(t, err)
	sign, err := GenerateKey(seeded(10))
	require.NoError(t, err)
	enc, err := GenerateKey(seeded(11))
	require.NoError(t, err)
	mf, _ := m.Chain.Leaf().Manufacturer()
	signPub := KeySigner{Key: sign}.Public()
	ch, err := m.Issue(&bcert.Template{
		SecurityLevel: 2000, Type: bcert.CertTypeDevice, DigestKey: signPub,
		Device:   &bcert.DeviceInfo{MaxLicenseSize: 10240, MaxHeaderSize: 15360, MaxChainDepth: 2},
		Features: []uint32{bcert.FeatureSecureClock, bcert.FeatureSupportsCRLs, bcert.FeaturePR3},
		Keys: []bcert.Key{
			{Public: signPub, Usages: []uint32{bcert.KeyUsageSign}},
			{Public: KeySigner{Key: enc}.Public(), Usages: []uint32{bcert.KeyUsageEncryptKey}},
		},
		Manufacturer: mf,
	})
	require.NoError(t, err)
	require.Len(t, ch.Certs, 3)
	require.Len(t, m.Chain.Certs, 2, "issuer chain unchanged")
	require.NoError(t, ch.Verify(bcert.VerifyOptions{Roots: []ecc.Point{p.Root}, CurrentTime: now, LeafType: bcert.CertTypeDevice}))

	// A leaf above the model's SL is refused by verification.
	ch, err = m.Issue(&bcert.Template{
		SecurityLevel: 3000, Type: bcert.CertTypeDevice, DigestKey: signPub,
		Keys: []bcert.Key{
			{Public: signPub, Usages: []uint32{bcert.KeyUsageSign}},
			{Public: KeySigner{Key: enc}.Public(), Usages: []uint32{bcert.KeyUsageEncryptKey}},
		},
	})
	require.NoError(t, err)
	require.ErrorIs(t, ch.Verify(bcert.VerifyOptions{Roots: []ecc.Point{p.Root}, CurrentTime: now}), drm.ErrBCertInvalidSecurityLevel)

	_, err = m.Issue(&bcert.Template{Type: bcert.CertTypeDevice})
	require.Error(t, err)
}

func TestSaveLoad(t *testing.T) {
	p := generate(t, 1)
	dir := filepath.Join(t.TempDir(), "pki")
	require.NoError(t, p.Save(dir))

	st, err := os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o700), st.Mode().Perm())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		info, err := e.Info()
		require.NoError(t, err)
		if strings.HasSuffix(e.Name(), ".key") {
			require.Equal(t, fs.FileMode(0o600), info.Mode().Perm(), e.Name())
		}
	}
	require.ElementsMatch(t, []string{
		"root.pub", "root.key", "root.chai",
		"model-150.key", "model-150.chai", "model-2000.key", "model-2000.chai", "model-3000.key", "model-3000.chai",
		"server-sign.key", "server-enc.key", "server.chai", "crl-signer.key", "crl-signer.chai", "time-server.key", "time-server.chai",
	}, names, "no temporary files left behind")
	pub, err := os.ReadFile(filepath.Join(dir, "root.pub"))
	require.NoError(t, err)
	require.Equal(t, p.Root[:], pub)
	pem, err := os.ReadFile(filepath.Join(dir, "root.key"))
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(pem, []byte("-----BEGIN PRIVATE KEY-----\n")))

	q, err := Load(dir)
	require.NoError(t, err)
	requireSamePKI(t, p, q)

	// Saving again over the same directory replaces the files.
	p2 := generate(t, 2)
	require.NoError(t, p2.Save(dir))
	q2, err := Load(dir)
	require.NoError(t, err)
	requireSamePKI(t, p2, q2)

	// An existing, wider directory is narrowed to 0700.
	wide := t.TempDir()
	require.NoError(t, os.Chmod(wide, 0o755))
	require.NoError(t, p.Save(wide))
	st, err = os.Stat(wide)
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o700), st.Mode().Perm())
}

// secretStrings returns encodings of every private scalar in p, to check
// that no error message carries one.
func secretStrings(p *PKI) []string {
	var out []string
	add := func(b []byte) {
		out = append(out, hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b)),
			base64.StdEncoding.EncodeToString(b), string(b))
	}
	for _, k := range []*Issuer{p.RootIssuer, p.CRLSigner, p.Models[150], p.Models[2000], p.Models[3000]} {
		add(rawKey(k.Key))
	}
	add(rawKey(p.Server.SignKey))
	add(rawKey(p.Server.EncKey))
	return out
}

func rawKey(k *ecdsa.PrivateKey) []byte {
	b, err := k.Bytes()
	if err != nil {
		panic(err)
	}
	return b
}

func TestLoadRejects(t *testing.T) {
	p := generate(t, 1)
	other := generate(t, 2)
	otherDir := t.TempDir()
	require.NoError(t, other.Save(otherDir))
	copyFrom := func(name string) func(string) error {
		return func(dir string) error {
			b, err := os.ReadFile(filepath.Join(otherDir, name))
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, name), b, 0o600)
		}
	}
	tests := map[string]func(dir string) error{
		"missing root.pub":    func(d string) error { return os.Remove(filepath.Join(d, "root.pub")) },
		"short root.pub":      func(d string) error { return os.WriteFile(filepath.Join(d, "root.pub"), p.Root[:63], 0o600) },
		"foreign root.pub":    copyFrom("root.pub"),
		"missing server key":  func(d string) error { return os.Remove(filepath.Join(d, "server-enc.key")) },
		"foreign model key":   copyFrom("model-2000.key"),
		"foreign crl chain":   copyFrom("crl-signer.chai"),
		"swapped server keys": func(d string) error { return swap(d, "server-sign.key", "server-enc.key") },
		"truncated key PEM":   func(d string) error { return truncate(d, "root.key", 60) },
		"key DER damaged":     func(d string) error { return damagePEM(d, "model-150.key") },
		"not PEM": func(d string) error {
			return os.WriteFile(filepath.Join(d, "crl-signer.key"), []byte("garbage"), 0o600)
		},
		"truncated chain":      func(d string) error { return truncate(d, "server.chai", 100) },
		"model with bad name":  func(d string) error { return os.WriteFile(filepath.Join(d, "model-x.chai"), nil, 0o600) },
		"model chain wrong SL": func(d string) error { return swap(d, "model-150.chai", "model-2000.chai") },
	}
	secrets := append(secretStrings(p), secretStrings(other)...)
	for name, edit := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, p.Save(dir))
			require.NoError(t, edit(dir))
			q, err := Load(dir)
			require.Error(t, err)
			require.Nil(t, q)
			msg := err.Error()
			t.Log(msg)
			require.True(t, strings.HasPrefix(msg, "pki: "), msg)
			for _, s := range secrets {
				require.NotContains(t, msg, s)
			}
		})
	}
}

func swap(dir, a, b string) error {
	pa, pb := filepath.Join(dir, a), filepath.Join(dir, b)
	tmp := pa + ".swap"
	if err := os.Rename(pa, tmp); err != nil {
		return err
	}
	if err := os.Rename(pb, pa); err != nil {
		return err
	}
	return os.Rename(tmp, pb)
}

func truncate(dir, name string, n int) error {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name), b[:n], 0o600)
}

// damagePEM keeps valid PEM armour around a corrupted DER body.
func damagePEM(dir, name string) error {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return err
	}
	i := bytes.IndexByte(b, '\n') + 5
	b[i] = 'A' + (b[i]-'A'+1)%26
	return os.WriteFile(filepath.Join(dir, name), b, 0o600)
}

func TestVerifyIncomplete(t *testing.T) {
	require.Error(t, (&PKI{}).Verify(now))
	p := generate(t, 1)
	p.Server.EncKey = p.Server.SignKey
	require.ErrorContains(t, p.Verify(now), "does not match")
	require.Error(t, p.Save(t.TempDir()))
}

// A PKI saved before the time server existed still loads, without one.
func TestLoadWithoutTimeServer(t *testing.T) {
	p, err := Generate(seeded(7), time.Time{})
	require.NoError(t, err)
	require.NotNil(t, p.TimeServer)
	k, ok := p.TimeServer.Chain.Leaf().KeyWithUsage(KeyUsageSignSecureTime)
	require.True(t, ok)
	require.Equal(t, (KeySigner{Key: p.TimeServer.Key}).Public(), k)
	dir := t.TempDir()
	require.NoError(t, p.Save(dir))
	require.NoError(t, os.Remove(filepath.Join(dir, "time-server.key")))
	require.NoError(t, os.Remove(filepath.Join(dir, "time-server.chai")))
	q, err := Load(dir)
	require.NoError(t, err)
	require.Nil(t, q.TimeServer)
	require.Equal(t, p.Root, q.Root)
}
