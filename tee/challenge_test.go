package tee_test

import (
	"crypto/rand"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/tee"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/pro"
	"github.com/prsim/prsim/wire/soap"
	"github.com/prsim/prsim/wire/xmr"
)

func serverKey(t *testing.T) ecc.Point {
	t.Helper()
	k, err := ecc.PublicKey(&getFixture().PKI.Server.EncKey.PublicKey)
	require.NoError(t, err)
	return k
}

func headerXML(t *testing.T) string {
	t.Helper()
	h := &pro.Header{Version: pro.Version40, LAURL: "https://example.com/rightsmanager.asmx",
		KIDs: []pro.KeyInfo{{ID: testKID, AlgID: pro.AlgAESCTR}}}
	x, err := h.XML()
	require.NoError(t, err)
	return x
}

// signChallenge has d sign a well-formed challenge for a fresh nonce.
func signChallenge(t *testing.T, d *tee.Device) ([]byte, error) {
	t.Helper()
	n, err := d.NewNonce()
	require.NoError(t, err)
	return d.SignChallenge(&soap.Challenge{Version: 1, ContentHeader: headerXML(t), Nonce: n}, serverKey(t), rand.Reader)
}

// The challenge the TEE signs carries its nonce and its own chain when the
// caller gives none.
func TestSignChallengeFillsChain(t *testing.T) {
	d := softDevice(t)
	n, err := d.NewNonce()
	require.NoError(t, err)
	c := &soap.Challenge{Version: 4, ContentHeader: headerXML(t), Nonce: n}
	body, err := d.SignChallenge(c, serverKey(t), rand.Reader)
	require.NoError(t, err)
	require.Empty(t, c.Data.CertificateChain, "the caller's challenge is not modified")
	p, err := soap.ParseChallenge(body)
	require.NoError(t, err)
	require.NoError(t, p.VerifySignature())
	require.Equal(t, n, p.Nonce)
	priv, err := getFixture().PKI.Server.EncKey.Bytes()
	require.NoError(t, err)
	data, err := p.DecryptData(func(ct ecc.Ciphertext) (ecc.Point, error) { return ecc.Decrypt(priv, ct) })
	require.NoError(t, err)
	require.Equal(t, d.Chain(), data.CertificateChain)
}

// The TEE refuses to sign anything but a well-formed challenge of its own.
func TestSignChallengeRefusesMalformed(t *testing.T) {
	d := softDevice(t)
	other := softDevice(t)
	n, err := d.NewNonce()
	require.NoError(t, err)
	good := func() *soap.Challenge {
		return &soap.Challenge{Version: 4, ContentHeader: headerXML(t), Nonce: n}
	}
	for name, c := range map[string]*soap.Challenge{
		"nil":             nil,
		"unknown-nonce":   func() *soap.Challenge { c := good(); c.Nonce[0] ^= 1; return c }(),
		"not-a-wrmheader": func() *soap.Challenge { c := good(); c.ContentHeader = "<X/>"; return c }(),
		"header-broken": func() *soap.Challenge {
			c := good()
			c.ContentHeader = c.ContentHeader[:len(c.ContentHeader)-3]
			return c
		}(),
		"empty-header":  func() *soap.Challenge { c := good(); c.ContentHeader = ""; return c }(),
		"bad-version":   func() *soap.Challenge { c := good(); c.Version = 3; return c }(),
		"bad-text":      func() *soap.Challenge { c := good(); c.CustomData = "a\x00b"; return c }(),
		"other-chain":   func() *soap.Challenge { c := good(); c.Data.CertificateChain = other.Chain(); return c }(),
		"garbage-chain": func() *soap.Challenge { c := good(); c.Data.CertificateChain = []byte("CHAI"); return c }(),
	} {
		t.Run(name, func(t *testing.T) {
			body, err := d.SignChallenge(c, serverKey(t), rand.Reader)
			require.ErrorIs(t, err, tee.ErrChallengeRefused)
			require.Nil(t, body)
		})
	}
	// The good one still signs: the refusals above were for their defect.
	_, err = d.SignChallenge(good(), serverKey(t), rand.Reader)
	require.NoError(t, err)
	// An abandoned nonce is no longer signed for.
	d.AbandonNonce(n)
	_, err = d.SignChallenge(good(), serverKey(t), rand.Reader)
	require.ErrorIs(t, err, tee.ErrChallengeRefused)
}

