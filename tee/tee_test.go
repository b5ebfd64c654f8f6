package tee_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/internal/fixture"
	"github.com/prsim/prsim/internal/swtpmtest"
	"github.com/prsim/prsim/policy"
	"github.com/prsim/prsim/tee"
	"github.com/prsim/prsim/wire/bcert"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/soap"
	"github.com/prsim/prsim/wire/xmr"
)

var (
	fxOnce sync.Once
	testFx *fixture.Fixture
)

// getFixture is the package's one PKI: generating one per test would
// dominate the run time.
func getFixture() *fixture.Fixture {
	fxOnce.Do(func() {
		fx, err := fixture.New(fixture.Options{})
		if err != nil {
			panic(err)
		}
		testFx = fx
	})
	return testFx
}

// provision provisions a PlayReady 2.0 device (features: CRLs only).
func provision(t *testing.T, b *tee.Backend, sl uint32) *tee.Device {
	t.Helper()
	d, _ := provisionWith(t, b, sl, "2.0")
	return d
}

// provisionWith provisions a device on a storage the test keeps, so that
// it can reopen the device from its State as the REE does.
func provisionWith(t testing.TB, b *tee.Backend, sl uint32, version string) (*tee.Device, tee.Storage) {
	t.Helper()
	req, err := getFixture().ProvisionRequest(sl, version)
	require.NoError(t, err)
	req.Storage = tee.MemoryStorage()
	d, err := tee.Provision(b, req)
	require.NoError(t, err)
	return d, req.Storage
}

var testKID = kid.MustParse("10000000-1000-1000-1000-100000000001")
var testCK = [16]byte{0x3a, 0x2a, 0x1b, 0x68, 0xdd, 0x2b, 0xd9, 0xb2, 0xee, 0xb2, 0x5e, 0x84, 0xc4, 0x77, 0x66, 0x68}

type licOpts struct {
	persistent bool
	rights     [16]byte
	minSL      uint16
	keyType    uint16
	devKey     *ecc.Point
	extra      []*xmr.Object
	tweak      func(*xmr.Template)
}

// license builds a license for d the way licsrv does.
func license(t *testing.T, d *tee.Device, o licOpts) []byte {
	t.Helper()
	m, ci, err := ecc.EmbedKey(rand.Reader, testCK)
	require.NoError(t, err)
	dk := d.EncryptionKey()
	if o.devKey != nil {
		dk = *o.devKey
	}
	ct, err := ecc.Encrypt(rand.Reader, dk, m)
	require.NoError(t, err)
	if o.keyType == 0 {
		o.keyType = xmr.KeyTypeAESCTR
	}
	if o.minSL == 0 {
		o.minSL = 150
	}
	tm := &xmr.Template{
		RightsID: o.rights, MinSecurityLevel: o.minSL, IssueDate: uint32(time.Now().Unix()), Play: true,
		ContentKey: xmr.ContentKey{KID: testKID, KeyType: o.keyType, CipherType: xmr.CipherECC256, EncKey: ct[:]},
		DeviceKey:  dk,
		Extra:      o.extra,
	}
	if !o.persistent {
		s := uint16(xmr.SettingCannotPersist)
		tm.Settings = &s
	}
	if o.tweak != nil {
		o.tweak(tm)
	}
	b, err := tm.Build(ci[:])
	require.NoError(t, err)
	return b
}

// backends returns the backends under test: soft, the simulator, and swtpm
// when installed.
func backends(t *testing.T) map[string]func(t *testing.T) *tee.Backend {
	return map[string]func(t *testing.T) *tee.Backend{
		"soft": func(t *testing.T) *tee.Backend {
			b, err := tee.OpenBackend("soft")
			require.NoError(t, err)
			return b
		},
		"sim": func(t *testing.T) *tee.Backend {
			b, err := tee.OpenBackend("sim:4242")
			require.NoError(t, err)
			return b
		},
		"swtpm": func(t *testing.T) *tee.Backend {
			addr := swtpmtest.Start(t)
			b, err := tee.OpenBackend("swtpm:" + addr)
			require.NoError(t, err)
			return b
		},
	}
}

