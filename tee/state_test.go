package tee_test

import (
	"encoding/binary"
	"errors"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/tee"
	"github.com/prsim/prsim/wire/bcert"
)

// requireMismatch checks that err is a state mismatch on field, carries no
// DRM code (it is the device's own files that are wrong) and says what
// differs.
func requireMismatch(t *testing.T, err error, field string, says ...string) {
	t.Helper()
	require.ErrorIs(t, err, tee.ErrStateMismatch)
	var me *tee.StateMismatchError
	require.True(t, errors.As(err, &me), "%v", err)
	require.Equal(t, field, me.Field)
	_, coded := drm.CodeOf(err)
	require.False(t, coded, "a state mismatch is not a DRM error: %v", err)
	for _, s := range says {
		require.Contains(t, err.Error(), s)
	}
}

// The attack: the REE raises the stored security level. The TEE's level is
// its certificate's, so Open refuses the edited state and names both values.
func TestOpenRefusesEditedSecurityLevel(t *testing.T) {
	b, err := tee.OpenBackend("soft")
	require.NoError(t, err)
	d := provision(t, b, 2000)
	for _, sl := range []uint32{3000, 99999, 150} {
		st := d.State()
		st.SecurityLevel = sl
		d2, err := tee.Open(b, st, nil)
		require.Nil(t, d2)
		requireMismatch(t, err, "security_level", "does not match the device certificate's 2000")
		require.Contains(t, err.Error(), "security_level "+strconv.FormatUint(uint64(sl), 10))
	}
}

// Binding compares the license minimum with the certificate's level: a
// state without the stored copy still opens as SL2000, binds an SL2000
// license and refuses an SL3000 one.
func TestBindUsesCertificateLevel(t *testing.T) {
	b, err := tee.OpenBackend("soft")
	require.NoError(t, err)
	st := provision(t, b, 2000).State()
	st.SecurityLevel = 0
	d, err := tee.Open(b, st, nil)
	require.NoError(t, err)
	require.Equal(t, uint32(2000), d.SecurityLevel())
	require.Equal(t, uint32(2000), d.Persona().SecurityLevel)
	require.Equal(t, uint32(2000), d.State().SecurityLevel, "the copy is refilled from the certificate")

	k, err := d.Bind(license(t, d, licOpts{persistent: true, minSL: 2000}))
	require.NoError(t, err)
	require.NoError(t, k.Close())
	_, err = d.Bind(license(t, d, licOpts{persistent: true, minSL: 3000}))
	require.ErrorIs(t, err, drm.ErrDeviceSecurityLevelTooLow)
	require.Contains(t, err.Error(), "3000 is above the device's 2000")
}

// A chain from another device names other keys than the blobs: refused,
// even though it is a valid chain of the same PKI (and of a higher level).
func TestOpenRefusesAnotherDevicesChain(t *testing.T) {
	b, err := tee.OpenBackend("soft")
	require.NoError(t, err)
	low := provision(t, b, 2000)
	high := provision(t, b, 3000)
	st := low.State()
	st.Chain = high.Chain()
	st.SecurityLevel = 3000
	d, err := tee.Open(b, st, nil)
	require.Nil(t, d)
	requireMismatch(t, err, "chain", "not the device keys this TEE holds")
}

// A chain whose leaf level was edited in place no longer verifies; so does
// a cut one.
func TestOpenRefusesEditedChain(t *testing.T) {
	b, err := tee.OpenBackend("soft")
	require.NoError(t, err)
	d := provision(t, b, 2000)

	st := d.State()
	// The leaf's BASIC security level is the u32 at byte 60 of the CHAI blob
	// (docs/formats/bcert.md §6).
	require.Equal(t, uint32(2000), binary.BigEndian.Uint32(st.Chain[60:]))
	binary.BigEndian.PutUint32(st.Chain[60:], 3000)
	st.SecurityLevel = 3000
	d2, err := tee.Open(b, st, nil)
	require.Nil(t, d2)
	requireMismatch(t, err, "chain", "does not verify")

	st = d.State()
	st.Chain = st.Chain[:len(st.Chain)/2]
	_, err = tee.Open(b, st, nil)
	requireMismatch(t, err, "chain", "malformed")
}

// The leaf records the PlayReady version in SECURITY_VERSION, so the
// persona comes from the certificate too.
func TestPersonaFromCertificate(t *testing.T) {
	b, err := tee.OpenBackend("soft")
	require.NoError(t, err)
	req, err := getFixture().ProvisionRequest(3000, "4.3")
	require.NoError(t, err)
	d, err := tee.Provision(b, req)
	require.NoError(t, err)
	p := d.Persona()
	require.Equal(t, tee.Persona{SecurityLevel: 3000, Features: []uint32{bcert.FeatureSupportsCRLs, bcert.FeaturePR3}, Version: "4.3"}, p)
	chain, err := bcert.ParseChain(d.Chain())
	require.NoError(t, err)
	sv, ok := chain.Leaf().SecurityVersion()
	require.True(t, ok)
	require.Equal(t, [2]uint32{0x04030000, 0xFFFFFFFF}, sv)
	require.Equal(t, getFixture().PKI.Root, d.RootIssuer())

	p.Features[0] = 99
	require.Equal(t, uint32(bcert.FeatureSupportsCRLs), d.Persona().Features[0], "Persona returns a copy")

	for _, bad := range []string{"4", "4.x", "256.0", "-1.0", "4.5.1"} {
		req.Version = bad
		d, err := tee.Provision(b, req)
		require.Nil(t, d)
		require.Error(t, err, bad)
	}
}

// FuzzOpenChain: the chain comes from device.json, which the REE can edit.
// Whatever it holds, Open never panics, fails only with a state mismatch
// (and a nil device), and a device it opens is at its leaf's level with the
// leaf naming exactly the keys the TEE holds.
func FuzzOpenChain(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/fuzz/FuzzOpenChain/*")
	if len(seeds) == 0 {
		f.Fatal("no committed seeds under testdata/fuzz/FuzzOpenChain")
	}
	b, err := tee.OpenBackend("soft")
	require.NoError(f, err)
	d, err := getFixture().ProvisionTEE(b, 2000, "4.5")
	require.NoError(f, err)
	f.Add(d.Chain()) // the valid chain, so that the fuzzer starts from the accepted path too
	base := d.State()
	f.Fuzz(func(t *testing.T, chain []byte) {
		st := base
		st.Chain = chain
		got, err := tee.Open(b, st, nil)
		if err != nil {
			require.Nil(t, got)
			require.ErrorIs(t, err, tee.ErrStateMismatch)
			return
		}
		require.Equal(t, uint32(2000), got.SecurityLevel())
		c, err := bcert.ParseChain(got.Chain())
		require.NoError(t, err)
		require.Equal(t, uint32(2000), c.Leaf().Basic().SecurityLevel)
		k, ok := c.Leaf().KeyWithUsage(bcert.KeyUsageEncryptKey)
		require.True(t, ok)
		require.Equal(t, d.EncryptionKey(), k)
	})
}