// No exported method of Device signs a caller-chosen digest: it is not a
// soap.Signer, and no method has SignDigest's shape.
func TestNoArbitraryDigestSigning(t *testing.T) {
	typ := reflect.TypeFor[*tee.Device]()
	require.False(t, typ.Implements(reflect.TypeFor[soap.Signer]()))
	digestSigner := reflect.TypeFor[func([]byte) ([64]byte, error)]()
	for m := range typ.Methods() {
		require.NotEqual(t, "SignDigest", m.Name)
		// m.Type has the receiver first; compare the rest.
		in := make([]reflect.Type, 0, m.Type.NumIn()-1)
		for i := 1; i < m.Type.NumIn(); i++ {
			in = append(in, m.Type.In(i))
		}
		out := make([]reflect.Type, 0, m.Type.NumOut())
		for i := range m.Type.NumOut() {
			out = append(out, m.Type.Out(i))
		}
		require.NotEqual(t, digestSigner, reflect.FuncOf(in, out, false), "%s signs an arbitrary digest", m.Name)
	}
}

func softDevice(t *testing.T) *tee.Device {
	t.Helper()
	b, err := tee.OpenBackend("soft")
	require.NoError(t, err)
	return provision(t, b, 3000)
}

// A non-persistent license is consumed by the bind that uses it; a
// response of several licenses (one per KID) binds each once.
func TestNonceConsumedByBind(t *testing.T) {
	d := softDevice(t)
	n, err := d.NewNonce()
	require.NoError(t, err)
	lic := license(t, d, licOpts{rights: n})
	k, err := d.Bind(lic)
	require.NoError(t, err)
	require.NoError(t, k.Close())
	_, err = d.Bind(lic)
	require.ErrorIs(t, err, drm.ErrLicenseMismatch, "second bind of the same response")
	require.Contains(t, err.Error(), "replay")

	other := kid.MustParse("10000000-1000-1000-1000-100000000002")
	k, err = d.Bind(license(t, d, licOpts{rights: n, tweak: func(tm *xmr.Template) { tm.ContentKey.KID = other }}))
	require.NoError(t, err, "another KID of the same response binds")
	require.NoError(t, k.Close())

	// A persistent license needs no nonce and binds again (it is stored).
	for range 2 {
		k, err = d.Bind(license(t, d, licOpts{persistent: true}))
		require.NoError(t, err)
		require.NoError(t, k.Close())
	}
}

// A license for an abandoned or never-drawn nonce does not bind, and a
// failed bind (bad CMAC) does not consume the nonce.
func TestAbandonedAndUnknownNonce(t *testing.T) {
	d := softDevice(t)
	n, err := d.NewNonce()
	require.NoError(t, err)
	d.AbandonNonce(n)
	_, err = d.Bind(license(t, d, licOpts{rights: n}))
	require.ErrorIs(t, err, drm.ErrLicenseMismatch)

	_, err = d.Bind(license(t, d, licOpts{rights: [16]byte{1, 2, 3}}))
	require.ErrorIs(t, err, drm.ErrLicenseMismatch)

	n, err = d.NewNonce()
	require.NoError(t, err)
	bad := license(t, d, licOpts{rights: n})
	bad[len(bad)-1] ^= 1
	_, err = d.Bind(bad)
	require.ErrorIs(t, err, drm.ErrLicSignatureFailure)
	k, err := d.Bind(license(t, d, licOpts{rights: n}))
	require.NoError(t, err, "a refused forgery does not burn the nonce")
	require.NoError(t, k.Close())
}

// At most MaxNonces (100) nonces are outstanding: the 101st drops the oldest.
func TestNonceFIFOBound(t *testing.T) {
	require.Equal(t, 100, tee.MaxNonces)
	d := softDevice(t)
	var ns [][16]byte
	for range tee.MaxNonces + 1 {
		n, err := d.NewNonce()
		require.NoError(t, err)
		ns = append(ns, n)
	}
	_, err := d.Bind(license(t, d, licOpts{rights: ns[0]}))
	require.ErrorIs(t, err, drm.ErrLicenseMismatch, "the oldest nonce was dropped")
	for _, n := range []([16]byte){ns[1], ns[tee.MaxNonces]} {
		k, err := d.Bind(license(t, d, licOpts{rights: n}))
		require.NoError(t, err)
		require.NoError(t, k.Close())
	}
}