// TestBackendConformance runs the same TEE behaviour on every backend.
func TestBackendConformance(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := open(t)
			defer func() { require.NoError(t, b.Close()) }()
			d, storage := provisionWith(t, b, 3000, "2.0")
			require.Equal(t, uint32(3000), d.SecurityLevel())

			t.Run("chain-verifies", func(t *testing.T) {
				chain, err := bcert.ParseChain(d.Chain())
				require.NoError(t, err)
				require.NoError(t, chain.Verify(bcert.VerifyOptions{Roots: []ecc.Point{getFixture().PKI.Root}, CurrentTime: time.Now(), LeafType: bcert.CertTypeDevice}))
				k, ok := chain.Leaf().KeyWithUsage(bcert.KeyUsageEncryptKey)
				require.True(t, ok)
				require.Equal(t, d.EncryptionKey(), k)
			})
			t.Run("sign-challenge", func(t *testing.T) {
				body, err := signChallenge(t, d)
				require.NoError(t, err)
				ch, err := soap.ParseChallenge(body)
				require.NoError(t, err)
				require.NoError(t, ch.VerifySignature())
				require.Equal(t, d.Public(), ch.SignerKey)
			})
			t.Run("reopen-from-state", func(t *testing.T) {
				d2, err := tee.OpenWith(b, d.State(), tee.Options{Storage: storage})
				require.NoError(t, err)
				require.Equal(t, d.Public(), d2.Public())
				k, err := d2.Bind(license(t, d2, licOpts{persistent: true}))
				require.NoError(t, err)
				require.NoError(t, k.Close())
			})
			t.Run("bind-and-decrypt-cenc", func(t *testing.T) {
				k, err := d.Bind(license(t, d, licOpts{persistent: true}))
				require.NoError(t, err)
				defer k.Close()
				require.Equal(t, testKID, k.KID())
				checkCENC(t, k)
			})
			t.Run("non-persistent-needs-nonce", func(t *testing.T) {
				n, err := d.NewNonce()
				require.NoError(t, err)
				k, err := d.Bind(license(t, d, licOpts{rights: n}))
				require.NoError(t, err)
				k.Close()
				_, err = d.Bind(license(t, d, licOpts{rights: n}))
				require.ErrorIs(t, err, drm.ErrLicenseMismatch, "the bind consumed the nonce: a replay must not bind")
			})
			t.Run("tampered-signature", func(t *testing.T) {
				lic := license(t, d, licOpts{persistent: true})
				lic[len(lic)-1] ^= 0x01
				_, err := d.Bind(lic)
				require.ErrorIs(t, err, drm.ErrLicSignatureFailure)
			})
			t.Run("another-device", func(t *testing.T) {
				other := provision(t, openSoft(t), 3000)
				ok := other.EncryptionKey()
				_, err := d.Bind(license(t, d, licOpts{persistent: true, devKey: &ok}))
				require.ErrorIs(t, err, drm.ErrLicenseMismatch)
			})
			t.Run("security-level-too-low", func(t *testing.T) {
				low := provision(t, b, 2000)
				_, err := low.Bind(license(t, low, licOpts{persistent: true, minSL: 3000}))
				require.ErrorIs(t, err, drm.ErrDeviceSecurityLevelTooLow)
			})
			t.Run("unknown-must-understand", func(t *testing.T) {
				obj := xmr.NewLeaf(0x0001, 0x0100, []byte{1, 2, 3, 4})
				_, err := d.Bind(license(t, d, licOpts{persistent: true, extra: []*xmr.Object{obj}}))
				require.ErrorIs(t, err, drm.ErrInvalidLicense)
				require.ErrorIs(t, err, xmr.ErrUnknownObject)
			})
		})
	}
}

func openSoft(t *testing.T) *tee.Backend {
	b, err := tee.OpenBackend("soft")
	require.NoError(t, err)
	return b
}

func checkCENC(t *testing.T, k *tee.Key) {
	t.Helper()
	clearData := make([]byte, 5000)
	_, _ = rand.Read(clearData)
	iv := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	subs := []mp4.SubSamplePattern{{BytesOfClearData: 100, BytesOfProtectedData: 1600}, {BytesOfClearData: 7, BytesOfProtectedData: 3293}}
	enc := append([]byte(nil), clearData...)
	full := append(append([]byte(nil), iv...), make([]byte, 8)...)
	require.NoError(t, mp4.CryptSampleCenc(enc, testCK[:], full, subs))
	require.NotEqual(t, clearData, enc)
	var ts []tee.Subsample
	for _, s := range subs {
		ts = append(ts, tee.Subsample{Clear: uint32(s.BytesOfClearData), Protected: s.BytesOfProtectedData})
	}
	_, err := k.Enable(policy.Video, policy.StrategyBlock)
	require.NoError(t, err)
	require.NoError(t, k.DecryptCENC(enc, iv, ts))
	require.Equal(t, clearData, enc)
}

func TestCBCSMatchesMp4ff(t *testing.T) {
	b := openSoft(t)
	d := provision(t, b, 2000)
	k, err := d.Bind(license(t, d, licOpts{persistent: true, keyType: xmr.KeyTypeAESCBC}))
	require.NoError(t, err)
	_, err = k.Enable(policy.Video, policy.StrategyBlock)
	require.NoError(t, err)
	iv := make([]byte, 16)
	_, _ = rand.Read(iv)
	for _, pat := range []tee.Pattern{{Crypt: 1, Skip: 9}, {Crypt: 0, Skip: 0}, {Crypt: 2, Skip: 3}} {
		for _, size := range []int{15, 16, 170, 4099} {
			clearData := make([]byte, size)
			_, _ = rand.Read(clearData)
			enc := append([]byte(nil), clearData...)
			tenc := &mp4.TencBox{DefaultCryptByteBlock: pat.Crypt, DefaultSkipByteBlock: pat.Skip}
			subs := []mp4.SubSamplePattern{{BytesOfClearData: 5, BytesOfProtectedData: uint32(size - 5)}}
			require.NoError(t, mp4.EncryptSampleCbcs(enc, testCK[:], iv, subs, tenc))
			require.NoError(t, k.DecryptCBCS(enc, iv, []tee.Subsample{{Clear: 5, Protected: uint32(size - 5)}}, pat), "pattern %v size %d", pat, size)
			require.Equal(t, clearData, enc, "pattern %v size %d", pat, size)
		}
	}
	// A CBC key refuses cenc, and a closed key refuses everything.
	require.Error(t, k.DecryptCENC(make([]byte, 32), make([]byte, 8), nil))
	require.NoError(t, k.Close())
	require.Error(t, k.DecryptCBCS(make([]byte, 32), iv, nil, tee.Pattern{}))
}

