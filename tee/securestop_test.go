package tee_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/internal/pki"
	"github.com/prsim/prsim/policy"
	"github.com/prsim/prsim/tee"
	"github.com/prsim/prsim/wire/securestop"
	"github.com/prsim/prsim/wire/soap"
	"github.com/prsim/prsim/wire/xmr"
)

var (
	testSSID   = [16]byte{0x55, 1, 2, 3}
	testSS2Key = [16]byte{0x52, 0x32, 9, 8, 7}
)

// ssLicense is a non-persistent license with SECURE_STOP (and, if ss2,
// SECURESTOP2) answering an outstanding nonce of d.
func ssLicense(t *testing.T, d *tee.Device, ss2, persistent bool) []byte {
	t.Helper()
	o := licOpts{persistent: persistent, tweak: func(tm *xmr.Template) {
		id := testSSID
		tm.SecureStopID = &id
		if ss2 {
			k := testSS2Key
			tm.SecureStop2Key = &k
		}
	}}
	if !persistent {
		n, err := d.NewNonce()
		require.NoError(t, err)
		o.rights = n
	}
	return license(t, d, o)
}

// serverKeys is a challenge-encryption key pair standing in for a server's.
func serverKeys(t *testing.T) (ecc.Point, []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	pub, err := ecc.PublicKey(&k.PublicKey)
	require.NoError(t, err)
	b, err := k.Bytes()
	require.NoError(t, err)
	return pub, b
}

// play binds and enables a secure-stop license and decrypts one sample.
func play(t *testing.T, d *tee.Device, lic []byte) *tee.Key {
	t.Helper()
	k, err := d.Bind(lic)
	require.NoError(t, err)
	_, ok := k.SecureStopSession()
	require.False(t, ok, "no session before the decryptor is released")
	_, err = k.Enable(policy.AllStreams, policy.StrategyBlock)
	require.NoError(t, err)
	require.NoError(t, k.DecryptCENC(make([]byte, 32), make([]byte, 8), nil))
	return k
}

// ack signs an acknowledgement with the fixture PKI's server key, whose
// chain verifies to the device's root.
func ack(t *testing.T, nonce [16]byte, sessions ...[16]byte) []byte {
	t.Helper()
	srv := getFixture().PKI.Server
	a := &securestop.Ack{Nonce: nonce, Sessions: sessions, Chain: srv.Chain.Bytes()}
	b, err := a.Sign(pki.KeySigner{Key: srv.SignKey, Rand: rand.Reader})
	require.NoError(t, err)
	return b
}

// The lifecycle on a 4.5 SL3000 device: the session is durable before the
// first sample, the stop wipes the key, the challenge carries a SecureStop2
// record the server's key verifies, and only a verified acknowledgement
// deletes it.
func TestSecureStopLifecycle(t *testing.T) {
	b, err := tee.OpenBackend("soft")
	require.NoError(t, err)
	d, storage := provisionWith(t, b, 3000, "4.5")
	k := play(t, d, ssLicense(t, d, true, false))
	id, ok := k.SecureStopSession()
	require.True(t, ok)
	ss := d.SecureStopSessions()
	require.Len(t, ss, 1)
	require.Equal(t, id, ss[0].ID)
	require.True(t, ss[0].Active)
	require.Equal(t, 2, ss[0].Version)
	require.Equal(t, testKID, ss[0].KIDs[0])

	// Durable before decryption: a reopen (as after a crash) finds it, stopped.
	d2, err := tee.OpenWith(b, d.State(), tee.Options{Storage: storage})
	require.NoError(t, err)
	crashed := d2.SecureStopSessions()
	require.Len(t, crashed, 1)
	require.False(t, crashed[0].Active, "a session a crash left open is reported stopped")
	require.Equal(t, ss[0].Update, crashed[0].Update, "at its last update time")

	require.NoError(t, k.Close())
	require.Error(t, k.DecryptCENC(make([]byte, 32), make([]byte, 8), nil), "the stop wiped the key")
	require.False(t, d.SecureStopSessions()[0].Active)

	pub, priv := serverKeys(t)
	body, nonce, n, err := d.SecureStopChallenge(pub, "4.5.0.0", rand.Reader)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	p, err := soap.ParseSecureStopChallenge(body)
	require.NoError(t, err)
	require.NoError(t, p.VerifySignature())
	require.Equal(t, d.Public(), p.SignerKey)
	require.Equal(t, nonce, p.Nonce)
	chain, raw, err := p.DecryptData(func(c ecc.Ciphertext) (ecc.Point, error) { return ecc.Decrypt(priv, c) })
	require.NoError(t, err)
	require.Equal(t, d.Chain(), chain)
	recs, err := securestop.ParseRecords(raw)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, id, recs[0].Session)
	require.Equal(t, testSSID, recs[0].Publisher)
	require.True(t, recs[0].Stopped)
	require.True(t, recs[0].VerifySS2(testSS2Key), "MACed with the license's SecureStop2 key")
	require.False(t, recs[0].VerifySS2([16]byte{1}), "and with no other")

	// Refused acknowledgements delete nothing.
	good := ack(t, nonce, id)
	other := ack(t, [16]byte{9}, id)
	tampered := append([]byte(nil), good...)
	tampered[len(tampered)-1] ^= 1
	for name, a := range map[string][]byte{"another nonce": other, "tampered": tampered, "garbage": []byte("PRSA")} {
		_, err := d.AcceptSecureStopAck(a, nonce)
		require.ErrorIs(t, err, drm.ErrSecureStopInvalidResponse, name)
		require.Len(t, d.SecureStopSessions(), 1, name)
	}
	deleted, err := d.AcceptSecureStopAck(good, nonce)
	require.NoError(t, err)
	require.Equal(t, 1, deleted)
	require.Empty(t, d.SecureStopSessions())
	_, err = d.AcceptSecureStopAck(good, nonce)
	require.ErrorIs(t, err, drm.ErrSecureStopInvalidResponse, "a replayed acknowledgement")
}

// The seed's persona table: SL2000 sends nothing, SL3000 3.0 sends
// SecureStop1 (no MAC), 4.3 SecureStop2; persistent licenses open no session.
func TestSecureStopPersonas(t *testing.T) {
	b, err := tee.OpenBackend("soft")
	require.NoError(t, err)
	for _, c := range []struct {
		sl         uint32
		version    string
		persistent bool
		want       int // 0 = no session
	}{
		{2000, "4.5", false, 0},
		{3000, "2.0", false, 0},
		{3000, "3.0", false, 1},
		{3000, "4.3", false, 2},
		{3000, "4.5", true, 0},
	} {
		d, _ := provisionWith(t, b, c.sl, c.version)
		k := play(t, d, ssLicense(t, d, true, c.persistent))
		_, open := k.SecureStopSession()
		ss := d.SecureStopSessions()
		if c.want == 0 {
			require.False(t, open, "%+v", c)
			require.Empty(t, ss, "%+v", c)
			continue
		}
		require.True(t, open, "%+v", c)
		require.Len(t, ss, 1, "%+v", c)
		require.Equal(t, c.want, ss[0].Version, "%+v", c)
	}
}

// A license whose SECURESTOP2 object does not unwrap under its CI is
// refused: its session could never be verified.
func TestSecureStop2KeyMustUnwrap(t *testing.T) {
	b, err := tee.OpenBackend("soft")
	require.NoError(t, err)
	d, _ := provisionWith(t, b, 3000, "4.5")
	n, err := d.NewNonce()
	require.NoError(t, err)
	lic := license(t, d, licOpts{rights: n, tweak: func(tm *xmr.Template) {
		id := testSSID
		tm.SecureStopID = &id
		tm.Extra = append(tm.Extra, xmr.NewLeaf(0, xmr.TypeSecureStop2, append([]byte{0, 1}, make([]byte, 24)...)))
	}})
	_, err = d.Bind(lic)
	require.ErrorIs(t, err, drm.ErrInvalidLicense)
}

// A device printed with any verb shows no SecureStop2 key (its sealed
// records hold them) and no storage root.
func TestDeviceFormatRedactsSecrets(t *testing.T) {
	b, err := tee.OpenBackend("soft")
	require.NoError(t, err)
	d, _ := provisionWith(t, b, 3000, "4.5")
	k := play(t, d, ssLicense(t, d, true, false))
	defer k.Close()
	root := d.State().StorageRoot
	require.NotEmpty(t, root)
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("device", "dev", d)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "log"} {
		out := logged.String()
		if verb != "log" {
			out = fmt.Sprintf(verb, d)
		}
		for _, secret := range [][]byte{testSS2Key[:], root} {
			for _, form := range []string{"%v", "%#v", "%x", "%X", "%s"} {
				require.NotContains(t, out, fmt.Sprintf(form, secret), "verb %s", verb)
			}
		}
		require.Contains(t, out, "3000", "verb %s still identifies the device", verb)
	}
}