func TestKeyNeverFormatsKeyBytes(t *testing.T) {
	d := provision(t, openSoft(t), 150)
	k, err := d.Bind(license(t, d, licOpts{persistent: true}))
	require.NoError(t, err)
	ck := hex.EncodeToString(testCK[:])
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q"} {
		s := fmt.Sprintf(verb, k)
		require.NotContains(t, strings.ToLower(s), ck, verb)
		require.NotContains(t, s, fmt.Sprint(testCK[0], " ", testCK[1]), verb)
		require.Contains(t, s, testKID.String(), verb)
	}
	err = fmt.Errorf("wrapped: %v", k)
	require.NotContains(t, err.Error(), ck)
	require.False(t, errors.Is(err, drm.ErrInvalidLicense))
}

func TestBackendURIs(t *testing.T) {
	u, err := tee.ResolveBackend("sim", rand.Reader)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(u, "sim:"))
	for _, bad := range []string{"tpm", "sim:x", "swtpmx"} {
		_, err := tee.ResolveBackend(bad, rand.Reader)
		require.ErrorIs(t, err, tee.ErrBackend, bad)
	}
	_, err = tee.OpenBackend("nope")
	require.ErrorIs(t, err, tee.ErrBackend)
}

func TestVerifyChecksum(t *testing.T) {
	d := provision(t, openSoft(t), 2000)
	k, err := d.Bind(license(t, d, licOpts{persistent: true}))
	require.NoError(t, err)
	// docs/formats/pro-header.md §8: KID 10000000-…-100000000001 with this key has CHECKSUM 5TzIYQ2hrOY=.
	good, _ := base64.StdEncoding.DecodeString("5TzIYQ2hrOY=")
	require.NoError(t, k.VerifyChecksum("AESCTR", good))
	require.NoError(t, k.VerifyChecksum("AESCBC", nil))
	bad := append([]byte(nil), good...)
	bad[0] ^= 1
	require.ErrorIs(t, k.VerifyChecksum("AESCTR", bad), drm.ErrLicenseMismatch)
}

func TestStateNeverFormatsKeys(t *testing.T) {
	d := provision(t, openSoft(t), 150)
	st := d.State()
	for _, verb := range []string{"%v", "%+v", "%#v", "%x", "%d", "%s"} {
		s := fmt.Sprintf(verb, st)
		require.NotContains(t, s, hex.EncodeToString(st.SignKey), verb)
		require.NotContains(t, s, fmt.Sprint(st.SignKey[0], " ", st.SignKey[1]), verb)
		require.Contains(t, s, "soft", verb)
	}
}

func TestTimeBasedLicenseNeedsAClock(t *testing.T) {
	d := provision(t, openSoft(t), 2000)
	sixty := uint32(60)
	for name, tw := range map[string]func(*xmr.Template){
		"expiration": func(m *xmr.Template) { m.Expiration = &xmr.Expiration{Begin: 1, End: 0xFFFFFFFF} },
		"end-date":   func(m *xmr.Template) { m.Expiration = &xmr.Expiration{End: 2000000000} },
		"first-play": func(m *xmr.Template) { m.ExpireAfterFirstPlay = &sixty },
		"real-time":  func(m *xmr.Template) { m.RealTimeExpiration = true },
	} {
		_, err := d.Bind(license(t, d, licOpts{persistent: true, tweak: tw}))
		require.ErrorIs(t, err, drm.ErrNoClkSupported, name)
	}
	// An unlimited expiration object is no time limit.
	k, err := d.Bind(license(t, d, licOpts{persistent: true, tweak: func(m *xmr.Template) {
		m.Expiration = &xmr.Expiration{Begin: 0, End: 0xFFFFFFFF}
	}}))
	require.NoError(t, err)
	k.Close()
}

func TestUnknownExtensibleRestrictionRefused(t *testing.T) {
	d := provision(t, openSoft(t), 2000)
	// Flags 0x1D: must-understand, allow-external-parse, best-effort, secure state (test-server extendedrestrictions).
	obj := xmr.NewLeaf(0x001D, 0x0400, []byte{2})
	_, err := d.Bind(license(t, d, licOpts{persistent: true, tweak: func(m *xmr.Template) { m.PlayExtra = []*xmr.Object{obj} }}))
	require.ErrorIs(t, err, drm.ErrExtendedRestrictionNotUnderstood)
}
